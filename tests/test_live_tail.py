"""The live tail of a streaming reply: wrapped a piece at a time, repainting what changed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from textual.content import Content
from textual.geometry import Region, Size

from llmtui.tui.live_tail import STEP, LiveTail, lines_of, styled, wrap


def laid_out(width: int) -> LiveTail:
    tail = LiveTail()
    tail.get_content_height(Size(width, 10), Size(width, 10), width)  # a layout's question
    return tail


def wrapped_at_once(text: str, width: int) -> list[Content]:
    return [row for line in lines_of(text) for row in wrap(line, width)] if text else []


def as_shown(rows: list[Content]) -> list[tuple[str, list[object]]]:
    return [(row.plain, list(row.spans)) for row in rows]


# Pieces of text as a model sends them: words, spaces, newlines, wide characters and the
# markers of bold, italic, code and fences, in any order.
pieces = st.lists(
    st.lists(
        st.sampled_from(["ab", " ", "cd", "\n", "漢字", " — ", "**", "*", "`", "```"]), max_size=5
    ).map("".join),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(pieces=pieces, width=st.integers(1, 30))
def test_rows_grown_piece_by_piece_are_the_text_wrapped_at_once(
    pieces: list[str], width: int
) -> None:
    tail = laid_out(width)
    for piece in pieces:
        tail.append(piece)
    text = "".join(pieces)
    assert tail.text == text
    assert as_shown(tail._rows) == as_shown(wrapped_at_once(text, width))
    height = tail.get_content_height(Size(width, 10), Size(width, 10), width)
    # Whole steps, as few as hold the rows, one at least.
    assert height % STEP == 0 and len(tail.rows) <= height
    assert height == STEP or height - len(tail.rows) < STEP


def test_a_new_width_wraps_everything_again() -> None:
    tail = laid_out(40)
    tail.append("the quick brown fox jumps over the lazy dog " * 3)
    assert len(tail.rows) == 4
    height = tail.get_content_height(Size(10, 10), Size(10, 10), 10)
    assert tail.rows == wrapped_at_once(tail.text, 10)
    assert len(tail.rows) == 15 and height == 16


def test_reset_starts_again_and_shrinks_to_one_step() -> None:
    tail = laid_out(10)
    tail.append("one two three four five six seven eight nine ten")
    assert tail.get_content_height(Size(10, 10), Size(10, 10), 10) == 2 * STEP
    tail.reset("eleven")
    assert tail.text == "eleven" and tail.rows == ["eleven"]
    assert tail.get_content_height(Size(10, 10), Size(10, 10), 10) == STEP
    tail.reset()
    assert tail.rows == [] and tail.get_content_height(Size(10, 10), Size(10, 10), 10) == STEP


def test_closed_bold_and_italic_lose_their_markers_open_ones_and_code_do_not() -> None:
    line = styled("a **bold** and *it* with `**code**` and **open")
    assert line.plain == "a bold and it with `**code**` and **open"
    assert [(line.plain[s.start : s.end], s.style) for s in line.spans] == [
        ("bold", "bold"),
        ("it", "italic"),
    ]
    assert [row.plain for row in lines_of("```\n**x**\n```\n**y**")] == [
        "```",
        "**x**",
        "```",
        "y",
    ]


class OneTail(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTail()


async def test_appending_repaints_only_the_rows_that_changed() -> None:
    app = OneTail()
    async with app.run_test(size=(30, 10)) as pilot:
        tail = app.query_one(LiveTail)
        tail.append("first line of text here\nsecond line\nthird")
        await pilot.pause()
        painted: list[Region] = []
        repaint = tail.refresh

        def spy(*regions: Region, **kwargs: bool) -> LiveTail:
            painted.extend(regions)
            return repaint(*regions, **kwargs)

        tail.refresh = spy  # type: ignore[method-assign]
        tail.append(" word")
        assert painted == [Region(0, 2, 30, 1)]  # the last row, not the three
        painted.clear()
        tail.append(" " + "x" * 28)  # too long for the row: wraps onto a new one
        assert painted == [Region(0, 3, 30, 1)]  # "third word" stays as it was
        await pilot.pause()
        assert tail.region.height == STEP
        lines = [app.screen._compositor.render_strips()[y].text.rstrip() for y in range(4)]
        assert lines == ["first line of text here", "second line", "third word", "x" * 28]
        painted.clear()
        tail.append("\nsome **bold")
        tail.append("** text")  # the span closes: its row is repainted, markers gone
        assert painted[-1] == Region(0, 4, 30, 1)
        await pilot.pause()
        row = app.screen._compositor.render_strips()[4]
        assert row.text.rstrip() == "some bold text"
        assert any(segment.style and segment.style.bold for segment in row)
