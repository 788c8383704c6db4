"""The interactive chat of `llmtui run`: slash commands, multi-line input, Ctrl+C."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import script

from llmtui import library
from llmtui.chat import ChatSession
from llmtui.cli.chat import LineChat, interactive, read_message
from llmtui.engine import Engine
from llmtui.engine.system import physical_cores


def session(engine: Engine) -> LineChat:
    model = library.find("smollm2")
    return LineChat(ChatSession(engine, model), io.StringIO(), io.StringIO(), verbose=True)


def test_parameters_system_and_clear(engine: Engine) -> None:
    chat = session(engine)
    code = interactive(
        chat,
        script(
            "/set parameter temperature 0",
            "/set parameter num_predict 5",
            "/set parameter stop <end> ###",
            "/set system You are a pirate.",
            "/show parameters",
            "/show system",
            "Hello there",
            "/show info",
            "/clear",
            "/bye",
            "never read",
        ),
    )
    out, err = chat.out.getvalue(), chat.err.getvalue()  # type: ignore[attr-defined]
    assert code == 0
    assert "Set parameter 'temperature' to '0'" in out
    assert "Set system message." in out
    assert re.search(r"num_predict\s+5", out) and re.search(r"temperature\s+0", out)
    assert re.search(r"stop\s+'<end>'\nstop\s+'###'", out)
    assert "You are a pirate." in out
    assert "eval count:           5 token(s)" in err
    assert "Cleared session context" in out
    backend = "CPU" if engine.backend == "CPU" else rf"{engine.backend}, \d+/\d+ layers offloaded"
    assert re.search(rf"backend\s+{backend}\n", out)
    assert re.search(rf"backend:\s+{backend}\n", err)
    # The thread count in force, and that it follows the machine's load (num_thread unset).
    cores = physical_cores()
    if engine.backend == "CPU":
        assert re.search(rf"threads:\s+[1-{cores}] of {cores}, adapting to load\n", err)
        assert re.search(rf"threads\s+[1-{cores}] of {cores}, adapting to load\n", out)
    assert chat.session.turns == []
    assert chat.session.options == {"temperature": 0.0, "num_predict": 5, "stop": ("<end>", "###")}


def test_bad_commands_are_explained(engine: Engine) -> None:
    chat = session(engine)
    interactive(
        chat,
        script(
            "/set parameter temprature 1",
            "/set parameter num_ctx big",
            "/set parameter",
            "/frobnicate",
            "/show nothing",
            "/show info",
        ),
    )
    out = chat.out.getvalue()  # type: ignore[attr-defined]
    assert "Couldn't set parameter: unknown option 'temprature' (did you mean temperature?)" in out
    assert "Couldn't set parameter: option num_ctx must be an integer, not 'big'" in out
    assert "Usage: /set parameter NAME VALUE" in out
    assert "Unknown command '/frobnicate'. Type /? for help" in out
    assert "Usage: /show info | parameters | system" in out
    assert re.search(r"architecture\s+llama", out)
    assert re.search(r"backend\s+not loaded yet", out)
    assert chat.session.options == {}


def test_ctrl_c_at_the_prompt_does_not_leave(engine: Engine) -> None:
    chat = session(engine)
    assert interactive(chat, script(KeyboardInterrupt, "/bye")) == 0
    assert "Use Ctrl + d or /bye to exit." in chat.out.getvalue()  # type: ignore[attr-defined]


def test_multi_line_messages() -> None:
    assert read_message(script('"""first line', "second line", 'third"""')) == (
        "first line\nsecond line\nthird"
    )
    assert read_message(script('"""one line"""')) == "one line"
    assert read_message(script("plain")) == "plain"
    assert read_message(script()) is None


class Terminal:
    """`llmtui run` on a pseudo-terminal, as a person types into it."""

    def __init__(self, home: Path, *args: str) -> None:
        master, slave = pty.openpty()
        self.master = master
        env = {**os.environ, "LLMTUI_HOME": str(home), "TERM": "dumb"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llmtui", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""

    def expect(self, pattern: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.screen):
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared in:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        return self.screen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())


def test_ctrl_c_stops_the_answer_and_keeps_the_chat(home: Path) -> None:
    term = Terminal(home, "run", "smollm2:135m")
    try:
        term.expect(">>> ")
        term.type("/set parameter num_predict 3000\n")
        term.expect("Set parameter")
        mark = len(term.screen)
        term.type("Write a very long story about a dragon and a knight.\n")
        # Past the echo of the line (the terminal's, then readline's): the answer streams.
        term.expect(rf"(.|\n){{{mark + 400},}}")
        term.proc.send_signal(signal.SIGINT)
        screen = term.expect(r"\(stopped\)(.|\n)*>>> ")
        assert "Traceback" not in screen[mark:]
        term.type("/bye\n")
        assert term.proc.wait(timeout=30) == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)


@pytest.mark.parametrize("quit_with", ["/bye\n", "\x04"])
def test_leaving(home: Path, quit_with: str) -> None:
    term = Terminal(home, "run", "smollm2")
    try:
        term.expect(">>> ")
        term.type(quit_with)
        assert term.proc.wait(timeout=30) == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)
