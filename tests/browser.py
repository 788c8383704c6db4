"""A real `llmtui web`, and Debian's Chromium driven by Playwright, for the web tests.

What a tab shows is read from what its browser received: the websocket's frames are the
workbench's terminal output, fed to a terminal emulator (pyte) as big as the page's
terminal (the size the page sent). The page draws them on a canvas, which holds no text."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyte
import pytest
from serving import Spawned

CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes say Chromium must start here: without the networking flags it
# tries Google's hosts at every start, and this network refuses them.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def need_chromium() -> None:
    """Skip without Chromium, but on CI, whose script installs it: fail there."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{CHROMIUM} is missing: .ci/run installs it (apt chromium)")
        pytest.skip("needs Debian's chromium (apt install chromium)")


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


class Web(Spawned):
    """`llmtui web` on a free port, with its own home and shared engine."""

    def __init__(self, home: Path, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__("web", *args, env={**os.environ, "LLMTUI_HOME": str(home), **(env or {})})
        said = wait_until(lambda: self._address() or self.process.poll() is not None, 90,
                          "llmtui web to start")  # fmt: skip
        if said is True:
            raise AssertionError(f"llmtui web did not start: {self.logged()}")
        # It says its address just before it listens: wait for the port (CI saw a refusal).
        wait_until(self._listening, 30, "llmtui web to listen")
        self.engine = re.findall(r"by the engine at (\S+)", self.logged())[0]

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _address(self) -> str | None:
        found = re.findall(r"the workbench on (\S+)", self.logged())
        return found[0] if found else None

    @property
    def address(self) -> str:
        found = self._address()
        assert found is not None
        return found

    def loaded(self) -> list[dict[str, Any]]:
        models: list[dict[str, Any]] = httpx.get(f"{self.engine}/api/ps").json()["models"]
        return models


class Tab:
    """One browser tab on the web workbench, and what it was sent."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.received: list[tuple[float, bytes]] = []
        self.size = (80, 24)
        self.requests: list[str] = []  # every address the page asked for
        page.on("request", lambda request: self.requests.append(request.url))

        def watch(socket: Any) -> None:
            socket.on("framereceived", self._received)
            socket.on("framesent", self._sent)

        page.on("websocket", watch)
        page.goto(url)

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):  # the terminal's output (text frames are pongs)
            self.received.append((time.perf_counter(), payload))

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            size = json.loads(payload)[1]
            self.size = (size["width"], size["height"])

    def screen(self) -> str:
        """The tab's screen as its browser has it now."""
        *_, last = self.screens()
        return last

    def screens(self, since: int = 0) -> Iterator[str]:
        """The screen after each frame from the `since`th (the first: as it was before)."""
        screen = pyte.Screen(*self.size)
        stream = pyte.ByteStream(screen)
        for _, data in self.received[:since]:
            stream.feed(data)
        yield "\n".join(screen.display)
        for _, data in self.received[since:]:
            stream.feed(data)
            yield "\n".join(screen.display)

    def wait_for(self, text: str, timeout: float = 60, count: int = 1) -> str:
        """The screen once it shows `text` (`count` times)."""
        deadline = time.monotonic() + timeout
        while (shown := self.screen()).count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed {count}x; the tab shows:\n{shown}")
            # Not time.sleep: Playwright delivers the websocket's frames only while one of
            # its calls waits.
            self.page.wait_for_timeout(100)
        return shown

    def paste(self, text: str) -> None:
        """As the browser delivers a paste: one event, the text whole (xterm.js sends it
        to the app as a bracketed paste)."""
        self.page.locator(".xterm-helper-textarea").focus()
        self.page.evaluate(
            """(text) => {
                const data = new DataTransfer();
                data.setData("text/plain", text);
                document.querySelector(".xterm-helper-textarea").dispatchEvent(
                    new ClipboardEvent("paste", {clipboardData: data, bubbles: true,
                                                 cancelable: true}));
            }""",
            text,
        )

    def type(self, text: str) -> None:
        """As a person types into the page: keys into xterm.js's input, in one burst."""
        self.page.locator(".xterm-helper-textarea").focus()
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")


def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)  # fmt: skip
        try:
            yield chromium
        finally:
            chromium.close()
