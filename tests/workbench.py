"""Helpers for driving the workbench with Pilot."""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.app import App
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.pilot import Pilot

from llmtui.engine import Engine, Message
from llmtui.settings import Settings
from llmtui.tui.app import Workbench
from llmtui.tui.chat import PromptInput

# `make screenshots` points this at screenshots/; a plain test run keeps the tree clean.
SCREENSHOTS = Path(
    os.environ.get("LLMTUI_SCREENSHOTS") or Path(os.environ["LLMTUI_HOME"]) / "shots"
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)


async def wait_for(condition: Callable[[], object], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


# Replies end by themselves: a sampled reply of a 135M model can go on to num_ctx, and a
# "Say hi." once ran past a test's 60 s on a CI machine. Tests that need a long reply /set it.
REPLY_TOKENS = {"num_predict": 200}


def app_for(engine: Engine, settings: Settings | None = None) -> Workbench:
    """The workbench on smollm2, without kept conversations unless `settings` says (they
    would be offered at every start, in every screenshot: test_conversations.py tests them,
    each in a home of its own)."""
    settings = settings or Settings(keep_chats=False, parameters=REPLY_TOKENS)
    return Workbench("smollm2:135m", engine=engine, settings=settings)


async def enter(pilot: Pilot[None], line: str) -> None:
    """Type `line` into the focused field, as a terminal delivers it, then press Enter.
    Not Pilot's `press` for each key: it waits after each for the process to idle, which
    it never does while a model streams in it (a second a key), and 20-40 ms otherwise."""
    field = pilot.app.focused
    if isinstance(field, PromptInput) and field.text == "":
        burst(pilot.app, *line)
        await wait_for(lambda: field.text == line, 10)
    else:
        await pilot.press(*line)
    await pilot.press("enter")


async def ask(pilot: Pilot[None], app: Workbench, text: str) -> None:
    """Type `text`, press Enter, and wait for the whole reply."""
    await enter(pilot, text)
    await wait_for(lambda: app.chat.handle is not None and app.chat.handle.result is not None)
    await pilot.pause()


async def say(pilot: Pilot[None], *lines: str) -> None:
    """Type each line into the chat input and press Enter (a slash command, or a prompt
    whose reply the test does not wait for)."""
    for line in lines:
        await enter(pilot, line)


def history(app: Workbench) -> list[Message]:
    """What the model is sent next: the session's answered turns (and its system prompt)."""
    return app.session.messages()


def prompts(app: Workbench) -> list[str]:
    """The conversation's prompts, the one being answered too."""
    return [turn.prompt for turn in app.session.turns]


def notes(app: Workbench) -> list[str]:
    """The notifications on screen, as text."""
    return [str(n.message) for n in app._notifications]


async def prompt_focused(app: Workbench) -> None:
    """Until the chat's input has the focus, as it has once the app is up: keys sent before
    that went elsewhere (the first Up of a burst, on a busy machine)."""
    await wait_for(lambda: isinstance(app.focused, PromptInput), 10)


def burst(app: App[None], *keys: str) -> None:
    """Keys as a terminal delivers a burst (a prompt typed by tmux send-keys, a paste
    without bracketed paste, keys over SSH): all at once, none waiting for the one before
    to be handled, as Pilot's `press` does. Each is a character or a key's name."""
    driver = app._driver
    assert driver is not None
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        driver.send_message(event)


def sent_before(field: PromptInput, *prompts: str) -> None:
    """As if `prompts` had been sent from `field` earlier: Up recalls them."""
    field.sent.extend(prompts)
    field._recall = len(field.sent)
