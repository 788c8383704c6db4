"""The workbench, driven by Pilot on the real starter model."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from textual.content import Content
from textual.strip import Strip
from textual.widgets import DataTable, Static
from workbench import SCREENSHOTS, app_for, ask, history, say, wait_for

from llmtui.chat import Outcome, Turn
from llmtui.chat.store import Conversation, ConversationStore
from llmtui.engine import Engine
from llmtui.settings import Settings
from llmtui.tui.chat import Note, PromptInput, Reply
from llmtui.tui.conversations import Conversations
from llmtui.tui.editor import ModelfileEditor
from llmtui.tui.library import LibraryPane
from llmtui.tui.stats import LIVE_ROWS, Figures, StatsPane
from llmtui.tui.themes import load_themes


async def test_opens_on_the_default_model_with_focus_in_the_prompt(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert app.sub_title == "smollm2:135m"
        assert isinstance(app.focused, PromptInput)
        assert "FROM smollm2:135m" in app.query_one(ModelfileEditor).text


async def test_library_opens_on_the_chat_model_and_judges_fit_at_the_settings_num_ctx(
    engine: Engine,
) -> None:
    app = app_for(engine, Settings(num_ctx=2_000_000, keep_chats=False))
    async with app.run_test(size=(160, 45)) as pilot:
        library = app.query_one(LibraryPane)
        await wait_for(lambda: library.models)
        await pilot.pause()
        # gemma3:270m sorts first; the chat is on smollm2:135m.
        highlighted = library.highlighted()
        assert highlighted is not None and highlighted.name == "smollm2:135m"
        table = library.query_one(DataTable)
        assert table.get_row("smollm2:135m")[4] == "too big"  # a 2M-token KV cache
        assert "at num_ctx 2000000" in str(library.query_one("#details", Static).render())
        # And an empty chat says what to do.
        assert "F1" in app.query_one(PromptInput).placeholder


async def test_chat_streams_a_reply_with_stats(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await ask(pilot, app, "Say hello.")
        await pilot.pause(0.2)
        reply = app.query_one(Reply)
        assert "tok/s" in str(reply.stats.render())
        assert history(app)[-1].role == "assistant" and history(app)[-1].content
        assert app.query_one(StatsPane).last_done is not None


async def test_escape_stops_the_reply(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await say(pilot, "Write a very long story about a dragon.")
        await wait_for(lambda: app.chat.reply is not None and app.chat.reply.text)
        # While a reply streams, what lived before it is out of the collector's way...
        assert gc.get_freeze_count() > 0
        await pilot.press("escape")
        await wait_for(lambda: app.chat.handle is not None and app.chat.handle.result is not None)
        assert app.chat.handle.result.done_reason == "cancel"  # type: ignore[union-attr]
        # ...and back in it once the reply ends, however it ends.
        await wait_for(lambda: gc.get_freeze_count() == 0)


async def test_editor_validates_as_you_type(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("f4")
        editor = app.query_one(ModelfileEditor)
        editor.text = "FROM smollm2:135m\nPARAMETER temprature 0.5\n"
        await pilot.pause()
        label = str(app.query_one("#validation").render())
        assert "2:11: unknown parameter 'temprature'" in label


async def test_narrow_terminal_shows_tabs(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        assert app.query_one("#chat").has_class("-current")
        await pilot.press("f2")
        assert app.query_one("#library").has_class("-current")
        assert not app.query_one("#chat").has_class("-current")


@pytest.mark.parametrize(("name", "size"), [("main", (160, 45)), ("narrow-80x24", (80, 24))])
async def test_screenshots(engine: Engine, name: str, size: tuple[int, int]) -> None:
    app = app_for(engine)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(1.0)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(SCREENSHOTS))
        assert Path(path).read_text().startswith("<svg")


async def test_screenshot_of_a_chat_and_an_editor_error(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await ask(pilot, app, "Write a haiku about the sea, in a Markdown list.")
        app.query_one(
            ModelfileEditor
        ).text = "FROM smollm2:135m\nSYSTEM You are terse.\nPARAMETER temprature 0.5\n"
        await pilot.pause(0.5)
        path = app.save_screenshot(filename="chat-and-editor-error.svg", path=str(SCREENSHOTS))
        svg = Path(path).read_text()
        assert "temprature" in svg and "tok/s" in svg


def test_reply_hands_only_finished_blocks_to_the_markdown() -> None:
    reply = Reply()
    assert reply._block_end("First paragraph.\n\nSecond, still") == len("First paragraph.\n\n")
    assert reply._block_end("no blank line yet") == 0
    # A blank line inside an open code fence does not end a block.
    assert reply._block_end("```python\nx = 1\n\ny = 2") == 0
    fenced = "```python\nx = 1\n\ny = 2\n```\n\nAfter"
    assert reply._block_end(fenced) == len(fenced) - len("After")


def test_shipped_themes_load() -> None:
    themes, problems = load_themes([Path(__file__).parent.parent / "themes"])
    assert problems == []
    names = {t.name for t in themes}
    assert {"harbour-dark", "paper-light", "high-contrast", "ansi-16"} <= names
    assert any(not t.dark for t in themes) and any(t.ansi for t in themes)


async def test_every_shipped_theme_can_be_switched_to_live(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        themes, _ = load_themes([Path(__file__).parent.parent / "themes"])
        for theme in themes:
            app.theme = theme.name
            await pilot.pause(0.2)
            assert app.is_running and app.current_theme.name == theme.name


def test_bad_user_theme_is_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (tmp_path / "odd.toml").write_text('name = "odd"\nprimary = "#fff"\nsparkle = true\n')
    (tmp_path / "fine.toml").write_text('name = "fine"\nprimary = "#336699"\n')
    themes, problems = load_themes([tmp_path])
    assert [t.name for t in themes] == ["fine"]
    assert any("broken.toml skipped: not a valid theme" in p for p in problems)
    assert any("odd.toml skipped: unknown keys: sparkle" in p for p in problems)


async def test_screenshot_light_theme_from_settings(engine: Engine) -> None:
    app = app_for(engine, Settings(theme="paper-light", keep_chats=False))
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.5)
        assert app.theme == "paper-light"
        path = app.save_screenshot(filename="light-theme.svg", path=str(SCREENSHOTS))
        assert "#f7f5f0" in Path(path).read_text().lower()


async def test_screenshot_of_a_chat_mid_reply(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await say(pilot, "/set parameter num_predict 500", "/set parameter temperature 0")
        await say(pilot, "Explain how a bicycle works, with a short Python example.")
        await wait_for(lambda: app.chat.reply is not None and len(app.chat.reply.text) > 600)
        path = app.save_screenshot(filename="chat-mid-reply.svg", path=str(SCREENSHOTS))
        assert app.streaming  # taken while the reply streams
        app.action_stop()
        await wait_for(lambda: history(app) and history(app)[-1].role == "assistant")
        assert "bicycle" in Path(path).read_text()


async def test_screenshot_of_the_stats_pane(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app, "Name three rivers.")
        await ask(pilot, app, "And three mountains?")
        await pilot.press("f5", "f6")  # the stats pane, zoomed
        await pilot.pause(0.3)
        assert app.screen.maximized is not None and app.screen.maximized.id == "stats"
        live = app.query_one(Figures)
        bar = next(line.plain for line in live.lines if "━" in line.plain)
        assert len(bar) == live.content_size.width > 80  # drawn again for the zoomed pane
        path = app.save_screenshot(filename="stats.svg", path=str(SCREENSHOTS))
        svg = Path(path).read_text()
        assert "tok/s" in svg and "KV" in svg and "backend" in svg
        # Every line fits the pane's fixed rows, the thread count in use last.
        assert len(live.lines) <= LIVE_ROWS and live.lines[-1].plain.startswith("threads ")
        assert "threads" in svg and "adapting" in svg


async def test_live_figures_repaint_only_the_rows_that_changed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        figures = app.query_one(Figures)
        lines = [Content(f"figure {n}") for n in range(6)]
        figures.show(lines)
        await pilot.pause(0.2)
        painted: list[int] = []
        render_line = Figures.render_line

        def counted(widget: Figures, y: int) -> Strip:
            painted.append(y)
            return render_line(widget, y)

        monkeypatch.setattr(Figures, "render_line", counted)
        long = "context " + "9" * 200
        figures.show([*lines[:2], Content("figure two, changed"), *lines[3:5], Content(long)])
        await wait_for(lambda: painted)
        await pilot.pause(0.2)
        assert sorted(set(painted)) == [2, 5]
        # A line wider than the pane is cut, not wrapped onto the next figure's row.
        last = figures.render_line(5).text
        assert len(last) == figures.content_size.width and last.rstrip().endswith("…")


async def test_screenshot_of_the_key_help(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 45)) as pilot:
        await pilot.press("f1")
        await pilot.pause(0.3)
        path = app.save_screenshot(filename="key-help.svg", path=str(SCREENSHOTS))
        assert "chat.regenerate" in Path(path).read_text()


async def test_screenshot_of_the_transcript_cursor_after_a_model_switch(engine: Engine) -> None:
    app = app_for(engine, Settings(parameters={"temperature": 0, "seed": 1}, keep_chats=False))
    async with app.run_test(size=(160, 45)) as pilot:
        await ask(pilot, app, "Say hi in five words.")
        await say(pilot, "/load gemma3:270m")
        await wait_for(
            lambda: app.session.model is not None and app.session.model.name == "gemma3:270m", 10
        )
        await say(pilot, "/load smollm2:135m")
        await wait_for(
            lambda: app.session.model is not None and app.session.model.name == "smollm2:135m", 10
        )
        await ask(pilot, app, "Say bye in five words.")
        await pilot.press("f3", "up", "up", "up")  # the cursor on the first reply
        await pilot.pause(0.3)
        path = app.save_screenshot(filename="transcript-cursor.svg", path=str(SCREENSHOTS))
        assert "now chatting with gemma3:270m" in Path(path).read_text().replace("&#160;", " ")


async def test_screenshot_of_a_zoomed_pane(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await ask(pilot, app, "Say hi.")
        await pilot.press("f6")  # the chat, whose input has the focus
        await pilot.pause(0.3)
        assert app.query_one("#chat").region.width == 160
        path = app.save_screenshot(filename="zoomed-chat.svg", path=str(SCREENSHOTS))
        assert Path(path).read_text().startswith("<svg")


async def test_screenshot_of_the_conversations_list(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTUI_HOME", str(tmp_path))  # its own kept conversations
    store = ConversationStore()
    now = time.time()
    for hours, title, model in ((50, "Explain the GIL in two sentences", "smollm2:135m"),
                                (5, "Continue: Once upon a time", "gemma3:270m"),
                                (2, "A haiku about the sea", "smollm2:135m")):  # fmt: skip
        turns = [Turn(title, model, now - hours * 3600, Outcome.STOPPED, parts=["…"])]
        store.add(Conversation(0, title, title, model, None, {}, now - hours * 3600,
                               now - hours * 3600, turns))  # fmt: skip
    store.close()
    app = app_for(engine, Settings(keep_chats=True))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(lambda: app.query(Note))
        await pilot.press("ctrl+l")
        await wait_for(lambda: isinstance(app.screen, Conversations))
        await wait_for(lambda: app.screen.query_one(DataTable).row_count == 3)
        await pilot.pause(0.3)
        path = app.save_screenshot(filename="conversations.svg", path=str(SCREENSHOTS))
        assert "A haiku about the sea" in Path(path).read_text().replace("&#160;", " ")
