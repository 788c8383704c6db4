"""The web workbench against the terminal one, streaming the same reply, in one run.

Each round asks the same greedy prompt of smollm2 three ways, a reply of --tokens at most:

  terminal: `llmtui` in a pseudo-terminal of 160x50 (its own engine, in its process);
  socket:   `llmtui web`'s websocket read by a client that draws nothing, as a browser on
            another machine (the tab's process streaming from the shared `llmtui serve`);
  browser:  `llmtui web` in headless Chromium on this machine (Playwright), a page of
            about the same size: its drawing takes CPU from the model's two cores.

Each is timed as a person sees it: from the Enter key to the arrival of the bytes that
draw the reply's stats line (at the pseudo-terminal's reader; at the websocket's client).
Measured on the second prompt of each session, so that loading is not in it.

  (1) tokens/s on screen, web / terminal (goal >= 0.9)
  (2) bytes per token sent to the screen: to the terminal; over the websocket

    python bench/web.py [--rounds 3] [--tokens 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pyte

from llmtui.web.engine import free_port

COLUMNS, LINES = 160, 50
STATS = re.compile(r"(\d+) tokens · [\d.]+ tok/s · first token \d+ ms")
PROMPTS = ("Say hello.", "Write a long story about a lighthouse keeper and the sea.")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


class Watched:
    """A screen fed each frame once, as frames arrive: the bench's own CPU stays small
    (re-reading every frame each time cost it more CPU than the workbench)."""

    def __init__(self, frames: list[tuple[float, bytes]], size: list[int]) -> None:
        self.frames, self.size, self.fed = frames, size, 0
        self.screen: pyte.Screen | None = None

    def rows(self) -> list[str]:
        if self.screen is None or (self.screen.columns, self.screen.lines) != tuple(self.size):
            self.screen, self.fed = pyte.Screen(*self.size), 0
            self.stream = pyte.ByteStream(self.screen)
        for _, data in self.frames[self.fed :]:
            self.stream.feed(data)
        self.fed = len(self.frames)
        return list(self.screen.display)


def long_reply(rows: list[str]) -> int:
    """The long reply's token count once its stats line shows (below its prompt), else 0."""
    below = "\n".join(next((rows[i:] for i, row in enumerate(rows) if PROMPTS[1] in row), []))
    found = STATS.findall(below)
    return int(found[0]) if found else 0


def reply_shown(frames: list[tuple[float, bytes]], size: tuple[int, int]) -> tuple[float, int]:
    """When the long reply's stats line was complete on a screen fed `frames`, and its
    token count."""
    screen = pyte.Screen(*size)
    stream = pyte.ByteStream(screen)
    for when, data in frames:
        stream.feed(data)
        if tokens := long_reply(screen.display):
            return when, tokens
    raise SystemExit("the long reply's stats line never showed")


class Face:
    """One way of showing the workbench: frames as they arrived, and how to type."""

    size: list[int]
    frames: list[tuple[float, bytes]]

    def type(self, text: str) -> None: ...
    def enter(self) -> None: ...
    def pump(self, seconds: float) -> None: ...
    def close(self) -> None: ...


