"""A real `llmtui serve` on a free loopback port, for the API tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Spawned:
    """A `llmtui` command serving on a free port, its output in a file: a pipe nobody
    reads fills after a few hundred requests, and the server then waits on its next log
    line (schemathesis found that)."""

    def __init__(self, command: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llmtui", command, "--port", str(self.port), *args],
            stdout=self.log, stderr=subprocess.STDOUT, text=True, env=env or os.environ,
        )  # fmt: skip

    def logged(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        """Stop it; what it logged."""
        self.process.terminate()
        self.process.wait(timeout=30)
        said = self.logged()
        self.log.close()
        return said


class Server(Spawned):
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__("serve", *args, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url, headers=self.auth).text == "Ollama is running":
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {self.logged()}")
            time.sleep(0.2)

    @property
    def auth(self) -> dict[str, str]:
        return {}
