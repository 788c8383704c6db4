"""The workbench in a real terminal (tmux): a prompt typed, its reply on screen, not a line
of llama.cpp's log anywhere on it; mouse reporting off on request; 16 colours; OSC 52."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux (.ci/run installs it)"
)


# The tmux server (and so llmtui in it) inherits this environment: sizes from it would
# override the real window's.
ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, check=True, env=ENV
    ).stdout


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@contextmanager
def workbench(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """llmtui in a detached 160x45 tmux session, ready (its Modelfile validated)."""
    session = f"llmtui-{uuid.uuid4().hex[:8]}"
    settings = [f"{k}={v}" for k, v in {
        "LLMTUI_HOME": os.environ["LLMTUI_HOME"], "HOME": os.environ["HOME"],
        "TERM": "xterm-256color", **(env or {}),
    }.items()]  # fmt: skip
    command = ["new-session", "-d", "-s", session, "-x", "160", "-y", "45",
               *(arg for setting in settings for arg in ("-e", setting)),
               f"{sys.executable} -m llmtui {' '.join(args)}"]  # fmt: skip
    # The previous test's kill-session may leave the tmux server exiting: a new session
    # started at that moment fails (seen once in CI); a moment later it starts.
    for attempt in range(3):
        try:
            tmux(*command)
            break
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
            time.sleep(1)
    try:
        wait_until(lambda: "valid Modelfile" in screen(session), 60, "the workbench")
        yield session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, env=ENV)


def screen(session: str, *flags: str) -> str:
    return tmux("capture-pane", "-p", *flags, "-t", session)


def send(session: str, text: str) -> None:
    # Typed, then Enter on its own: a person's Enter comes after the text, while text and
    # Enter sent in one write read as one burst, and Enter then lands in the text.
    tmux("send-keys", "-t", session, "-l", text)
    time.sleep(0.5)
    tmux("send-keys", "-t", session, "Enter")


def test_prompt_reply_and_no_llama_log_on_screen() -> None:
    with workbench() as session:
        assert "llmtui — smollm2:135m" in screen(session)  # the model's name, always visible
        assert tmux("display", "-p", "-t", session, "#{mouse_any_flag}").strip() == "1"
        send(session, "Name three colours.")
        wait_until(lambda: "tokens ·" in screen(session), 120, "the reply's stats line")
        shown = screen(session)
        assert "Name three colours." in shown
        assert "tokens ·" in shown and "tok/s ·" in shown
        for marker in ("llama_model_loader", "load_tensors", "llama_context", "print_info",
                       "Model metadata", "ggml_"):  # fmt: skip
            assert marker not in shown, marker
        tmux("send-keys", "-t", session, "C-q")
        wait_until(lambda: session not in subprocess.run(
            ["tmux", "ls"], capture_output=True, text=True, env=ENV).stdout,
            30, "llmtui to quit on Ctrl+Q")  # fmt: skip


def test_no_mouse_turns_mouse_reporting_off() -> None:
    with workbench("--no-mouse") as session:
        assert tmux("display", "-p", "-t", session, "#{mouse_any_flag}").strip() == "0"


def test_sixteen_colours_over_ssh() -> None:
    """OpenSSH does not forward COLORTERM: Textual then falls back to 256 colours, and with
    TEXTUAL_COLOR_SYSTEM=standard to the 16 ANSI ones, which the ansi-16 theme is made of."""
    with workbench(env={"TEXTUAL_COLOR_SYSTEM": "standard"}) as session:
        send(session, "/set system Be brief.")
        time.sleep(1)
        escapes = screen(session, "-e")
        colours = re.findall(r"\x1b\[([0-9;]*)m", escapes)
        assert colours, "no colour at all"
        for sequence in colours:
            assert "38;5" not in sequence and "38;2" not in sequence, sequence
            assert "48;5" not in sequence and "48;2" not in sequence, sequence


def test_copy_reaches_the_terminal_clipboard_by_osc52() -> None:
    with workbench() as session:
        tmux("set-option", "-s", "set-clipboard", "on")
        send(session, "Say hi.")
        wait_until(lambda: "tokens ·" in screen(session), 120, "the reply")
        tmux("send-keys", "-t", session, "F3")  # from the input to the transcript
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "c")
        wait_until(lambda: "copied the" in screen(session), 10, "the copy")
        copied = tmux("show-buffer")
        assert copied.strip() and copied.strip().split()[0] in screen(session)
