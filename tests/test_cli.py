"""The command line, as a user runs it: subprocesses on the real starter models."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llmtui import __version__
from llmtui.cli import main
from llmtui.engine import system


def llmtui(*args: str, stdin: str = "", home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMTUI_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "llmtui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_version(home: Path) -> None:
    result = llmtui("--version", home=home)
    assert result.stdout.strip() == f"llmtui {__version__}"


def test_list(home: Path) -> None:
    result = llmtui("list", home=home)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "ID",
        "SIZE",
        "SOURCE",
        "PARAMS",
        "QUANT",
        "FIT",
        "MODIFIED",
    ]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert {"gemma3:270m", "smollm2:135m"} <= set(rows)
    assert re.search(
        r"smollm2:135m\s+[0-9a-f]{12}\s+98 MB\s+starter\s+134.5M\s+Q4_1\s+fits\s+\S",
        rows["smollm2:135m"],
    )


def test_run_one_prompt_verbose(short_home: Path) -> None:
    result = llmtui(
        "run",
        "smollm2",
        "Say hello in French.",
        "--verbose",
        home=short_home,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    for label in (
        "total duration:",
        "load duration:",
        "prompt eval count:",
        "prompt eval duration:",
        "prompt eval rate:",
        "eval count:",
        "eval duration:",
        "eval rate:",
    ):
        assert label in result.stderr
    assert re.search(r"eval rate:\s+\d+\.\d\d tokens/s", result.stderr)
    # llama.cpp's log went to its file, not to the terminal.
    for marker in ("llama_model_loader", "load_tensors", "llama_context", "Model metadata"):
        assert marker not in result.stderr + result.stdout
    log = short_home / "state" / "llama.log"
    assert "llama_model_loader" in log.read_text(errors="replace")


def test_prompt_from_stdin(home: Path) -> None:
    result = llmtui("run", "smollm2:135m", stdin="Name a fruit.\n", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_completion_model_one_shot(short_home: Path) -> None:
    result = llmtui("run", "gemma3:270m", "The capital of France is", home=short_home)
    assert result.returncode == 0, result.stderr
    assert "has no chat template" in result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("smolm2", "Error: model 'smolm2' not found; did you mean smollm2:135m?"),
        ("llama9:70b", "Error: model 'llama9:70b' not found; `llmtui list` shows the 2 installed"),
        ("bad name!", "Error: 'bad name!' is not a model name: use letters, digits"),
    ],
)
def test_unknown_model(home: Path, name: str, message: str) -> None:
    result = llmtui("run", name, "hi", home=home)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message)
    assert "Traceback" not in result.stderr


def test_memory_refusal_and_the_flag_past_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(system, "available_memory", lambda: 1_000_000)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["run", "smollm2", "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: smollm2:135m needs about ")
    assert "but only 1 MB is available; lower num_ctx, or turn the memory check off" in err
    assert main(["run", "smollm2", "hi", "--no-memory-check"]) == 0
    assert capsys.readouterr().out.strip()


def test_run_applies_the_settings_parameters(home: Path) -> None:
    """The settings' [parameters] sit under every chat, in `llmtui run` as in the workbench."""
    path = home / "config" / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[parameters]\nnum_predict = 3\ntemperature = 0\n")
    try:
        result = llmtui("run", "smollm2", "Count from one to twenty.", "--verbose", home=home)
    finally:
        path.unlink()
    assert result.returncode == 0, result.stderr
    assert re.search(r"eval count:\s+3 token\(s\)", result.stderr), result.stderr


def test_fit_follows_the_kv_cache_type(home: Path) -> None:
    """A q4_0 KV cache takes 18/64 of f16's memory: the listing's estimate follows the
    type in force (the settings' [parameters], or OLLAMA_KV_CACHE_TYPE)."""
    import json

    def estimate(*settings: str, env: dict[str, str] | None = None) -> int:
        path = home / "config" / "settings.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("num_ctx = 32768\n" + "".join(settings))
        try:
            result = subprocess.run(
                [sys.executable, "-m", "llmtui", "list", "--json"], capture_output=True,
                text=True, timeout=120, env={**os.environ, "LLMTUI_HOME": str(home), **(env or {})},
            )  # fmt: skip
        finally:
            path.unlink()
        assert result.returncode == 0, result.stderr
        rows = {row["name"]: row for row in json.loads(result.stdout)}
        return int(rows["smollm2:135m"]["memory_estimate"])

    f16 = estimate()
    q4 = estimate('[parameters]\nkv_cache_type = "q4_0"\n')
    assert q4 == estimate(env={"OLLAMA_KV_CACHE_TYPE": "q4_0"})
    kv_f16 = 30 * 3 * 128 * 2 * 32768
    assert f16 - q4 == kv_f16 - kv_f16 * 18 // 64
