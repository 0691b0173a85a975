"""H.264 headers for the index rebuild: avcC, SPS, PPS, slice headers, picture order.

Just the syntax needed to tell a real NAL unit from audio bytes, to cut NAL
units into pictures (a slice with first_mb_in_slice == 0 starts one) and to
compute each picture's order count (ITU-T H.264 8.2.1), which is what puts
B-frames back in display order. POC type 1 and interlaced (field) coding are
refused rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.repair.bits import BitReader, BitstreamError, unescape
from core.repair.nal import NalInfo, sei_well_formed

# profile_idc values whose SPS carries chroma_format_idc and bit depths (7.3.2.1.1)
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
_SLICE_TYPES_I = {2, 4, 7, 9}  # I and SI, with and without the "all slices" offset


class Unsupported(ValueError):
    """A valid stream this rebuild does not handle (POC type 1, field coding, slice groups)."""


@dataclass(frozen=True)
class Sps:
    id: int
    profile_idc: int
    level_idc: int
    chroma_format_idc: int
    separate_colour_plane: bool
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    frame_mbs_only: bool
    width_mbs: int
    height_map_units: int

    @property
    def pic_size_in_mbs(self) -> int:
        return self.width_mbs * self.height_map_units * (1 if self.frame_mbs_only else 2)


@dataclass(frozen=True)
class Pps:
    id: int
    sps_id: int
    bottom_field_pic_order_present: bool


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def parse_sps(nal: bytes) -> Sps:
    r = BitReader(unescape(nal[1:]))
    profile = r.u(8)
    r.skip(8)  # constraint flags
    level = r.u(8)
    sps_id = r.ue()
    chroma, separate = 1, False
    if profile in _HIGH_PROFILES:
        chroma = r.ue()
        if chroma == 3:
            separate = r.flag()
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.flag():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    log2_max_frame_num = r.ue() + 4
    poc_type = r.ue()
    log2_max_poc_lsb = 0
    if poc_type == 0:
        log2_max_poc_lsb = r.ue() + 4
    elif poc_type == 1:
        raise Unsupported("H.264 picture order count type 1")
    elif poc_type != 2:
        raise BitstreamError(f"pic_order_cnt_type {poc_type}")
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width = r.ue() + 1
    height = r.ue() + 1
    frame_mbs_only = r.flag()
    if sps_id > 31 or log2_max_frame_num > 16 or log2_max_poc_lsb > 16:
        raise BitstreamError("SPS field out of range")
    return Sps(sps_id, profile, level, chroma, separate, log2_max_frame_num, poc_type,
               log2_max_poc_lsb, frame_mbs_only, width, height)


def parse_pps(nal: bytes) -> Pps:
    r = BitReader(unescape(nal[1:]))
    pps_id = r.ue()
    sps_id = r.ue()
    r.skip(1)  # entropy_coding_mode_flag
    bottom = r.flag()
    if r.ue() != 0:
        raise Unsupported("H.264 slice groups (FMO)")
    if pps_id > 255 or sps_id > 31:
        raise BitstreamError("PPS id out of range")
    return Pps(pps_id, sps_id, bottom)


@dataclass
class AvcConfig:
    """The decoder configuration of an `avcC` box: NAL length size and parameter sets."""

    length_size: int
    profile_idc: int
    level_idc: int
    sps: dict[int, Sps]
    pps: dict[int, Pps]

    @classmethod
    def from_extradata(cls, data: bytes) -> AvcConfig:
        if len(data) < 7 or data[0] != 1:
            raise BitstreamError("not an avcC record (Annex B extradata?)")
        length_size = (data[4] & 3) + 1
        if length_size == 3:
            raise BitstreamError("NAL length size 3 is not allowed")
        i = 6
        sps: dict[int, Sps] = {}
        for _ in range(data[5] & 0x1F):
            n = int.from_bytes(data[i:i + 2], "big")
            s = parse_sps(data[i + 2:i + 2 + n])
            sps[s.id] = s
            i += 2 + n
        pps: dict[int, Pps] = {}
        count = data[i] if i < len(data) else 0
        i += 1
        for _ in range(count):
            n = int.from_bytes(data[i:i + 2], "big")
            p = parse_pps(data[i + 2:i + 2 + n])
            if p.sps_id in sps:
                pps[p.id] = p
            i += 2 + n
        if not sps or not pps:
            raise BitstreamError("avcC holds no usable SPS/PPS")
        first = next(iter(sps.values()))
        return cls(length_size, first.profile_idc, first.level_idc, sps, pps)

    @property
    def width_height_mbs(self) -> tuple[int, int]:
        s = next(iter(self.sps.values()))
        return s.width_mbs, s.height_map_units * (1 if s.frame_mbs_only else 2)

    # -- one NAL unit ------------------------------------------------------------------------
    def parse_nal(self, head: bytes, length: int) -> NalInfo | None:
        """`head`: the NAL unit's first bytes (all of it for non-VCL units); None: not ours."""
        if not head:
            return None
        b0 = head[0]
        if b0 & 0x80:
            return None  # forbidden_zero_bit
        ref_idc, t = (b0 >> 5) & 3, b0 & 0x1F
        try:
            if t in (1, 5):
                return self._slice(head, t, ref_idc)
            if len(head) < length:
                return None  # a non-VCL unit must be read whole to be believed
            if t == 6:  # SEI
                return NalInfo(t, False, starts_au=True) if ref_idc == 0 and sei_well_formed(
                    unescape(head), 1) else None
            if t == 7:
                s = parse_sps(head)
                return NalInfo(t, False, starts_au=True) if ref_idc and s.id in self.sps else None
            if t == 8:
                p = parse_pps(head)
                return NalInfo(t, False, starts_au=True) if ref_idc and p.id in self.pps else None
            if t == 9:  # access unit delimiter: primary_pic_type(3) + stop bit
                return NalInfo(t, False, starts_au=True) if length == 2 and ref_idc == 0 and (
                    head[1] & 0x1F) == 0x10 else None
            if t in (10, 11):  # end of sequence / stream
                return NalInfo(t, False, end_of_sequence=True) if length == 1 and ref_idc == 0 else None
            if t == 12:  # filler data: 0xFF… then 0x80
                body = head[1:]
                return NalInfo(t, False) if ref_idc == 0 and body and body[-1] == 0x80 and all(
                    x == 0xFF for x in body[:-1]) else None
        except (BitstreamError, Unsupported):
            return None
        return None

    def _slice(self, head: bytes, t: int, ref_idc: int) -> NalInfo | None:
        idr = t == 5
        if idr and ref_idc == 0:
            return None
        r = BitReader(unescape(head[1:]))
        first_mb = r.ue()
        slice_type = r.ue()
        pps = self.pps.get(r.ue())
        if pps is None or slice_type > 9 or (idr and slice_type not in _SLICE_TYPES_I):
            return None
        sps = self.sps[pps.sps_id]
        if first_mb >= sps.pic_size_in_mbs:
            return None
        if sps.separate_colour_plane:
            r.skip(2)
        frame_num = r.u(sps.log2_max_frame_num)
        if not sps.frame_mbs_only and r.flag():  # field_pic_flag
            raise Unsupported("H.264 field pictures")
        if idr:
            if frame_num != 0:
                return None
            if r.ue() > 65535:  # idr_pic_id
                return None
        lsb = delta = 0
        if sps.poc_type == 0:
            lsb = r.u(sps.log2_max_poc_lsb)
            if pps.bottom_field_pic_order_present:
                delta = r.se()
        return NalInfo(t, True, first_in_pic=first_mb == 0, keyframe=idr, idr=idr,
                       reference=ref_idc != 0, frame_num=frame_num, poc_lsb=lsb,
                       poc_delta_bottom=delta)

    def continues(self, prev: NalInfo | None, info: NalInfo) -> bool:
        """Could picture `info` follow picture `prev` in this stream (frame_num continuity)?

        Used only to confirm a landmark found after skipping non-video bytes: a
        real next picture has frame_num equal to (reference pictures: one more
        than) the previous one, or starts a new sequence.
        """
        if prev is None or info.idr:
            return True
        sps = next(iter(self.sps.values()))
        mod = 1 << sps.log2_max_frame_num
        step = (info.frame_num - prev.frame_num) % mod
        return step in (0, 1)


