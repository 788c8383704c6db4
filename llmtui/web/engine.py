"""The shared engine of `llmtui web`: a `llmtui serve` on loopback, found or started.

Every browser tab is a workbench process of its own; they all send their models' requests
here, so a model is loaded once however many tabs chat with it (and answered together:
the server's continuous batching)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from llmtui import paths
from llmtui.cli.serve import address, is_loopback
from llmtui.remote.shared import TOKEN_ENV

START_TIMEOUT = 60.0  # seconds for a started server to answer (a cold import on CI)


class SharedEngineError(RuntimeError):
    """No shared engine to use: one line."""


def is_llmtui(url: str, timeout: float = 2.0) -> bool:
    """Whether a `llmtui serve` answers at `url` (Ollama's own would not know our models),
    with LLMTUI_API_TOKEN if it asks for one (the tabs send it too)."""
    request = urllib.request.Request(f"{url}/api/version")
    if token := os.environ.get(TOKEN_ENV):
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return bool(json.load(reply).get("server") == "llmtui")
    except (OSError, ValueError, AttributeError):
        return False


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def shared_engine(
    url: str | None, parallel: int | None, environ: Mapping[str, str] = os.environ
) -> Iterator[str]:
    """The URL of the engine the tabs share: `url` if given (it must be a llmtui serve),
    else one already serving at `serve`'s own address, else one started here on a free
    loopback port and stopped when the block ends."""
    if url:
        url = url.rstrip("/")
        if not is_llmtui(url):
            raise SharedEngineError(f"no `llmtui serve` answers at {url} (--engine); start "
                                    "one there, or leave --engine out")  # fmt: skip
        yield url
        return
    host, port = address(None, None)
    found = f"http://{host}:{port}"
    if is_loopback(host) and is_llmtui(found, timeout=0.5):
        yield found
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "llmtui", "serve", "--host", f"127.0.0.1:{port}"]
    if parallel is not None:
        command += ["--parallel", str(parallel)]
    # A token set for the web face is not the server's: it stays on loopback without one.
    env = {k: v for k, v in environ.items() if k != TOKEN_ENV}
    log = paths.web_engine_log_path()
    paths.ensure(log.parent)
    with log.open("w", encoding="utf-8") as output:  # its requests, and why it stopped
        server = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_for(server, url, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not is_llmtui(url, timeout=1.0):
        if server.poll() is not None:
            said = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise SharedEngineError(
                "the shared engine (`llmtui serve`) did not start: "
                + (said[-1] if said else f"exit {server.returncode}")
            )
        if time.monotonic() > deadline:
            raise SharedEngineError(f"the shared engine (`llmtui serve`) did not answer at "
                                    f"{url} within {START_TIMEOUT:.0f} s ({log})")  # fmt: skip
        time.sleep(0.1)
