"""Every workbench action, driven by Pilot on the real starter model."""

from __future__ import annotations

import os
from pathlib import Path

from hubserver import FakeHub
from textual.command import CommandPalette
from textual.widgets import DataTable, Input
from textual.widgets.markdown import MarkdownFence
from workbench import app_for, ask, burst, history, notes, say, wait_for

from llmtui import drafts, library
from llmtui.chat import Outcome
from llmtui.engine import Engine
from llmtui.settings import Settings
from llmtui.tui.app import Workbench
from llmtui.tui.chat import Note, PromptInput, Reply, Transcript, UserTurn
from llmtui.tui.dialogs import Ask, Confirm, KeyHelp
from llmtui.tui.editor import ERROR, ModelfileEditor
from llmtui.tui.keys import PALETTE_ONLY
from llmtui.tui.library import LibraryPane
from llmtui.tui.pull import PullDialog

SIZE = (160, 45)


async def test_regenerate_replaces_the_last_reply(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Name a fruit.")
        first = app.chat.handle
        await pilot.press("ctrl+r")
        await wait_for(lambda: app.chat.handle is not first and app.chat.handle.result is not None)  # type: ignore[union-attr]
        await pilot.pause()
        assert [m.role for m in history(app)] == ["user", "assistant"]
        assert history(app)[0].content == "Name a fruit."
        assert len(app.query(UserTurn)) == 1 and len(app.query(Reply)) == 1


async def test_edit_and_resend_the_last_prompt(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Name a fruit.")
        await pilot.press("ctrl+t")
        await pilot.pause()
        prompt = app.query_one(PromptInput)
        assert prompt.text == "Name a fruit." and history(app) == []
        assert not app.query(UserTurn) and not app.query(Reply)
        first = app.chat.handle
        await pilot.press("backspace", *" and a colour.")
        await pilot.press("enter")
        await wait_for(lambda: app.chat.handle is not first and app.chat.handle.result is not None)  # type: ignore[union-attr]
        assert history(app)[0].content == "Name a fruit and a colour."


async def test_regenerate_with_nothing_to_regenerate_says_so(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "there is no reply to take back yet" in notes(app)
        assert app.chat.handle is None


async def test_copy_a_reply_and_a_code_block_by_osc52(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Say hello.")
        written: list[str] = []
        driver = app._driver
        assert driver is not None
        original = driver.write
        driver.write = lambda data: (written.append(data), original(data))[1]  # type: ignore[method-assign]
        await pilot.press("f3")  # from the input to the transcript
        transcript = app.query_one(Transcript)
        assert isinstance(app.focused, Transcript)
        while not isinstance(transcript.cursor, Reply):  # past any code block in the reply
            await pilot.press("up")
        await pilot.press("ctrl+c")
        reply = app.query_one(Reply).text
        assert app.clipboard == reply and reply
        assert any(w.startswith("\x1b]52;c;") for w in written)
        # A reply with a code block: the cursor moves onto the block, Ctrl+C copies its code.
        code_reply = Reply()
        await app.query_one(Transcript).mount(code_reply)
        await code_reply.finish(None, "Here:\n\n```python\nprint('hi')\n```\n\nDone.")
        await pilot.pause()
        await pilot.press("end", "down", "down", "down")
        assert isinstance(app.query_one(Transcript).cursor, MarkdownFence)
        await pilot.press("ctrl+c")
        assert app.clipboard == "print('hi')"
        await pilot.press("up")
        await pilot.press("ctrl+c")
        assert app.clipboard.startswith("Here:")


async def test_slash_commands_set_system_and_parameters_on_the_chat(engine: Engine) -> None:
    """As in `llmtui run` (and Ollama): /set changes the chat, over the model's own
    Modelfile, which the editor keeps showing as it is; the chat's border says what is set."""
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        buffer = app.query_one(ModelfileEditor).text
        await say(pilot, "/set parameter temperature 0.25")
        await say(pilot, "/set system You answer in French.")
        await pilot.pause()
        assert app.session.options == {"temperature": 0.25}
        assert app.session.system == "You answer in French."
        assert app.query_one(ModelfileEditor).text == buffer
        assert "temperature 0.25" in str(app.chat.border_subtitle)
        await say(pilot, "/show modelfile")
        await pilot.pause()
        shown = app.query(Note).last().text
        assert "PARAMETER temperature 0.25" in shown and "You answer in French." in shown
        await say(pilot, "/set parameter temprature 1")
        await say(pilot, "/frobnicate")
        await pilot.pause()
        said = notes(app)
        assert (
            "Couldn't set parameter: unknown option 'temprature' (did you mean temperature?)"
            in said
        )
        assert "Unknown command '/frobnicate'. Type /? for help" in said
        await ask(pilot, app, "Hello!")  # still answering, with the new settings
        assert history(app)[-1].role == "assistant"
        assert app.chat.handle is not None and app.chat.handle.job.options.temperature == 0.25


async def test_prompt_over_the_context_is_a_notification(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await say(pilot, "/set parameter num_ctx 64")
        app.query_one(PromptInput).text = "tell me " * 300
        await pilot.press("enter")
        await wait_for(lambda: app.chat.handle is not None and app.chat.handle.result is not None)
        await pilot.pause()
        assert any("num_ctx" in n for n in notes(app))
        # The failed turn stays on screen, said to be failed, and is not sent again...
        assert history(app) == [] and app.session.turns[-1].outcome is Outcome.FAILED
        assert "Ctrl+R retries" in str(app.query_one(Reply).stats.render())
        await say(pilot, "/set parameter num_ctx 2048", "/set parameter num_predict 32")
        # ...and Ctrl+R retries what the user sees: the same prompt, in the same place.
        await pilot.press("ctrl+r")
        await wait_for(lambda: app.session.turns[-1].outcome is Outcome.DONE)
        await pilot.pause()
        assert [t.prompt for t in app.session.turns] == [("tell me " * 300).strip()]
        assert len(app.query(UserTurn)) == 1 and len(app.query(Reply)) == 1
        assert history(app)[-1].role == "assistant"


async def test_a_broken_model_is_a_notification(engine: Engine, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 100)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ModelfileEditor).text = f"FROM {broken}\n"
        await pilot.press("f7")
        await pilot.pause()
        assert any("broken.gguf" in n for n in notes(app))
        await ask(pilot, app, "Hi.")  # the chat goes on with the model it had
        assert history(app)[-1].role == "assistant"


async def test_editor_marks_the_error_line(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.query_one(ModelfileEditor)
        editor.text = "FROM smollm2:135m\nPARAMETER temprature 0.5\n"
        await pilot.pause()
        assert any(name == ERROR for _, _, name in editor._highlights[1])
        editor.text = "FROM smollm2:135m\nPARAMETER temperature 0.5\n"
        await pilot.pause()
        assert not any(name == ERROR for row in editor._highlights.values() for *_, name in row)


async def test_save_open_and_the_unsaved_mark(engine: Engine, tmp_path: Path) -> None:
    app = app_for(engine)
    target = tmp_path / "pirate.Modelfile"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        editor = app.query_one(ModelfileEditor)
        editor.text = "FROM smollm2:135m\nSYSTEM Talk like a pirate.\n"
        await pilot.pause()
        assert "unsaved" in str(app.query_one("#validation").render())
        await pilot.press("ctrl+s")  # no file yet: asks where
        await wait_for(lambda: isinstance(app.screen, Ask))
        burst(app, *str(target), "enter")  # a path, typed as a terminal delivers it
        await wait_for(lambda: target.exists())
        assert target.read_text() == "FROM smollm2:135m\nSYSTEM Talk like a pirate.\n"
        assert not editor.unsaved and not drafts.draft_path().exists()
        other = tmp_path / "other.Modelfile"
        other.write_text("FROM smollm2:135m\nPARAMETER top_k 5\n")
        await pilot.press("ctrl+o")
        await wait_for(lambda: isinstance(app.screen, Ask))
        burst(app, *str(tmp_path / "missing"), "enter")
        await wait_for(lambda: "no such file" in str(app.screen.query_one(".error").render()))
        app.screen.query_one(Input).value = str(other)
        await pilot.press("enter")
        await wait_for(lambda: editor.path == other)
        assert editor.text == other.read_text() and not editor.unsaved


async def test_draft_survives_a_crash_and_quit_is_guarded(engine: Engine) -> None:
    drafts.discard()
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ModelfileEditor).text = "FROM smollm2:135m\nPARAMETER seed 7\n"
        await wait_for(lambda: drafts.draft_path().exists())
        await pilot.press("ctrl+q")
        await wait_for(lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, Confirm)
    # The app above never saved: the next one finds the draft.
    again = app_for(engine)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.query_one(ModelfileEditor).text == "FROM smollm2:135m\nPARAMETER seed 7\n"
        assert any("restored the unsaved Modelfile draft" in n for n in notes(again))
        await pilot.press("ctrl+q")
        await wait_for(lambda: isinstance(again.screen, Confirm))
        await pilot.press("y")
        await wait_for(lambda: not again.is_running)
    drafts.discard()


async def test_create_a_model_from_the_buffer(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(ModelfileEditor).text = "FROM smollm2:135m\nPARAMETER temperature 0.1\n"
        await pilot.press("f9")
        await wait_for(lambda: isinstance(app.screen, Ask))
        await pilot.press(*"bad name!", "enter")
        assert isinstance(app.screen, Ask)  # refused, and said why
        assert "name" in str(app.screen.query_one(".error").render())
        app.screen.query_one(Input).value = "calm-smol"
        await pilot.press("enter")
        await wait_for(lambda: app.sub_title == "calm-smol:latest")
        assert library.find("calm-smol").spec().options["temperature"] == 0.1
        await ask(pilot, app, "Hi.")
        assert history(app)[-1].role == "assistant"


async def test_library_copy_and_delete(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LibraryPane)
        await wait_for(lambda: pane.shown)
        await pilot.press("f2", "slash", *"smollm2", "enter")  # opens it, in the chat
        assert pane.highlighted() is not None and pane.highlighted().name == "smollm2:135m"  # type: ignore[union-attr]
        await pilot.press("f2", "c")
        await wait_for(lambda: isinstance(app.screen, Ask))
        await pilot.press(*"smol-copy", "enter")
        await wait_for(lambda: any(m.name == "smol-copy:latest" for m in pane.models))
        await wait_for(lambda: pane.highlighted() and pane.highlighted().name == "smol-copy:latest")  # type: ignore[union-attr]
        await pilot.press("d")
        await wait_for(lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(lambda: not any(m.name == "smol-copy:latest" for m in pane.models))
        # A starter model cannot be deleted: said, and nothing is asked.
        await pilot.press("slash", "ctrl+u", *"smollm2", "enter", "f2", "d")
        await pilot.pause()
        assert not isinstance(app.screen, Confirm)
        assert any("is a starter model" in n for n in notes(app))
        assert any(m.name == "smollm2:135m" for m in library.list_models())


async def test_pull_dialog_pulls_and_cancels(engine: Engine, fake_hub: FakeHub) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", "p")
        await wait_for(lambda: isinstance(app.screen, PullDialog))
        dialog = app.screen
        # A search first: the hits fill a table; Enter on one pulls it.
        await pilot.press(*"variant", "enter")
        await wait_for(lambda: dialog.query_one(DataTable).row_count > 0)
        fake_hub.slow["Variant-135M.Q4_1.gguf"] = 20_000_000
        await pilot.press("enter")
        parts = Path(os.environ["HF_HOME"])
        await wait_for(lambda: any(p.stat().st_size > 500_000 for p in parts.rglob("*.part")))
        await pilot.press("escape")  # cancels the download, keeps the dialog
        await wait_for(lambda: not dialog.pulling)  # type: ignore[attr-defined]
        assert "pull cancelled" in str(dialog.query_one("#status").render())
        del fake_hub.slow["Variant-135M.Q4_1.gguf"]
        dialog.query_one(Input).value = "hf.co/tester/Variant-GGUF:Q4_1"
        dialog.query_one(Input).focus()
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, PullDialog), timeout=120)
        pane = app.query_one(LibraryPane)
        await wait_for(lambda: any("Variant" in m.name for m in pane.models))
        assert "Variant" in pane.highlighted().name  # type: ignore[union-attr]
        # A reference to nothing: said in the dialog, which stays open.
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, PullDialog))
        await pilot.press(*"hf.co/tester/no-gguf", "enter")
        await wait_for(lambda: "no GGUF files" in str(app.screen.query_one("#status").render()))
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, PullDialog))


