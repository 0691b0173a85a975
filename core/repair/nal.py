"""What the index rebuild needs to know about one NAL unit, whatever the codec.

`core.repair.h264` and `core.repair.hevc` turn the first bytes of a NAL unit
into a `NalInfo` (or None when the bytes cannot be a NAL unit of that stream);
`core.repair.rebuild_index` cuts the units into access units and orders them
for display from these fields alone.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bytes of a VCL NAL unit read to parse its slice header: the header fields up
# to the picture order count fit in far fewer, even with emulation prevention.
SLICE_HEAD_BYTES = 64
# Non-VCL units (parameter sets, SEI, delimiters) are read whole to validate
# them; the largest real one is x264's option string (~1 KB).
MAX_NON_VCL_BYTES = 1 << 16


@dataclass(frozen=True)
class NalInfo:
    """One NAL unit, as far as cutting and ordering pictures is concerned."""

    type: int
    vcl: bool
    first_in_pic: bool = False  # VCL: the first slice (segment) of a picture
    starts_au: bool = False  # non-VCL that may only precede a picture (AUD, SPS, PPS, prefix SEI)
    keyframe: bool = False  # decoding can start here (IDR / IRAP)
    idr: bool = False  # picture order count restarts here (a new coded video sequence)
    reference: bool = True  # H.264 nal_ref_idc != 0 / HEVC: not a sub-layer non-reference picture
    frame_num: int = 0  # H.264 only
    poc_lsb: int = 0
    poc_delta_bottom: int = 0
    temporal_id: int = 0  # HEVC only
    rasl: bool = False  # HEVC: leading picture that needs the previous GOP
    end_of_sequence: bool = False


def sei_well_formed(rbsp: bytes, header_bytes: int) -> bool:
    """Does an SEI RBSP parse as a sequence of sei_message()s ending in trailing bits?

    Random bytes almost never do, which is what makes an SEI a trustworthy
    landmark when looking for video among audio chunks.
    """
    n = len(rbsp)
    while n > header_bytes and rbsp[n - 1] == 0:
        n -= 1  # cabac_zero_words after the stop bit
    end = n - 1  # SEI payloads are byte-aligned: the last byte is exactly 0x80
    if end <= header_bytes or rbsp[end] != 0x80:
        return False
    i, messages = header_bytes, 0
    while i < end:
        ptype = psize = 0
        while i < end and rbsp[i] == 0xFF:
            ptype += 255
            i += 1
        if i >= end:
            return False
        ptype += rbsp[i]
        i += 1
        while i < end and rbsp[i] == 0xFF:
            psize += 255
            i += 1
        if i >= end:
            return False
        psize += rbsp[i]
        i += 1 + psize
        if ptype > 1023 or i > end:
            return False
        messages += 1
    return messages > 0 and i == end
