"""The workbench in a real terminal (tmux): a prompt typed, its reply on screen, and not a
line of llama.cpp's log anywhere on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

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


def test_prompt_reply_and_no_llama_log_on_screen() -> None:
    session = f"llmtui-{uuid.uuid4().hex[:8]}"
    command = f"{sys.executable} -m llmtui"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "45",
         "-e", f"LLMTUI_HOME={os.environ['LLMTUI_HOME']}", "-e", f"HOME={os.environ['HOME']}",
         "-e", "TERM=xterm-256color", command)  # fmt: skip
    try:
        screen = ""
        deadline = time.monotonic() + 60
        while "valid Modelfile" not in screen and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = tmux("capture-pane", "-p", "-t", session)
        assert "llmtui — smollm2:135m" in screen  # the model's name, always visible
        # Typed, then Enter on its own: a person's Enter comes after the text, while text and
        # Enter sent in one write read as one burst, and Enter then lands in the text.
        tmux("send-keys", "-t", session, "Name three colours.")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
        deadline = time.monotonic() + 120
        while "tokens ·" not in screen and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = tmux("capture-pane", "-p", "-t", session)
        assert "Name three colours." in screen
        assert "tokens ·" in screen and "tok/s ·" in screen  # the reply's stats line
        for marker in ("llama_model_loader", "load_tensors", "llama_context", "print_info",
                       "Model metadata", "ggml_"):  # fmt: skip
            assert marker not in screen, marker
        tmux("send-keys", "-t", session, "C-q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = subprocess.run(["tmux", "ls"], capture_output=True, text=True, env=ENV)
            if session not in listed.stdout:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("llmtui did not quit on Ctrl+Q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, env=ENV)
