"""The main screen's cheaper repaints paint exactly what Textual's own would."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pyte
import pytest
from textual._compositor import Compositor
from textual.drivers.headless_driver import HeadlessDriver
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.widget import Widget

from llmtui.engine import Engine
from llmtui.tui.chat import PromptInput, Reply, Transcript
from llmtui.tui.overrides import RowCompositor, WorkbenchScreen
from tests.workbench import app_for, wait_for

SENTENCE = "Rome was founded, the story goes, by **Romulus** in 753 BC. "
PARAGRAPH = SENTENCE * 4


def painted(compositor: Compositor, crop: Region) -> dict[tuple[int, int], str]:
    """What a partial repaint of `crop` writes: (row, cut) -> text, within `crop`."""
    chops = compositor._render_chops(crop, lambda y: crop.y <= y < crop.bottom)
    return {
        (y, cut): strip.text
        for y, line in enumerate(chops)
        for cut, strip in line.items()
        if strip is not None and crop.y <= y < crop.bottom and crop.x <= cut < crop.right
    }


def regions(app_screen: Screen[object]) -> Iterator[Region]:
    """Crops a repaint meets: one widget's row, several widgets, a border, the screen."""
    tail = app_screen.query_one(Reply).tail.region
    yield Region(tail.x, tail.y, tail.width, 1)
    yield app_screen.query_one(Transcript).region
    yield app_screen.query_one(PromptInput).region.grow((1, 1, 1, 1))
    yield Region(0, 0, app_screen.size.width, 3)
    yield app_screen.region