async def test_key_help_lists_every_binding_and_the_keymap_remaps(engine: Engine) -> None:
    app = app_for(
        engine, Settings(keymap={"pane.library": "f10", "no.such": "f11"}, keep_chats=False)
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("keymap: no key called no.such" in n for n in notes(app))
        await pilot.press("f10")
        assert app.query_one("#library").has_class("-current")
        await pilot.press("f1")
        await wait_for(lambda: isinstance(app.screen, KeyHelp))
        table = app.screen.query_one(DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        ids = {row[2] for row in rows}
        assert {"chat.stop", "chat.regenerate", "editor.save", "library.delete",
                "transcript.copy", "pull.cancel"} <= ids  # fmt: skip
        assert ["everywhere", "f10", "pane.library", "Library"] in rows
        await pilot.press("escape")
        assert not isinstance(app.screen, KeyHelp)


async def test_palette_has_every_action_and_runs_them(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, app, "Hi.")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for binding in Workbench.BINDINGS:
            if binding.id != "app.quit":  # type: ignore[union-attr]
                assert binding.description in titles  # type: ignore[union-attr]
        assert {title for title, _, _ in PALETTE_ONLY} <= titles
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Clear chat")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(lambda: not app.query(Reply))
        assert history(app) == []


async def test_follow_stops_when_scrolled_up_and_end_resumes(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(100, 24)) as pilot:
        # Greedy, this prompt gives 1,200 tokens: time enough to scroll while it streams
        # (600 ran out in the suite, where the shared engine has the prompt cached and
        # flash attention is on).
        await say(pilot, "/set parameter num_predict 1200", "/set parameter temperature 0")
        await say(pilot, "Write a 3000-word essay on the history of Rome.")
        transcript = app.query_one(Transcript)
        await wait_for(lambda: transcript.max_scroll_y > 5)
        await pilot.press("f3")
        assert isinstance(app.focused, Transcript)
        # A page up can land before the anchor's own scroll to the end of the newest line,
        # which then follows again: as a person would, press it until the view stays up.
        for _ in range(20):
            await pilot.press("pageup")
            await pilot.pause(0.2)
            if app.query_one("#jump").display:
                break
        assert app.query_one("#jump").display and not transcript.following
        await pilot.press("end")
        await wait_for(lambda: transcript.following)
        await pilot.pause(0.2)  # a few more tokens: the view goes on following them
        assert transcript.following and not app.query_one("#jump").display
        assert app.streaming  # (the rest of the 1,200 tokens would only take the suite's time)
        await pilot.press("escape")
        await wait_for(lambda: not app.streaming)


async def test_quit_while_streaming_cancels_the_reply(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        # Greedy, this story runs past 3,000 tokens: it cannot end by itself before Ctrl+Q
        # (a sampled one ended within the second that the test took on a busy CI machine).
        await say(pilot, "/set parameter temperature 0", "/set parameter num_predict 3000")
        await say(pilot, "Write a very long story about a dragon.")
        await wait_for(lambda: app.chat.reply is not None and app.chat.reply.text)
        handle = app.chat.handle
        await pilot.press("ctrl+q")
        await wait_for(lambda: not app.is_running, timeout=5)
    assert handle is not None
    assert handle.wait().done_reason == "cancel"
