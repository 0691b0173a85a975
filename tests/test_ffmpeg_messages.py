"""The FFmpeg message table: every entry is FFmpeg's own text, mapped on purpose, and found again."""

from __future__ import annotations

import re
from pathlib import Path

import av

from core.ffmpeg_messages import RULES, UNCLASSIFIED, classify
from core.reasons import REASONS, Severity

LIBS = Path(av.__file__).resolve().parent.parent / "av.libs"
_SPEC = re.compile(r"%%|%[-+ 0#]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|t|j|L)?[diouxXcsfgeEpa]")


def _bundled_strings() -> bytes:
    """The text of the FFmpeg build PyAV ships (libavformat, libavcodec, libavutil)."""
    out = b""
    for lib in sorted(LIBS.glob("libav*.so*")):
        out += lib.read_bytes()
    return out


def _example(fmt: str) -> str:
    """A message as FFmpeg would print it: every conversion filled with a plausible value."""
    return _SPEC.sub(lambda m: "%" if m.group() == "%%" else "7", fmt)


def test_every_entry_is_text_of_the_bundled_ffmpeg():
    text = _bundled_strings()
    assert text, f"no FFmpeg libraries under {LIBS}"
    for rule in RULES:
        pieces = [p for p in _SPEC.split(rule.source) if len(p.strip()) >= 6]
        for piece in pieces:
            assert piece.encode() in text, (rule.source, piece)


def test_every_entry_classifies_its_own_message_and_no_earlier_entry_steals_it():
    for rule in RULES:
        name = rule.components[0] if rule.components else "mov,mp4,m4a,3gp,3g2,mj2"
        got = classify(name, _example(rule.source))
        assert got.rule is not None, rule.source
        assert (got.code, got.loss) == (rule.code, rule.loss), (rule.source, got.rule.source)


def test_codes_are_known_and_loss_is_deliberate():
    for rule in RULES:
        assert rule.code is None or rule.code in REASONS, rule.source
        assert rule.why, rule.source
        if rule.code in ("truncated", "sample_table_broken", "decode_errors", "frames_missing"):
            assert rule.loss, f"{rule.source}: names a loss, so standard must measure"
        if rule.code is None or (rule.code in REASONS and REASONS[rule.code].severity is Severity.COSMETIC
                                 and rule.code != "timestamps"):
            assert not rule.loss or rule.code in ("container_warning",), rule.source


def test_the_issue_s_examples_are_mapped_as_measured():
    """From issue 10: harmless decoder chatter is not damage; container messages that mean lost data are."""
    harmless = [("h264", "Increasing reorder buffer to 1"), ("h264", "SEI type 5 size 2040 truncated at 48"),
                ("h264", "non-existing SPS 0 referenced in buffering period"), ("hevc", "Unknown profile 4"),
                ("hevc", "discarding sps cropping, original values are l:0 r:8 t:0 b:0"),
                ("hevc", "Strange VUI timing information, retrying...")]
    for name, msg in harmless:
        assert classify(name, msg).code is None and not classify(name, msg).loss, msg
    lossy = [("mov,mp4,m4a,3gp,3g2,mj2", "STSC entry 1 is invalid (first=0 count=1 id=1)", "sample_table_broken"),
             ("matroska,webm", "0x00 at pos 1234 (0x4d2) invalid as first byte of an EBML number",
              "sample_table_broken"),
             ("mpegts", "PES packet size mismatch", "frames_missing"),
             ("mpegts", "max resync size reached, could not find sync byte", "frames_missing"),
             ("avi", "ODML index invalid", "sample_table_broken"),
             ("ogg", "CRC mismatch!", "frames_missing")]
    for name, msg, code in lossy:
        c = classify(name, msg)
        assert (c.code, c.loss) == (code, True), msg


def test_unknown_messages_are_neither_cosmetic_nor_damage_silently():
    c = classify("h264", "a message no FFmpeg prints")
    assert c.code == UNCLASSIFIED and c.loss  # named, and measured fully at standard
    assert REASONS[UNCLASSIFIED].severity is Severity.COSMETIC  # the measurement, not the text, decides


def test_a_conversion_that_printed_nothing_still_matches_its_entry():
    """FFmpeg logs "%s is not implemented…" with an empty %s when damage reads as a feature:
    the line then starts at the space after the conversion, and must not fall to unclassified."""
    from core.ffmpeg_messages import UNCLASSIFIED, classify

    line = (" is not implemented. Update your FFmpeg version to the newest one from Git. If the "
            "problem still occurs, it means that your file has a feature which has not been implemented.")
    for text in (line, line.strip(), "SEI" + line):
        assert classify("h264", text).code == "decode_errors", text
    assert classify("h264", "nothing like any entry at all").code == UNCLASSIFIED
