"""The virtual file list and its model: correct rows at 100,000 files, filtering, keys."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from nexara_tui.file_model import FileModel, FileRow, parse_filter
from nexara_tui.widgets.file_list import FileList, _fit
from tests.tui.conftest import wait_for

VERDICTS = ("warning", "damaged", "corrupt")
REASONS = ("audio_errors", "truncated", "moov_missing", "decode_errors")


def synthetic_rows(n: int) -> list[FileRow]:
    return [
        FileRow(path=f"train/{'violent' if i % 2 else 'nonviolent'}/clip_{i:06d}.mp4",
                verdict=VERDICTS[i % 3], reasons=(REASONS[i % 4],), split="train",
                cls="violent" if i % 2 else "nonviolent", size=i)
        for i in range(n)
    ]


def test_model_filter_terms_and_sort():
    m = FileModel(synthetic_rows(12))
    m.set_filter("verdict:corrupt")
    assert len(m) == 4 and all(r.verdict == "corrupt" for r in m.visible_rows())
    m.set_filter("v:corrupt -reason:truncated")
    assert all(r.verdict == "corrupt" and "truncated" not in r.reasons for r in m.visible_rows())
    m.set_filter("clip_000007")
    assert [r.path for r in m.visible_rows()] == ["train/violent/clip_000007.mp4"]
    m.set_filter("class:nonviolent split:train")
    assert len(m) == 6
    m.set_filter("")
    m.set_sort("size", reverse=True)
    assert m.row_at(0).size == 11
    m.set_sort("verdict")
    assert m.row_at(0).verdict == "corrupt" and m.row_at(len(m) - 1).verdict == "warning"
    # appending under a filter keeps only the matches, in arrival order
    m.set_sort("arrival")
    m.set_filter("v:damaged")
    before = len(m)
    m.append(synthetic_rows(3))  # one damaged among them (i=1)
    assert len(m) == before + 1
    assert [t.field for t in parse_filter("r:moov foo")] == ["reason", None]


def test_fit_keeps_width_for_wide_and_newline_names():
    from rich.cells import cell_len

    for text in ("plain.mp4", "clip ünïcode.mp4", "视频文件很长的名字.mp4", "a\nb.mp4", "x" * 300):
        for w in (1, 5, 20):
            assert cell_len(_fit(text, w, "left")) == w
            assert cell_len(_fit(text, w, "middle")) == w
            assert cell_len(_fit(text, w)) == w
    assert _fit("a\nb", 5) == "a⏎b  "
    assert _fit("train/violent/long_name.mp4", 12, "left") == "…ng_name.mp4"


class ListApp(App):
    def compose(self) -> ComposeResult:
        yield FileList(id="list")


async def test_virtual_list_100k_rows():
    rows = synthetic_rows(100_000)
    app = ListApp()
    highlighted: list[int] = []
    async with app.run_test(size=(120, 40),
                            message_hook=lambda m: highlighted.append(m.index)
                            if isinstance(m, FileList.RowHighlighted) else None) as pilot:
        fl = app.query_one(FileList)
        fl.focus()
        t0 = time.perf_counter()
        fl.set_rows(rows)
        await pilot.pause()
        t_set = time.perf_counter() - t0
        body = fl.page_size
        assert [r.path for r in fl.visible_lines()] == [r.path for r in rows[:body]]

        t0 = time.perf_counter()
        await pilot.press("end")
        await wait_for(pilot, lambda: fl.cursor_row == 99_999, what="cursor at the last row")
        await pilot.pause()
        t_end = time.perf_counter() - t0
        assert fl.selected_row.path == rows[-1].path
        assert fl.visible_lines()[-1].path == rows[-1].path
        assert len(fl.visible_lines()) == body
        # the rendered screen shows the last file's name
        assert "clip_099999.mp4" in "".join(fl.render_line(y).text for y in range(body + 1))

        await pilot.press("k", "k")
        assert fl.cursor_row == 99_997
        await pilot.press("g")
        assert fl.cursor_row == 0 and int(fl.scroll_offset.y) == 0
        await pilot.press("pagedown")
        assert fl.cursor_row == body - 1

        t0 = time.perf_counter()
        fl.set_filter("v:corrupt reason:moov")  # i % 3 == 2 and i % 4 == 2  →  i % 12 == 2
        await pilot.pause()
        t_filter = time.perf_counter() - t0
        expected = [r for i, r in enumerate(rows) if i % 12 == 2]
        assert fl.row_count == len(expected) == 8_334
        assert [r.path for r in fl.visible_lines()] == [r.path for r in expected[:body]]
        assert fl.cursor_row == 0

        await pilot.press("G")
        assert fl.selected_row.path == expected[-1].path

        print(f"\n100k rows: set_rows+paint {t_set * 1000:.0f} ms, scroll to end {t_end * 1000:.0f} ms, "
              f"filter {t_filter * 1000:.0f} ms")
        assert highlighted and highlighted[-1] == fl.cursor_row


async def test_marked_rows_show_a_marker():
    app = ListApp()
    async with app.run_test(size=(100, 12)) as pilot:
        fl = app.query_one(FileList)
        fl.set_rows(synthetic_rows(5))
        fl.marked.add("train/violent/clip_000001.mp4")
        fl.refresh_rows()
        await pilot.pause()
        lines = [fl.render_line(y).text for y in range(1, 6)]
        assert lines[1].startswith("✓ ") and not lines[0].startswith("✓")