async def test_partial_repaints_paint_what_textuals_compositor_paints(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        reply = Reply()
        await app.query_one(Transcript).mount(reply)
        for _ in range(3):
            await reply.write(PARAGRAPH + "\n\n")
        await reply.write(PARAGRAPH)
        await pilot.pause(0.2)
        compositor = app.screen._compositor
        assert isinstance(compositor, RowCompositor)
        # Textual's rendering of the same map: its `_get_renders`, on this compositor.
        for crop in regions(app.screen):
            ours = painted(compositor, crop)
            compositor._get_renders = partial(Compositor._get_renders, compositor)  # type: ignore[method-assign]
            try:
                theirs = painted(compositor, crop)
            finally:
                del compositor._get_renders
            assert ours == theirs, crop
            assert ours, crop


async def test_a_frame_of_the_tail_renders_one_row_of_the_tail_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        reply = Reply()
        await app.query_one(Transcript).mount(reply)
        await reply.write(PARAGRAPH + "\n\nThe next paragraph")
        await pilot.pause(1.0)
        rendered: list[tuple[Widget, Region]] = []
        render_lines = Widget.render_lines

        def counted(widget: Widget, crop: Region) -> object:
            rendered.append((widget, crop))
            return render_lines(widget, crop)

        app.query_one(PromptInput).cursor_blink = False  # its own repaints, not the tail's
        await pilot.pause(0.6)
        rows = list(reply.tail.rows)
        room = reply.tail.content_size.width - len(rows[-1])
        assert room > 1
        monkeypatch.setattr(Widget, "render_lines", counted)
        await reply.write("x" * (room - 1))
        await wait_for(lambda: rendered)
        await pilot.pause(0.1)
        assert len(reply.tail.rows) == len(rows) and reply.tail.rows != rows
        # Its ancestors are behind it there: nothing of theirs would show.
        assert {widget for widget, _ in rendered} == {reply.tail}
        assert all(crop.height == 1 for _, crop in rendered)


async def test_a_repaint_of_the_transcript_renders_no_row_a_message_covers_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a layout the transcript's viewport is repainted: a reply's rows are all its
    blocks' and its tail's, so the reply (and the panes behind) render none of them."""
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = app.query_one(Transcript)
        reply = Reply()
        await transcript.mount(reply)
        for _ in range(3):
            await reply.write(PARAGRAPH + "\n\n")
        await reply.write(PARAGRAPH)
        await pilot.pause(0.3)
        rendered: dict[Widget, int] = {}
        render_lines = Widget.render_lines

        def counted(widget: Widget, crop: Region) -> object:
            rendered[widget] = rendered.get(widget, 0) + crop.height
            return render_lines(widget, crop)

        monkeypatch.setattr(Widget, "render_lines", counted)
        painted(app.screen._compositor, transcript.region)
        shown = reply.region.intersection(transcript.region)
        assert shown.height > 10
        assert reply not in rendered
        assert rendered[reply.tail] == reply.tail.region.intersection(shown).height
        # The transcript itself shows only between and around messages.
        assert rendered.get(transcript, 0) < transcript.region.height // 2


async def test_blocks_that_come_after_the_first_layout_all_show(engine: Engine) -> None:
    """Textual's screen records only the first step of the way up from a widget that asks
    for a layout, so the reply's `stream` layout kept its Markdown at the height of the
    first block: the blocks after it were laid out below it and cut off. It shows when a
    block moves in the frame the tail shrinks back (a paragraph taller than its first
    rows)."""
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        reply = Reply()
        await app.query_one(Transcript).mount(reply)
        text = (SENTENCE * 6 + "\n\n") * 4 + "The tail"
        for start in range(0, len(text), 30):  # as a reply streams: a frame at a time
            await reply.write(text[start : start + 30])
            await pilot.pause(0.02)
        await pilot.pause(0.2)
        blocks = list(reply.markdown.children)
        assert len(blocks) == 4
        assert reply.markdown.region.contains_region(blocks[-1].region)
        assert reply.tail.region.y >= blocks[-1].region.bottom
        assert reply.region.height >= reply.markdown.region.height + len(reply.tail.rows)


@pytest.mark.parametrize("scrolling", [False, True])
async def test_a_layout_is_not_echoed_by_the_widgets_it_resized(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, scrolling: bool
) -> None:
    """Textual's screen lays out twice when the live tail grows: its new size, as a
    reactive, asks for a second layout (and the transcript's virtual size for a third)."""
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        reply = Reply()
        await app.query_one(Transcript).mount(reply)
        await reply.write(PARAGRAPH + "\n\n" + PARAGRAPH)
        await pilot.pause(0.3)
        if scrolling:  # the transcript's own size echo too: its scrollbar is already there
            await reply.write(PARAGRAPH * 8 + "\n\n")
            await pilot.pause(0.3)
            assert app.query_one(Transcript).show_vertical_scrollbar
        rows = reply.tail.size.height
        layouts: list[bool] = []
        refresh_layout = WorkbenchScreen._refresh_layout

        def counted(
            screen: WorkbenchScreen, size: Size | None = None, scroll: bool = False
        ) -> None:
            layouts.append(scroll)
            refresh_layout(screen, size, scroll)

        monkeypatch.setattr(WorkbenchScreen, "_refresh_layout", counted)
        await reply.write(PARAGRAPH * 2)
        await pilot.pause(0.5)
        assert reply.tail.size.height > rows
        assert layouts == [False]


async def test_a_transcript_that_comes_to_scroll_is_laid_out_beside_its_scrollbar(
    engine: Engine,
) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = app.query_one(Transcript)
        reply = Reply()
        await transcript.mount(reply)
        await pilot.pause(0.2)
        width = reply.size.width
        for _ in range(12):
            await reply.write(PARAGRAPH + "\n\n")
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        # The transcript keeps its scrollbar's column from the start (a scrollbar that came
        # once the reply overflowed took a column, and finished paragraphs re-wrapped one
        # column narrower): the reply keeps its width, beside the scrollbar.
        assert transcript.show_vertical_scrollbar
        assert reply.size.width == width
        assert reply.region.right <= transcript.scrollable_content_region.right


def cells(screen: pyte.Screen) -> list[list[tuple[str, str, str, bool]]]:
    return [
        [
            (c.data, c.fg, c.bg, c.reverse)
            for c in (screen.buffer[y][x] for x in range(screen.columns))
        ]
        for y in range(screen.lines)
    ]


async def test_the_terminal_shows_what_a_whole_repaint_shows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each frame of a streaming reply paints less than Textual would (rows that show,
    no echo layouts, no second repaint of what a layout painted): a terminal fed those
    frames, as the reply grows and the transcript follows it, ends up showing exactly
    what one repaint of the whole screen shows."""
    size = (120, 36)
    terminal = pyte.Screen(*size)
    stream = pyte.Stream(terminal)
    monkeypatch.setattr(HeadlessDriver, "is_headless", property(lambda self: False))
    monkeypatch.setattr(HeadlessDriver, "write", lambda self, data: stream.feed(data))
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        transcript = app.query_one(Transcript)
        reply = Reply()
        await transcript.mount(reply)
        text = (SENTENCE * 5 + "\n\n") * 6 + "```python\nprint('the end')\n```\n\n" + SENTENCE
        for start in range(0, len(text), 40):
            await reply.write(text[start : start + 40])
            await pilot.pause(0.03)
        await pilot.pause(0.3)
        # The last frames change a row of the tail and lay nothing out.
        rows = len(reply.tail.rows)
        for word in ("And", " so", " on."):
            await reply.write(word)
            await pilot.pause(0.1)
        assert len(reply.tail.rows) == rows
        assert transcript.scroll_y > 0 and transcript.following
        # The whole screen as Textual's own compositor renders it.
        compositor = app.screen._compositor
        compositor._get_renders = partial(Compositor._get_renders, compositor)  # type: ignore[method-assign]
        try:
            full = compositor.render_full_update()
        finally:
            del compositor._get_renders
        whole = pyte.Screen(*size)
        pyte.Stream(whole).feed(full.render_segments(app.console))
        assert terminal.display == whole.display
        assert cells(terminal) == cells(whole)


async def test_what_a_layout_painted_is_not_painted_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layout that resizes the reply repaints the transcript; Textual then repainted it
    again a frame later, as each resized widget (and the scrollbar) asked to be."""
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = app.query_one(Transcript)
        reply = Reply()
        await transcript.mount(reply)
        await reply.write((PARAGRAPH + "\n\n") * 8)
        await pilot.pause(0.3)
        assert transcript.show_vertical_scrollbar and transcript.scroll_y > 0
        app.query_one(PromptInput).cursor_blink = False
        repaints: list[set[Widget]] = []  # after the layout, not in it
        layouts: list[bool] = []  # True while one runs
        update_widgets = Compositor.update_widgets
        refresh_layout = WorkbenchScreen._refresh_layout

        def updated(compositor: Compositor, widgets: set[Widget]) -> None:
            if widgets and layouts and not layouts[-1]:
                repaints.append(set(widgets))
            update_widgets(compositor, widgets)

        def laid_out(
            screen: WorkbenchScreen, size: Size | None = None, scroll: bool = False
        ) -> None:
            layouts.append(True)
            refresh_layout(screen, size, scroll)
            layouts[-1] = False

        monkeypatch.setattr(Compositor, "update_widgets", updated)
        monkeypatch.setattr(WorkbenchScreen, "_refresh_layout", laid_out)
        height = reply.size.height
        await reply.write(PARAGRAPH * 2)  # the tail's rows, past its first STEP
        await pilot.pause(0.5)
        assert reply.size.height > height and transcript.following
        assert layouts == [False]
        resized = {reply, reply.tail, transcript, transcript.vertical_scrollbar}
        assert not any(widgets & resized for widgets in repaints), repaints
