"""HEVC headers for the index rebuild: hvcC, SPS, PPS, slice segment headers, picture order.

The HEVC counterpart of `core.repair.h264`: enough of ITU-T H.265 to validate
a NAL unit, find the first slice segment of each picture
(first_slice_segment_in_pic_flag) and compute its picture order count
(8.3.1), so pictures can be put back in display order.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.repair.bits import BitReader, BitstreamError, unescape
from core.repair.h264 import Unsupported
from core.repair.nal import NalInfo, sei_well_formed

VPS, SPS, PPS, AUD, EOS, EOB, FD, PREFIX_SEI, SUFFIX_SEI = range(32, 41)
IDR_W_RADL, IDR_N_LP, CRA = 19, 20, 21
_VCL = set(range(0, 10)) | set(range(16, 22))
_SLNR = {0, 2, 4, 6, 8, 10, 12, 14}  # sub-layer non-reference pictures
_RADL_RASL = {6, 7, 8, 9}


@dataclass(frozen=True)
class Sps:
    id: int
    separate_colour_plane: bool
    log2_max_poc_lsb: int
    pic_size_in_ctbs: int


@dataclass(frozen=True)
class Pps:
    id: int
    sps_id: int
    dependent_slices: bool
    output_flag_present: bool
    extra_slice_header_bits: int


def _skip_profile_tier_level(r: BitReader, max_sub_layers_minus1: int) -> None:
    r.skip(88)  # general profile space/tier/idc, compatibility flags, constraint flags
    r.skip(8)  # general_level_idc
    present = [(r.flag(), r.flag()) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.skip(2 * (8 - max_sub_layers_minus1))
    for profile, level in present:
        if profile:
            r.skip(88)
        if level:
            r.skip(8)


def parse_sps(nal: bytes) -> Sps:
    r = BitReader(unescape(nal[2:]))
    r.skip(4)  # sps_video_parameter_set_id
    max_sub = r.u(3)
    r.skip(1)
    _skip_profile_tier_level(r, max_sub)
    sps_id = r.ue()
    chroma = r.ue()
    separate = r.flag() if chroma == 3 else False
    width = r.ue()
    height = r.ue()
    if r.flag():  # conformance_window_flag
        for _ in range(4):
            r.ue()
    r.ue()  # bit_depth_luma_minus8
    r.ue()  # bit_depth_chroma_minus8
    log2_max_poc_lsb = r.ue() + 4
    ordering_all = r.flag()
    for _ in range(0 if ordering_all else max_sub, max_sub + 1):
        r.ue()
        r.ue()
        r.ue()
    log2_min_cb = r.ue() + 3
    log2_ctb = log2_min_cb + r.ue()
    if sps_id > 15 or log2_max_poc_lsb > 16 or not 4 <= log2_ctb <= 6 or not width or not height:
        raise BitstreamError("SPS field out of range")
    ctb = 1 << log2_ctb
    ctbs = (-(-width // ctb)) * (-(-height // ctb))
    return Sps(sps_id, separate, log2_max_poc_lsb, ctbs)


def parse_pps(nal: bytes) -> Pps:
    r = BitReader(unescape(nal[2:]))
    pps_id = r.ue()
    sps_id = r.ue()
    dependent = r.flag()
    output_flag = r.flag()
    extra = r.u(3)
    if pps_id > 63 or sps_id > 15:
        raise BitstreamError("PPS id out of range")
    return Pps(pps_id, sps_id, dependent, output_flag, extra)


@dataclass
class HevcConfig:
    """The decoder configuration of an `hvcC` box."""

    length_size: int
    profile_idc: int
    level_idc: int
    sps: dict[int, Sps]
    pps: dict[int, Pps]

    @classmethod
    def from_extradata(cls, data: bytes) -> HevcConfig:
        if len(data) < 23 or data[0] != 1:
            raise BitstreamError("not an hvcC record")
        profile = data[1] & 0x1F
        level = data[12]
        length_size = (data[21] & 3) + 1
        if length_size == 3:
            raise BitstreamError("NAL length size 3 is not allowed")
        i = 23
        sps: dict[int, Sps] = {}
        pps_list: list[Pps] = []
        for _ in range(data[22]):
            t = data[i] & 0x3F
            count = int.from_bytes(data[i + 1:i + 3], "big")
            i += 3
            for _ in range(count):
                n = int.from_bytes(data[i:i + 2], "big")
                nal = data[i + 2:i + 2 + n]
                if t == SPS:
                    s = parse_sps(nal)
                    sps[s.id] = s
                elif t == PPS:
                    pps_list.append(parse_pps(nal))
                i += 2 + n
        pps = {p.id: p for p in pps_list if p.sps_id in sps}
        if not sps or not pps:
            raise BitstreamError("hvcC holds no usable SPS/PPS")
        return cls(length_size, profile, level, sps, pps)

    def parse_nal(self, head: bytes, length: int) -> NalInfo | None:
        if len(head) < 2 or length < 2:
            return None
        b0, b1 = head[0], head[1]
        t = (b0 >> 1) & 0x3F
        layer = ((b0 & 1) << 5) | (b1 >> 3)
        tid = (b1 & 7) - 1
        if b0 & 0x80 or layer != 0 or tid < 0:
            return None
        try:
            if t in _VCL:
                return self._slice(head, t, tid)
            if len(head) < length:
                return None
            if t in (PREFIX_SEI, SUFFIX_SEI):
                return NalInfo(t, False, starts_au=t == PREFIX_SEI, temporal_id=tid) if sei_well_formed(
                    unescape(head), 2) else None
            if t == VPS:
                return NalInfo(t, False, starts_au=True) if tid == 0 else None
            if t == SPS:
                return NalInfo(t, False, starts_au=True) if parse_sps(head).id in self.sps else None
            if t == PPS:
                return NalInfo(t, False, starts_au=True) if parse_pps(head).id in self.pps else None
            if t == AUD:
                return NalInfo(t, False, starts_au=True) if length == 3 and (head[2] & 0x1F) == 0x10 else None
            if t in (EOS, EOB):
                return NalInfo(t, False, end_of_sequence=True) if length == 2 else None
            if t == FD:
                body = head[2:]
                return NalInfo(t, False) if body and body[-1] == 0x80 and all(
                    x == 0xFF for x in body[:-1]) else None
        except (BitstreamError, Unsupported):
            return None
        return None

    def _slice(self, head: bytes, t: int, tid: int) -> NalInfo | None:
        irap = 16 <= t <= 23
        if irap and tid != 0:
            return None
        r = BitReader(unescape(head[2:]))
        first = r.flag()
        if irap:
            r.skip(1)  # no_output_of_prior_pics_flag
        pps = self.pps.get(r.ue())
        if pps is None:
            return None
        sps = self.sps[pps.sps_id]
        lsb = 0
        if first:
            r.skip(pps.extra_slice_header_bits)
            if r.ue() > 2:  # slice_type B, P, I
                return None
            if pps.output_flag_present:
                r.skip(1)
            if sps.separate_colour_plane:
                r.skip(2)
            if t not in (IDR_W_RADL, IDR_N_LP):
                lsb = r.u(sps.log2_max_poc_lsb)
        else:
            if pps.dependent_slices:
                r.skip(1)
            bits = max(1, (sps.pic_size_in_ctbs - 1).bit_length())
            if r.u(bits) >= sps.pic_size_in_ctbs:
                return None
        return NalInfo(t, True, first_in_pic=first, keyframe=irap, idr=t in (16, 17, 18, 19, 20),
                       reference=t not in _SLNR, poc_lsb=lsb, temporal_id=tid, rasl=t in (8, 9))

    def continues(self, prev: NalInfo | None, info: NalInfo) -> bool:
        """HEVC carries no frame_num; a landmark after skipped bytes must be a whole picture's start."""
        return info.first_in_pic


