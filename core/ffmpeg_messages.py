"""What FFmpeg's messages mean: the classification table that explains a verdict.

Messages explain; they do not decide. The verdict comes from measuring the
pictures (`core.sampling.assess`): a message that means lost data only names
the loss the measurement found, and one that means nothing is shown without
costing the clip anything. Still, the table matters twice: it picks the reason
code a user sees, and at `standard` a message that can mean lost video data
(`loss=True`) makes the check measure everything (`full`) instead of trusting
its sample.

Every entry is FFmpeg's own format string, copied from the demuxer or decoder
that prints it (mov, matroska, mpegts, avi, flv, ogg; h264, hevc, mpeg4, vp9,
av1) and checked against the strings of the FFmpeg build PyAV bundles
(`tests/test_ffmpeg_messages.py`). Its pattern is derived from the format
string, so the entry and the message cannot drift apart. A message no entry
knows is `unclassified_message`: shown, listed as its own reason, and measured
fully — neither silently cosmetic nor counted as damage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

# Codes a message can carry. `None`: harmless, shown with the file's messages, no reason code.
HARMLESS = None
UNCLASSIFIED = "unclassified_message"


@dataclass(frozen=True)
class MessageRule:
    components: tuple[str, ...]  # FFmpeg log context names it applies to; () = any
    source: str  # the format string as FFmpeg's source has it
    code: str | None  # the reason code it explains (None: harmless)
    loss: bool  # can mean lost video data: `standard` measures fully when it appears
    why: str

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.source)


_SPEC = re.compile(r"%%|%[-+ 0#]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|t|j|L)?[diouxXcsfgeEpa]")


@cache
def _compile(fmt: str) -> re.Pattern[str]:
    """A printf format string as a regex: each conversion matches any text.

    Spaces match any run of whitespace, or none: a message is compared with its
    whitespace folded, and a conversion that printed nothing ("%s is not
    implemented" with an empty %s) leaves the line starting at the space after it.
    """

    def literal(text: str) -> str:
        return r"\s*".join(re.escape(part) for part in text.split(" "))

    out, pos = [], 0
    for m in _SPEC.finditer(fmt):
        out.append(literal(fmt[pos:m.start()]))
        out.append("%" if m.group() == "%%" else ".*?")
        pos = m.end()
    out.append(literal(fmt[pos:].rstrip()))
    return re.compile("".join(out))


MOV = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2")
MKV = ("matroska", "webm")
TS = ("mpegts",)
AVI = ("avi",)
FLV = ("flv", "live_flv")
OGG = ("ogg",)
H264 = ("h264",)
HEVC = ("hevc",)
MPEG4 = ("mpeg4", "h263", "msmpeg4", "msmpeg4v2", "msmpeg4v3")
VP9 = ("vp9", "libvpx-vp9")
AV1 = ("av1", "libdav1d", "libaom-av1")
VIDEO = H264 + HEVC + MPEG4 + VP9 + AV1 + ("mpeg2video", "mpeg1video", "vp8", "theora", "mjpeg")

R = MessageRule
RULES: tuple[MessageRule, ...] = (
    # --- fatal / named conditions -------------------------------------------------------------
    R(MOV, "moov atom not found", "moov_missing", True, "no index: nothing can be located"),
    R(MOV, "Referenced QT chapter track not found", "chapter_ref_missing", False,
      "a dangling chapter reference; the pictures are untouched"),
    # --- mov / mp4 ------------------------------------------------------------------------------
    R(MOV, "stream %d, offset 0x%lx: partial file", "truncated", True, "a sample lies past the end of the file"),
    R(MOV, "root atom offset 0x%lx: partial file", "truncated", True, "a top-level box runs past the end"),
    R((), "Packet corrupt (stream = %d, dts = %s)%s.", "truncated", True,
      "a packet was read short; at the end a cut file, in the middle lost data (measurement says which)"),
    R(MOV, "STSC entry %d is invalid (first=%d count=%d id=%d)", "sample_table_broken", True,
      "sample-to-chunk table broken: samples are located wrongly"),
    R(MOV, "STSZ sample size %d invalid (too large), ignoring", "sample_table_broken", True,
      "sample size table broken"),
    R(MOV, "STSZ sample size %d invalid (too small), ignoring", "sample_table_broken", True,
      "sample size table broken"),
    R(MOV, "Current offset %ld or sample size %u is too large", "sample_table_broken", True,
      "chunk offsets impossible for this file"),
    R(MOV, "Too large sample offset %u in stts entry %u with count %u in st:%d. Clipping to 1.", "timestamps",
      False, "timing table oddity; samples still located"),
    R(MOV, "Invalid edit list entry_count: %d for elst atom of size: %ld bytes.", "timestamps", False,
      "edit list ignored; timing only"),
    R(MOV, "Track %d, edit %d: Invalid edit list media time=%ld", "timestamps", False, "edit list timing"),
    R(MOV, "Track %d, edit %d: Invalid edit list duration=%ld", "timestamps", False, "edit list timing"),
    R(MOV, "multiple edit list entries, Use -advanced_editlist to correctly decode otherwise a/v desync might occur",
      "timestamps", False, "a/v sync hint"),
    R(MOV, "Found duplicated MOOV Atom. Skipped it", "container_warning", False, "second index ignored"),
    R(MOV, "Ignoring duplicated STSC atom", "container_warning", False, "duplicate table ignored"),
    R(MOV, "Ignoring duplicated STCO atom", "container_warning", False, "duplicate table ignored"),
    R(MOV, "Unknown dref type 0x%08x size %u", "container_warning", False, "data reference type unknown"),
    R(MOV, "stream %d, timescale not set", "container_warning", False,
      "a track without a clock (cover art, timecode); its own, not the video's"),
    R(MOV, "STSC outside TRAK", "sample_table_broken", True, "index box out of place"),
    R(MOV, "STCO outside TRAK", "sample_table_broken", True, "index box out of place"),
    # --- matroska / webm --------------------------------------------------------------------
    R(MKV, "0x00 at pos %ld (0x%lx) invalid as first byte of an EBML number", "sample_table_broken", True,
      "invalid EBML bytes: the element structure is broken here (often zero-filled data)"),
    R(MKV, "Length %d indicated by an EBML number's first byte 0x%02x at pos %ld (0x%lx) exceeds max length %d.",
      "sample_table_broken", True, "invalid EBML length: structure broken"),
    R(MKV, "Element at 0x%lx ending at 0x%lx exceeds containing master element ending at 0x%lx",
      "sample_table_broken", True, "elements overlap: structure broken"),
    R(MKV, "Read error at pos. %lu (0x%lx)", "truncated", True, "reading failed: cut or broken file"),
    R(MKV, "File ended prematurely at pos. %lu (0x%lx)", "truncated", True, "the file is cut"),
    R(MKV, "Invalid track number %lu", "container_warning", True, "a block names a track that does not exist"),
    R(MKV, "Found unknown-length element 0x%X other than a cluster at 0x%lx. "
      "Spec-incompliant, but parsing will nevertheless be attempted.", "container_warning", False,
      "a live-written file"),
    R(MKV, "Unknown EBML doctype '%s'", "container_warning", False, "unusual doctype; parsed anyway"),
    # --- mpegts -----------------------------------------------------------------------------
    R(TS, "PES packet size mismatch", "frames_missing", True, "a PES packet lost bytes"),
    R(TS, "Continuity check failed for pid %d expected %d got %d", "frames_missing", True,
      "transport packets were lost"),
    R(TS, "max resync size reached, could not find sync byte", "frames_missing", True,
      "the demuxer could not resynchronise: data lost"),
    R(TS, "expected non empty signaled PES packet, trying to recover", "frames_missing", True, "a PES packet lost"),
    R(TS, "Forcing DTS/PTS to be unset for a non-trustworthy PES packet for PID %d as PCR hasn't been received yet.",
      "timestamps", False, "timing only"),
    R(TS, "DTS discontinuity in stream %d: packet %d with DTS %ld, packet %d with DTS %ld", "timestamps", True,
      "a time jump: maybe a splice, maybe lost data"),
    # --- avi --------------------------------------------------------------------------------
    R(AVI, "ODML index invalid", "sample_table_broken", True, "the OpenDML index is broken"),
    R(AVI, "Too deeply nested ODML indexes", "sample_table_broken", True, "the OpenDML index is broken"),
    R(AVI, "Non-interleaved AVI without index, switching to interleaved", "sample_table_broken", True,
      "the index is gone; frames are found by reading"),
    R(AVI, "Failed to restore position after reading index", "sample_table_broken", True, "index unreadable"),
    R(AVI, "Invalid size (%u) LIST in index", "sample_table_broken", True, "index entry broken"),
    R(AVI, "Stream ends prematurely at %lu, should be %lu", "truncated", True, "the file is cut"),
    R(AVI, "File ended prematurely", "truncated", True, "the file is cut"),
    # --- flv --------------------------------------------------------------------------------
    R(FLV, "premature end of file while reading INFO tag", "truncated", True, "the file is cut"),
    # --- ogg --------------------------------------------------------------------------------
    R(OGG, "CRC mismatch!", "frames_missing", True, "a page failed its checksum: its packets are dropped"),
    # --- any demuxer --------------------------------------------------------------------------
    R((), "stream %d : no PTS found at end of file, duration not set", "timestamps", False, "timing only"),
    R((), "Could not find codec parameters for stream %d (%s): %s", HARMLESS, False,
      "FFmpeg's probe gave up early; the measurement decides"),
    R((), "Consider increasing the value for the 'analyzeduration' (%ld) and 'probesize' (%ld) options",
      HARMLESS, False, "probe hint"),
    R((), "Format %s detected only with low score of %d, misdetection possible!", HARMLESS, False,
      "the bytes barely look like this format (garbage usually)"),
    R((), "decoding for stream %d failed", HARMLESS, False, "probe hint"),
    R((), "Invalid timestamps stream=%d, pts=%s, dts=%s, size=%d", "timestamps", False, "timing only"),
    R((), "Application provided invalid, non monotonically increasing dts to muxer in stream %d: %s >= %s",
      "timestamps", False, "timing only"),
    # --- h264 -------------------------------------------------------------------------------
    R(H264, "Increasing reorder buffer to %d", HARMLESS, False, "the decoder adapts its delay; nothing lost"),
    R(H264, "non-existing SPS %d referenced in buffering period", HARMLESS, False,
      "an HRD timing SEI names a missing SPS; pictures unaffected"),
    R(H264, "SEI type %d size %d truncated at %d", HARMLESS, False, "an SEI overread; pictures unaffected"),
    R(H264, "error while decoding MB %d %d, bytestream %td", "decode_errors", True, "a macroblock failed"),
    R(H264 + HEVC, "concealing %d DC, %d AC, %d MV errors in %c frame", "decode_errors", True,
      "the decoder concealed damage"),
    R(H264, "top block unavailable for requested intra mode %d", "decode_errors", True, "broken slice data"),
    R(H264, "left block unavailable for requested intra4x4 mode %d", "decode_errors", True, "broken slice data"),
    R(H264, "top block unavailable for requested intra mode", "decode_errors", True, "broken slice data"),
    R(H264, "left block unavailable for requested intra mode", "decode_errors", True, "broken slice data"),
    R(H264, "corrupted macroblock %d %d (total_coeff=%d)", "decode_errors", True, "broken slice data"),
    R(H264, "A non-intra slice in an IDR NAL unit.", "decode_errors", True, "broken slice header"),
    R(H264, "decode_slice_header error", "decode_errors", True, "broken slice header"),
    R(H264, "Slice overlaps with next at %d", "decode_errors", True, "broken slice header"),
    R(H264, "non-existing PPS %u referenced", "decode_errors", True, "a slice names a parameter set never sent"),
    R(H264 + HEVC, "Invalid NAL unit size (%d > %d).", "decode_errors", True, "framing broken: a cut or lost bytes"),
    R(H264 + HEVC, "Error splitting the input into NAL units.", "decode_errors", True, "framing broken"),
    R(H264, "missing picture in access unit with size %d", "decode_errors", True, "a packet held no picture"),
    R(H264, "number of reference frames (%d+%d) exceeds max (%d; probably corrupt input), discarding one",
      "decode_errors", True, "reference bookkeeping broken"),
    R(H264, "Frame num gap %d %d", "frames_missing", True, "frames are missing from the stream"),
    R(H264, "Missing reference picture, default is %d", "decode_errors", True, "a reference is gone"),
    R(H264, "mmco: unref short failure", "decode_errors", True, "reference bookkeeping broken"),
    R(H264, "reference picture missing during reorder", "decode_errors", True, "a reference is gone"),
    R(H264, "no frame!", "decode_errors", True, "nothing decodable in the packet"),
    R(H264, "cabac_init_idc %u overflow", "decode_errors", True, "broken slice header"),
    R(H264, "QP %u out of range", "decode_errors", True, "broken slice header"),
    R(H264, "mb_type %d in %c slice too large at %d %d", "decode_errors", True, "broken slice data"),
    R(H264, "out of range intra chroma pred mode", "decode_errors", True, "broken slice data"),
    R(H264, "negative number of zero coeffs at %d %d", "decode_errors", True, "broken slice data"),
    R(H264, "cbp too large (%u) at %d %d", "decode_errors", True, "broken slice data"),
    R(H264, "dquant out of range (%d) at %d %d", "decode_errors", True, "broken slice data"),
    R(H264, "Invalid level prefix", "decode_errors", True, "broken slice data"),
    R(H264, "B sub_mb_type %u out of range at %d %d", "decode_errors", True, "broken slice data"),
    R(H264, "P sub_mb_type %u out of range at %d %d", "decode_errors", True, "broken slice data"),
    R(H264, "ref %u overflow", "decode_errors", True, "a slice names a reference that is not there"),
    R(H264, "slice type %d too large at %d", "decode_errors", True, "broken slice header"),
    R(H264, "deblocking_filter_idc %u out of range", "decode_errors", True, "broken slice header"),
    R(H264, "deblocking filter parameters %d %d out of range", "decode_errors", True, "broken slice header"),
    R(H264, "Out of range weight", "decode_errors", True, "broken prediction weights"),
    R(H264, "illegal memory management control operation %d", "decode_errors", True, "reference bookkeeping broken"),
    R(H264, "illegal modification_of_pic_nums_idc %u", "decode_errors", True, "reference list broken"),
    R(H264, "illegal short term buffer state detected", "decode_errors", True, "reference bookkeeping broken"),
    R(H264, "Frame num change from %d to %d", "frames_missing", True, "frame numbering jumps: frames lost"),
    R(H264, "Invalid mix of IDR and non-IDR slices", "decode_errors", True, "broken slice headers"),
    R(H264 + HEVC, "Overread slice header by %d bits", "decode_errors", True, "broken slice header"),
    R(H264, "Reference %d >= %d", "decode_errors", True, "a slice names a reference that is not there"),
    R(H264 + HEVC, "PPS id %d not available.", "decode_errors", True, "a slice names a missing parameter set"),
    R(H264 + HEVC + MPEG4 + VP9 + AV1, "%s is not implemented. Update your FFmpeg version to the newest one from "
      "Git. If the problem still occurs, it means that your file has a feature which has not been implemented.",
      "decode_errors", True, "damaged data reads as an unsupported feature"),
    R(H264 + HEVC + MPEG4 + VP9 + AV1, "If you want to help, upload a sample of this file to "
      "https://streams.videolan.org/upload/ and contact the ffmpeg-devel mailing list. (ffmpeg-devel@ffmpeg.org)",
      HARMLESS, False, "the second half of the line above"),
    R(H264, "Overread in VUI, retrying from timing information...", HARMLESS, False, "timing metadata only"),
    # --- hevc -------------------------------------------------------------------------------
    R(HEVC, "Unknown profile %d", HARMLESS, False, "profile id unknown; decoded anyway"),
    R(HEVC, "discarding sps cropping, original values are l:%d r:%d t:%d b:%d", HARMLESS, False,
      "cropping ignored; picture whole"),
    R(HEVC, "Invalid cropping offsets: %u/%u/%u/%u", HARMLESS, False, "cropping ignored; picture whole"),
    R(HEVC, "Strange VUI timing information, retrying...", HARMLESS, False, "timing metadata only"),
    R(HEVC, "Could not find ref with POC %d", "frames_missing", True, "a reference picture is gone"),
    R(HEVC, "Error constructing the frame RPS.", "frames_missing", True, "references unavailable"),
    R(HEVC, "Two slices reporting being the first in the same frame.", "decode_errors", True, "slice headers broken"),
    R(HEVC, "First slice in a frame missing.", "decode_errors", True, "part of a picture is gone"),
    R(HEVC, "Invalid NAL unit header", "decode_errors", True, "framing broken"),
    R(HEVC, "Skipping invalid undecodable NALU: %d", "frames_missing", True,
      "a picture whose references are gone is dropped"),
    # --- mpeg4 part 2 -----------------------------------------------------------------------
    R(MPEG4, "Error at MB: %d", "decode_errors", True, "a macroblock failed"),
    R(MPEG4, "ac-tex damaged at %d %d", "decode_errors", True, "texture data broken"),
    R(MPEG4, "Error, header damaged or not MPEG-4 header (qscale=0)", "decode_errors", True, "header broken"),
    R(MPEG4, "Error, header damaged or not MPEG-4 header (f_code=0)", "decode_errors", True, "header broken"),
    R(MPEG4, "Error, video packet header damaged (f_code=0)", "decode_errors", True, "header broken"),
    R(MPEG4 + ("mpeg2video", "mpeg1video"), "concealing %d DC, %d AC, %d MV errors in %c frame", "decode_errors",
      True, "the decoder concealed damage"),
    R(MPEG4, "marker does not match f_code", "decode_errors", True, "header broken"),
    R(MPEG4, "Discarding excessive bitstream in packed xvid", HARMLESS, False, "packed B-frames quirk"),
    # --- vp9 / av1 ----------------------------------------------------------------------------
    R(VP9, "Invalid compressed header size", "decode_errors", True, "frame header broken"),
    R(VP9 + AV1, "Not all references are available", "frames_missing", True, "a reference frame is gone"),
    R(VP9, "Requested reference %d not available", "frames_missing", True, "a reference frame is gone"),
    R(AV1 + VP9, "Corrupt bitstream", "decode_errors", True, "broken data"),
    R(VIDEO, "Missing reference picture", "frames_missing", True, "a reference is gone"),
    R(VIDEO, "Invalid frame dimensions %dx%d.", "decode_errors", True, "broken header"),
)


@dataclass(frozen=True)
class Classified:
    code: str | None
    loss: bool
    rule: MessageRule | None


def _matches(rule: MessageRule, name: str) -> bool:
    if not rule.components:
        return True
    parts = set(name.split(","))
    return bool(parts.intersection(rule.components))


@lru_cache(maxsize=4096)
def classify(name: str, message: str) -> Classified:
    """The entry for one FFmpeg log line (`name` is the logging context, e.g. `h264`)."""
    text = " ".join(message.split())
    for rule in RULES:
        if _matches(rule, name) and rule.regex.search(text):
            return Classified(rule.code, rule.loss, rule)
    return Classified(UNCLASSIFIED, True, None)