class PocCounter:
    """Picture order counts in decode order (H.264 8.2.1.1 for type 0, 8.2.1.3 for type 2)."""

    def __init__(self, config: AvcConfig):
        self.sps = next(iter(config.sps.values()))
        self.prev_msb = 0
        self.prev_lsb = 0
        self.prev_frame_num = 0
        self.frame_num_offset = 0

    def poc(self, info: NalInfo) -> int:
        s = self.sps
        if s.poc_type == 0:
            if info.idr:
                self.prev_msb = self.prev_lsb = 0
            max_lsb = 1 << s.log2_max_poc_lsb
            lsb = info.poc_lsb
            if lsb < self.prev_lsb and self.prev_lsb - lsb >= max_lsb // 2:
                msb = self.prev_msb + max_lsb
            elif lsb > self.prev_lsb and lsb - self.prev_lsb > max_lsb // 2:
                msb = self.prev_msb - max_lsb
            else:
                msb = self.prev_msb
            top = msb + lsb
            poc = min(top, top + info.poc_delta_bottom)
            if info.reference:
                self.prev_msb, self.prev_lsb = msb, lsb
            return poc
        # type 2: output order is decode order
        if info.idr:
            self.frame_num_offset = 0
        elif self.prev_frame_num > info.frame_num:
            self.frame_num_offset += 1 << s.log2_max_frame_num
        self.prev_frame_num = info.frame_num
        if info.idr:
            return 0
        return 2 * (self.frame_num_offset + info.frame_num) - (0 if info.reference else 1)
