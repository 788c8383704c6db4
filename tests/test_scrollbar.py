"""The transcript's scrollbar, painted from kept rows, paints what Textual's own paints."""

from __future__ import annotations

from pathlib import Path

from textual.scrollbar import ScrollBar
from textual.strip import Strip

from llmtui.engine import Engine
from llmtui.tui.chat import Reply, Transcript
from llmtui.tui.scrollbar import RowScrollBar
from llmtui.tui.themes import load_themes
from tests.workbench import app_for

PARAGRAPH = "The bar moves as the transcript scrolls, a row at a time. " * 6


def cells(strips: list[Strip]) -> list[list[tuple[str, object]]]:
    return [[(segment.text, segment.style) for segment in strip] for strip in strips]


async def test_the_transcripts_scrollbar_paints_what_textuals_paints(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        transcript = app.query_one(Transcript)
        reply = Reply()
        await transcript.mount(reply)
        await reply.finish(None, "\n\n".join([PARAGRAPH] * 12))
        await pilot.pause(0.2)
        bar = transcript.vertical_scrollbar
        assert isinstance(bar, RowScrollBar) and bar.display
        themes, _ = load_themes([Path(__file__).parent.parent / "themes"])
        checked = 0
        for theme in themes:
            app.theme = theme.name
            for y in (0, transcript.max_scroll_y // 3, transcript.max_scroll_y):
                transcript.scroll_to(y=y, animate=False)
                await pilot.pause(0.05)
                for hovered in (False, True):
                    bar.mouse_over = hovered
                    ours = bar.render_lines(bar.size.region)
                    bar._set_dirty()  # Textual's render, not its cached rows
                    theirs = ScrollBar.render_lines(bar, bar.size.region)
                    assert cells(ours) == cells(theirs), (theme.name, y, hovered)
                    checked += 1
        assert checked == len(themes) * 6
        # The thumb moved: the rows at the top and at the end differ.
        transcript.scroll_to(y=0, animate=False)
        await pilot.pause(0.05)
        top = cells(bar.render_lines(bar.size.region))
        transcript.scroll_end(animate=False)
        await pilot.pause(0.05)
        assert cells(bar.render_lines(bar.size.region)) != top