def measure(face: Face) -> tuple[float, int, int]:
    """(seconds from Enter to the long reply's stats line, its tokens, bytes sent)."""
    watched = Watched(face.frames, face.size)

    def shown(test: Callable[[list[str]], object], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            face.pump(0.2)
            if test(watched.rows()):
                return
        raise SystemExit(
            f"{type(face).__name__} never showed {what}:\n" + "\n".join(watched.rows())
        )

    try:
        shown(lambda rows: "smollm2:135m" in "".join(rows), "the workbench", 90)
        face.type(PROMPTS[0])
        face.enter()
        shown(lambda rows: STATS.search("\n".join(rows)), "the first reply", 120)
        face.type(PROMPTS[1])
        face.pump(0.5)
        began, start = time.perf_counter(), len(face.frames)
        face.enter()
        shown(long_reply, "the long reply", 300)
        ended, tokens = reply_shown(face.frames, (face.size[0], face.size[1]))
        sent = sum(len(data) for when, data in face.frames[start:] if when <= ended)
        return ended - began, tokens, sent
    finally:
        face.close()


class Terminal(Face):
    """`llmtui` in a pseudo-terminal: its own engine, in its process."""

    def __init__(self, env: dict[str, str]) -> None:
        self.size, self.frames = [COLUMNS, LINES], []
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(sys.executable, [sys.executable, "-m", "llmtui"], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def enter(self) -> None:
        os.write(self.fd, b"\r")

    def pump(self, seconds: float) -> None:
        done = time.monotonic() + seconds
        while time.monotonic() < done:
            if select.select([self.fd], [], [], 0.05)[0]:
                self.frames.append((time.perf_counter(), os.read(self.fd, 65536)))

    def close(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@contextlib.contextmanager
def web_workbench(env: dict[str, str]) -> Iterator[int]:
    """`llmtui web` on a free port (and the shared engine it starts)."""
    port = free_port()
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115
    web = subprocess.Popen([sys.executable, "-m", "llmtui", "web", "--port", str(port)],
                           stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "the workbench on" not in (log.seek(0) or log.read()):
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit(f"llmtui web did not start: {log.read()}")
            time.sleep(0.1)
        yield port
    finally:
        web.terminate()
        web.wait(30)


class Socket(Face):
    """The web workbench's websocket, read as a browser on another machine would: the
    frames arrive here, and nothing here draws them. (Its own event loop, on a thread:
    Playwright's sync API holds this thread's.)"""

    def __init__(self, port: int) -> None:
        self.size, self.frames = [COLUMNS, LINES], []
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{port}/ws?width={COLUMNS}&height={LINES}"
        self.session, self.ws = self._run(self._connect(url))
        self.reading = asyncio.run_coroutine_threadsafe(self._read(), self.loop)

    def _run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    async def _connect(self, url: str) -> tuple[aiohttp.ClientSession, Any]:
        session = aiohttp.ClientSession()
        return session, await session.ws_connect(url)

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.frames.append((time.perf_counter(), message.data))

    def type(self, text: str) -> None:
        self._run(self.ws.send_str(json.dumps(["stdin", text])))

    def enter(self) -> None:
        self.type("\r")

    def pump(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self._run(self.ws.close())
        self._run(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


class Browser(Face):
    """The web workbench in a Chromium tab on this machine (about the terminal's 160x50
    at the page's 16 px font)."""

    def __init__(self, port: int, chromium: Any) -> None:
        self.size, self.frames = [COLUMNS, LINES], []
        self.page = chromium.new_page(viewport={"width": 1540, "height": 1000})

        def sent(payload: str | bytes) -> None:
            if isinstance(payload, str) and payload.startswith('["resize"'):
                size = json.loads(payload)[1]
                self.size[:] = [size["width"], size["height"]]

        def received(payload: str | bytes) -> None:
            if isinstance(payload, bytes):
                self.frames.append((time.perf_counter(), payload))

        def watch(ws: Any) -> None:
            ws.on("framereceived", received)
            ws.on("framesent", sent)

        self.page.on("websocket", watch)
        self.page.goto(f"http://127.0.0.1:{port}/")
        self.page.wait_for_timeout(1000)
        self.page.locator(".xterm-helper-textarea").focus()

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def enter(self) -> None:
        self.page.keyboard.press("Enter")

    def pump(self, seconds: float) -> None:
        self.page.wait_for_timeout(seconds * 1000)  # Playwright delivers frames meanwhile

    def close(self) -> None:
        self.page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=300)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="llmtui-bench-web-"))
    (home / "config").mkdir()
    (home / "config" / "settings.toml").write_text(
        f"keep_chats = false\n[parameters]\nnum_predict = {args.tokens}\ntemperature = 0\n"
    )
    env = {**os.environ, "LLMTUI_HOME": str(home), "TERM": "xterm-256color"}
    from playwright.sync_api import sync_playwright

    faces = ("terminal", "socket", "browser")
    results: dict[str, list[tuple[float, int, int]]] = {face: [] for face in faces}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=CHROMIUM_ARGS)  # fmt: skip
        for round_ in range(args.rounds):
            for face in faces[round_ % 3 :] + faces[: round_ % 3]:  # each goes first in turn
                if face == "terminal":
                    seconds, tokens, sent = measure(Terminal(env))
                else:
                    with web_workbench(env) as port:
                        shown = Socket(port) if face == "socket" else Browser(port, chromium)
                        seconds, tokens, sent = measure(shown)
                results[face].append((seconds, tokens, sent))
                print(f"round {round_ + 1} {face:8}: {tokens} tokens in {seconds:.2f} s = "
                      f"{tokens / seconds:.1f} tok/s on screen, {sent / tokens:.0f} bytes a "
                      "token", flush=True)  # fmt: skip
        chromium.close()
    rate = {face: statistics.median(t / s for s, t, _ in runs) for face, runs in results.items()}
    size = {face: statistics.median(b / t for _, t, b in runs) for face, runs in results.items()}
    print(f"(1) tokens/s on screen (medians): terminal {rate['terminal']:.1f}; web, the browser "
          f"elsewhere {rate['socket']:.1f}: {rate['socket'] / rate['terminal']:.3f} of the "
          f"terminal's (goal >= 0.9); web, Chromium on this machine {rate['browser']:.1f}: "
          f"{rate['browser'] / rate['terminal']:.3f}")  # fmt: skip
    print(f"(2) bytes per token: to the terminal {size['terminal']:.0f}, over the websocket "
          f"{size['socket']:.0f} (to Chromium {size['browser']:.0f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
