"""The workbench tried key by key as a new user would (issue 20): each case failed first."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList
from textual.widgets._markdown import MarkdownParagraph
from workbench import app_for, ask, burst, history, notes, prompts, say, sent_before, wait_for

from llmtui import paths
from llmtui.engine import Engine
from llmtui.tui import modelfiles
from llmtui.tui.app import Workbench
from llmtui.tui.chat import ModelSwitch, Note, PromptInput, Reply, Transcript, UserTurn
from llmtui.tui.dialogs import Ask, Confirm, KeyHelp
from llmtui.tui.editor import ModelfileEditor
from llmtui.tui.library import LibraryPane
from llmtui.tui.modelfile_pane import ModelfilePane, shorten_path

SIZE = (160, 45)
# Greedy SmolLM2 writes on past 1,000 tokens on this (bench/engine.py's prompt): stopped at
# 400, a reply that streams for seconds. (Set in the chat: the tests' engine is shared, and
# the settings' parameters are the engine's.)
LONG = "Write a 3000-word essay on the history of Rome."
STREAMING = ("/set parameter num_predict 400", "/set parameter temperature 0")


async def library_on(pilot: object, app: Workbench, name: str) -> LibraryPane:
    library = app.query_one(LibraryPane)
    await wait_for(lambda: library.models)
    await pilot.press("f2")  # type: ignore[attr-defined]
    table = library.query_one(DataTable)
    row = next(i for i, m in enumerate(library.shown) if m.name == name)
    table.move_cursor(row=row)
    await pilot.pause()  # type: ignore[attr-defined]
    return library


# -- switching models --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/load", "library enter", "library e"])
async def test_switching_model_with_unsaved_changes_asks_and_keeps_the_chat(
    engine: Engine, path: str
) -> None:
    """An edit in the Modelfile buffer then a switch: push_screen_wait outside a worker
    killed the app (NoActiveWorker, exit code 0, the chat lost)."""
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Say one word.")
        app.query_one(ModelfileEditor).text += "SYSTEM You are a pirate.\n"
        await pilot.pause()
        assert app.query_one(ModelfileEditor).unsaved
        if path == "/load":
            await say(pilot, "/load gemma3:270m")
        else:
            await library_on(pilot, app, "gemma3:270m")
            await pilot.press("enter" if path == "library enter" else "e")
        await wait_for(lambda: isinstance(app.screen, Confirm), 10)
        await pilot.press("y")
        await wait_for(
            lambda: app.session.model is not None and app.session.model.name == "gemma3:270m", 10
        )
        await pilot.pause()
        assert app.is_running
        # The conversation goes on, and says where the model changed, on every path.
        assert [m.role for m in history(app)] == ["user", "assistant"]
        switch = app.query_one(ModelSwitch)
        assert switch.model == "gemma3:270m"
        assert len(app.query(UserTurn)) == 1


async def test_saying_no_to_the_switch_keeps_model_and_buffer(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ModelfileEditor).text += "SYSTEM You are a pirate.\n"
        await say(pilot, "/load gemma3:270m")
        await wait_for(lambda: isinstance(app.screen, Confirm), 10)
        await pilot.press("n")
        await pilot.pause()
        assert app.session.model is not None and app.session.model.name == "smollm2:135m"
        assert "You are a pirate." in app.query_one(ModelfileEditor).text


async def test_an_unexpected_error_is_shown_logged_and_the_app_goes_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(engine)

    async def broken() -> None:
        raise RuntimeError("something nobody expected")

    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app, "action_clear_chat", broken)
        await pilot.press("f8")
        await pilot.pause()
        assert any("something nobody expected" in n for n in notes(app))
        assert "something nobody expected" in paths.error_log_path().read_text()
        assert "Traceback" in paths.error_log_path().read_text()
        # Still running, and still answering keys.
        await pilot.press(*"still here")
        assert app.query_one(PromptInput).text == "still here"


# -- on screen --------------------------------------------------------------------------


@pytest.mark.parametrize("pane", ["library", "chat", "editor", "stats"])
async def test_f6_zooms_the_focused_pane_to_the_whole_screen(engine: Engine, pane: str) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press({"library": "f2", "chat": "f3", "editor": "f4", "stats": "f5"}[pane])
        await pilot.press("f6")
        await pilot.pause()
        region = app.query_one(f"#{pane}").region
        assert region.width == SIZE[0] and region.height >= SIZE[1] - 2, region
        await pilot.press("f6")
        await pilot.pause()
        assert app.query_one(f"#{pane}").region.width < SIZE[0]


async def test_the_transcript_cursor_shows(engine: Engine) -> None:
    """F3 F3 then Up/Down moved a cursor that `copy` used, but nothing on screen changed:
    its outline was drawn under the reply's children."""
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Say hi.")
        await ask(pilot, app, "Say bye.")
        await pilot.press("f3")  # to the transcript: the cursor on the last reply
        await pilot.pause()
        on_last = app.export_screenshot()
        await pilot.press("up", "up")  # past the prompt, onto the first reply
        await pilot.pause()
        transcript = app.query_one(Transcript)
        assert transcript.cursor is transcript.items()[1]
        assert app.export_screenshot() != on_last


