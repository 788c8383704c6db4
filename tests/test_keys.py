"""Keys that arrive in one burst are handled in the order they came (issue 13, part 1).

A terminal delivers what tmux `send-keys`, a paste without bracketed paste, or an SSH link
sends in one write as one read: Textual then ran a priority binding (Enter, F7) while the
keys before it still waited for their widget, and a widget's own bindings (Backspace, the
arrows, Ctrl+J) when the key had bubbled back to the app, after the next keys. Each case
here fails with Textual's own key handling (checked by making `Workbench` a plain `App`).
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from textual import events
from textual.app import App
from workbench import app_for, burst, prompt_focused, prompts, sent_before, wait_for

from llmtui.engine import Engine
from llmtui.tui import overrides
from llmtui.tui.chat import PromptInput
from llmtui.tui.editor import ModelfileEditor
from llmtui.tui.overrides import KEY_TIMEOUT

SIZE = (160, 45)
PROMPT = "Name the seven colours of the rainbow, then stop: zebrafinch"


async def test_a_prompt_typed_in_one_burst_is_sent_whole(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await prompt_focused(app)
        burst(app, *PROMPT, "enter")
        await wait_for(lambda: app.chat.handle is not None and app.chat.handle.result is not None)
        await pilot.pause()
        assert prompts(app)[0] == PROMPT
        assert app.query_one(PromptInput).text == ""


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        # Backspace deletes the character before it, not the one typed after it.
        (["a", "b", "c", "d", "backspace", "X"], "abcX"),
        # The arrows move the cursor before the next character is typed.
        (["a", "b", "c", "left", "left", "Y"], "aYbc"),
        (["a", "b", "home", "Z", "end", "!"], "Zab!"),
        # Ctrl+J's newline lands where it was pressed.
        (["o", "n", "e", "ctrl+j", "t", "w", "o"], "one\ntwo"),
        # Ctrl+W deletes the word before it, not the one typed after it.
        (["o", "n", "e", "space", "t", "w", "o", "ctrl+w", "x"], "one x"),
    ],
)
async def test_editing_keys_in_a_burst_apply_in_order(
    engine: Engine, keys: list[str], expected: str
) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await prompt_focused(app)
        burst(app, *keys)
        # Each key waits for the one before it to be handled: on a CI machine whose other
        # worker streams a model, six keys took longer than 5 s once.
        with contextlib.suppress(AssertionError):
            await wait_for(lambda: app.query_one(PromptInput).text == expected, timeout=20)
        await pilot.pause()
        assert app.query_one(PromptInput).text == expected


async def test_history_recall_in_a_burst_sends_the_recalled_prompt(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        sent_before(app.query_one(PromptInput), "Say one.", "Say two.")
        await prompt_focused(app)
        burst(app, "up", "up", "enter")
        # Sent is enough: a reply at Ollama's default sampling may run to the end of the
        # context (over a minute on a busy 2-core machine).
        await wait_for(lambda: app.chat.handle is not None)
        await pilot.pause()
        assert prompts(app)[0] == "Say one."
        await pilot.press("escape")


async def test_an_editor_change_typed_with_f7_in_one_burst_reaches_the_chat(
    engine: Engine,
) -> None:
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        editor = app.query_one("#modelfile", ModelfileEditor)
        editor.move_cursor(editor.document.end)
        burst(app, "enter", *"SYSTEM Be a pirate.", "f7")
        await wait_for(
            lambda: app.session.spec is not None and app.session.spec.system is not None, 5
        )
        assert app.session.spec is not None and app.session.spec.system == "Be a pirate."


async def test_a_key_whose_widget_goes_away_holds_up_the_next_keys_briefly(
    engine: Engine,
) -> None:
    """Enter in a dialog's field closes the dialog while the key is handled: the marker
    that follows the key never comes back, and the keys after it go on regardless."""
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")  # the command palette: a screen Enter closes
        await pilot.pause()
        burst(app, "escape", *"hi")
        await wait_for(lambda: app.query_one(PromptInput).text == "hi", KEY_TIMEOUT * 4)


async def test_keys_stay_in_order_when_their_markers_are_late(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a key's marker can come back after KEY_TIMEOUT, and the next key is handed
    on without it. That check ran in a timer's own task, beside the app's loop, while the
    loop was inside Textual's handling of a key: the next key overtook it ("Hello" typed in
    tmux while a model loaded came out "Hlelo"). Here every marker is late, and Textual's
    handling of a key takes a while (an "e" longer than the others)."""
    monkeypatch.setattr(overrides, "KEY_TIMEOUT", 0.0)
    handle = App.on_event

    async def slow(self: App[None], event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            await asyncio.sleep(0.15 if event.key == "e" else 0.01)
        await handle(self, event)

    monkeypatch.setattr(App, "on_event", slow)
    app = app_for(engine)
    async with app.run_test(size=SIZE) as pilot:
        await prompt_focused(app)
        burst(app, *"Hello there, zebrafinch")
        field = app.query_one(PromptInput)
        await wait_for(lambda: len(field.text) == len("Hello there, zebrafinch"), 10)
        await pilot.pause()
        assert field.text == "Hello there, zebrafinch"
