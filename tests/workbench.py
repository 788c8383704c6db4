"""Helpers for driving the workbench with Pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot

from llmtui.engine import Engine
from llmtui.settings import Settings
from llmtui.tui.app import Workbench


async def wait_for(condition: Callable[[], object], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def app_for(engine: Engine, settings: Settings | None = None) -> Workbench:
    return Workbench("smollm2:135m", engine=engine, settings=settings)


async def ask(pilot: Pilot[None], app: Workbench, text: str) -> None:
    """Type `text`, press Enter, and wait for the whole reply."""
    await pilot.press(*text)
    await pilot.press("enter")
    await wait_for(lambda: app.handle is not None and app.handle.result is not None)
    await pilot.pause()


async def say(pilot: Pilot[None], *lines: str) -> None:
    """Type each line into the chat input and press Enter (a slash command, or a prompt
    whose reply the test does not wait for)."""
    for line in lines:
        await pilot.press(*line)
        await pilot.press("enter")


def notes(app: Workbench) -> list[str]:
    """The notifications on screen, as text."""
    return [str(n.message) for n in app._notifications]