async def test_key_help_scrolls_to_its_last_row_at_80x24(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, KeyHelp)
        table = app.screen.query_one(DataTable)
        assert table.region.bottom <= 24 and table.region.right <= 80
        await pilot.press("down", "down", "pagedown")
        await pilot.pause()
        assert table.cursor_row > 2 and table.scroll_y > 0  # Down and PageDown scroll
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == table.row_count - 1
        assert table.scroll_y == table.max_scroll_y  # the last key is in view


@pytest.mark.parametrize(
    ("width", "narrow"), [(100, True), (109, True), (110, False), (131, False)]
)
async def test_panes_or_tabs_follow_a_resize_at_once(
    engine: Engine, width: int, narrow: bool
) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.resize_terminal(50, 30)
        await pilot.pause()
        await pilot.resize_terminal(width, 40)
        await pilot.pause()
        assert app.screen.has_class("-narrow") == narrow


# -- what the user typed ------------------------------------------------------------------


async def test_history_recall_returns_to_the_draft(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        field = app.query_one(PromptInput)
        sent_before(field, "first", "second")
        await pilot.press(*"my draft")
        await pilot.press("up", "up")
        assert field.text == "first"
        await pilot.press("down", "down")
        assert field.text == "my draft"


async def test_ctrl_t_keeps_the_unsent_text(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Name a fruit.")
        field = app.query_one(PromptInput)
        await pilot.press(*"half a thought")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert field.text == "Name a fruit."
        assert any("unsent text is kept" in n for n in notes(app))
        await pilot.press("down")
        assert field.text == "half a thought"


async def test_enter_while_a_reply_streams_queues_the_prompt(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, *STREAMING, LONG)
        await wait_for(lambda: app.streaming, 10)
        burst(app, *"Now a short one.", "enter")
        await wait_for(lambda: any("queued" in n for n in notes(app)), 10)
        assert app.streaming and len(app.query(UserTurn)) == 1
        # A reply that ends in any way sends what waited (Esc is the one exception, tested
        # below): ended here, rather than after its 400 tokens.
        assert app.chat.handle is not None
        app.chat.handle.cancel()
        await wait_for(lambda: len(app.query(UserTurn)) == 2, 120)
        # The turn is mounted before its prompt joins the history and its request starts:
        # until then the handle is the first reply's, already done.
        await wait_for(lambda: len(prompts(app)) == 2, 10)
        await wait_for(
            lambda: app.chat.handle is not None and app.chat.handle.result is not None, 120
        )
        assert prompts(app) == [LONG, "Now a short one."]


async def test_esc_puts_queued_prompts_back_in_the_input(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, *STREAMING, LONG)
        await wait_for(lambda: app.streaming, 10)
        burst(app, *"Then this.", "enter", "escape")
        await wait_for(lambda: not app.streaming, 10)
        await pilot.pause()
        assert app.query_one(PromptInput).text == "Then this."
        assert len(app.query(UserTurn)) == 1


async def test_typing_in_the_transcript_goes_back_to_the_input(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Say hi.")
        await pilot.press("f3")
        assert isinstance(app.focused, Transcript)
        await pilot.press(*"hello")
        assert isinstance(app.focused, PromptInput)
        assert app.query_one(PromptInput).text == "hello"
        # Enter in the transcript goes back to the input too, and sends nothing.
        await pilot.press("f3", "enter")
        await pilot.pause()
        assert isinstance(app.focused, PromptInput) and len(app.query(UserTurn)) == 1


# -- consistent, and smaller --------------------------------------------------------------


async def test_a_starter_is_not_offered_to_hide(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await library_on(pilot, app, "smollm2:135m")
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, Confirm)
        assert any("is a starter model" in n for n in notes(app))


async def test_f7_names_its_copy_of_the_buffer(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4", "f7")
        await pilot.pause()
        assert app.sub_title == "smollm2:135m (a copy of the editor's buffer)"


async def test_one_enter_in_the_library_filter_opens_the_model(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        library = app.query_one(LibraryPane)
        await wait_for(lambda: library.models)
        await pilot.press("f2", "slash", *"gemma", "enter")
        await wait_for(
            lambda: app.session.model is not None and app.session.model.name == "gemma3:270m", 10
        )
        assert app.query_one(LibraryPane).query_one(Input).value == "gemma"


async def test_refresh_says_what_it_found(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await library_on(pilot, app, "smollm2:135m")
        await pilot.press("r")
        await wait_for(lambda: any("library read again" in n for n in notes(app)), 30)


async def test_the_editor_title_keeps_the_file_name(engine: Engine, tmp_path: Path) -> None:
    assert shorten_path("/tmp/x/data/modelfiles/pirate.Modelfile", 24) == (
        "…lfiles/pirate.Modelfile"
    )
    assert shorten_path("/tmp/pirate.Modelfile", 24) == "/tmp/pirate.Modelfile"
    long = tmp_path / ("a-very-long-folder-name-" * 4) / "pirate.Modelfile"
    long.parent.mkdir(parents=True)
    long.write_text("FROM smollm2:135m\n")
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ModelfileEditor).load(long.read_text(), long)
        app.query_one(ModelfilePane)._show_name()
        await pilot.pause()
        title = str(app.query_one(ModelfilePane).border_subtitle)
        assert title.endswith("/pirate.Modelfile") and title.startswith("…")


async def test_ctrl_end_goes_to_the_end_of_the_file(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.query_one(ModelfileEditor)
        editor.load("FROM smollm2:135m\n" + "# line\n" * 80 + "SYSTEM last\n")
        await pilot.press("f4", "ctrl+home")
        assert editor.cursor_location == (0, 0)
        await pilot.press("ctrl+end")
        assert editor.cursor_location == editor.document.end


async def test_help_lists_the_slash_commands(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/help")
        await pilot.pause()
        assert "/set system TEXT" in app.query_one(Note).text


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_paragraph_keeps_its_line_breaks_when_it_finishes(
    engine: Engine, size: tuple[int, int]
) -> None:
    """Paragraphs re-wrapped one column narrower when they finished streaming (77 -> 76):
    the reply's stats line, shown at the end, could make the transcript scroll, and its
    scrollbar took a column. The transcript keeps the scrollbar's column from the start."""
    app = app_for(engine)
    text = " ".join(f"word{i}" for i in range(120))
    async with app.run_test(size=size) as pilot:
        reply = Reply()
        await app.query_one(Transcript).mount(reply)
        for start in range(0, len(text), 40):
            await reply.write(text[start : start + 40])
            await pilot.pause()
        streamed = [row.rstrip() for row in reply.tail.rows]
        await reply.finish(None, text)
        await pilot.pause()
        paragraph = reply.query(MarkdownParagraph).first()
        lines = paragraph.render_lines(Region(0, 0, paragraph.size.width, paragraph.size.height))
        finished = [line.text.strip() for line in lines if line.text.strip()]
        assert streamed == finished


async def test_open_offers_the_saved_modelfiles_and_tab_completes_paths(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "pirate.Modelfile").write_text("FROM smollm2:135m\nSYSTEM Arr.\n")
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(lambda: isinstance(app.screen, Ask))
        field = app.screen.query_one(Input)
        field.value = str(tmp_path / "pir")
        field.cursor_position = len(field.value)
        await wait_for(lambda: field._suggestion != "", 5)  # the suggester runs as a task
        await pilot.press("tab")
        assert field.value == str(tmp_path / "pirate.Modelfile")
        await pilot.press("escape")
        # The saved ones (this repository's examples, in ./modelfiles) are offered: pick one.
        saved = modelfiles.saved()
        assert saved
        await pilot.press("ctrl+o")
        await wait_for(lambda: isinstance(app.screen, Ask))
        options = app.screen.query_one(OptionList)
        assert [
            str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
        ] == saved
        await pilot.press("down", "enter")
        editor = app.query_one(ModelfileEditor)
        await wait_for(lambda: editor.path == modelfiles.resolve(saved[0]), 5)


async def two_turns_then_the_transcript(pilot: Pilot[None], app: Workbench) -> Transcript:
    # Sampled replies kept short: unbounded, one ran past the 60 s a reply may take.
    await say(pilot, "/set parameter num_predict 48")
    await ask(pilot, app, "Name a fruit.")
    await ask(pilot, app, "Name a colour.")
    await pilot.press("f3")
    return app.query_one(Transcript)


async def test_edit_an_earlier_prompt_and_branch_from_it(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        transcript = await two_turns_then_the_transcript(pilot, app)
        while transcript.cursor is not transcript.items()[0]:
            await pilot.press("up")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert history(app) == [] and not app.query(UserTurn)
        field = app.query_one(PromptInput)
        assert field.text == "Name a fruit." and app.focused is field
        await pilot.press("backspace", *" and a tree.", "enter")
        await wait_for(lambda: app.chat.handle is not None and app.chat.handle.result is not None)
        await pilot.pause()
        assert prompts(app) == ["Name a fruit and a tree."]


async def test_delete_a_prompt_and_its_reply(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        transcript = await two_turns_then_the_transcript(pilot, app)
        while (
            not isinstance(transcript.cursor, Reply) or transcript.cursor is transcript.items()[-1]
        ):
            await pilot.press("up")  # onto the first reply: its prompt goes with it
        await pilot.press("delete")
        await pilot.pause()
        assert prompts(app) == ["Name a colour."]
        assert [t.text for t in app.query(UserTurn)] == ["Name a colour."]
        assert len(app.query(Reply)) == 1