class PocCounter:
    """HEVC picture order counts in decode order (8.3.1)."""

    def __init__(self, config: HevcConfig):
        self.sps = next(iter(config.sps.values()))
        self.prev_msb = 0
        self.prev_lsb = 0
        self.no_rasl_output = True  # the first picture, or the first after an end of sequence
        self.cvs_starts_with_cra = False

    def poc(self, info: NalInfo) -> int:
        max_lsb = 1 << self.sps.log2_max_poc_lsb
        irap = info.keyframe
        if irap:
            self.cvs_starts_with_cra = self.no_rasl_output and info.type == CRA
        reset = irap and (info.idr or self.no_rasl_output)
        if irap:
            self.no_rasl_output = False
        if info.type in (IDR_W_RADL, IDR_N_LP):
            msb, lsb = 0, 0
        elif reset:
            msb, lsb = 0, info.poc_lsb
        else:
            lsb = info.poc_lsb
            if lsb < self.prev_lsb and self.prev_lsb - lsb >= max_lsb // 2:
                msb = self.prev_msb + max_lsb
            elif lsb > self.prev_lsb and lsb - self.prev_lsb > max_lsb // 2:
                msb = self.prev_msb - max_lsb
            else:
                msb = self.prev_msb
        if info.temporal_id == 0 and info.type not in _SLNR and info.type not in _RADL_RASL:
            self.prev_msb, self.prev_lsb = msb, lsb
        return msb + lsb

    def starts_sequence(self, info: NalInfo) -> bool:
        """Does this picture start a new coded video sequence (picture order restarts)?"""
        return info.keyframe and (info.idr or self.no_rasl_output)

    def undecodable(self, info: NalInfo) -> bool:
        """A RASL picture of a CRA that starts the stream: it refers to pictures that are not there."""
        return info.rasl and self.cvs_starts_with_cra

    def end_of_sequence(self) -> None:
        self.no_rasl_output = True
