"""`llmtui compare`, headless: every prompt to every column, on the real starter models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scripted import ScriptedEngine

from llmtui import library
from llmtui.chat import ChatSession
from llmtui.chat.compare import IN_TURN, TOGETHER, Column, ask_all, choose_schedule

FAST = ["--options", "num_predict=12", "--options", "temperature=0", "--seed", "1"]


def compare(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmtui", "compare", *args], capture_output=True, text=True,
        input=stdin, env=os.environ, timeout=300,
        **({} if stdin is not None else {"stdin": subprocess.DEVNULL}),  # type: ignore[arg-type]
    )  # fmt: skip


def test_two_models_and_a_modelfile_column_as_json(tmp_path: Path) -> None:
    pirate = tmp_path / "pirate.Modelfile"
    pirate.write_text("FROM smollm2:135m\nSYSTEM You are a pirate.\n")
    result = compare("smollm2:135m", "gemma3:270m", "-f", str(pirate),
                     "--prompt", "Say hi in five words.", "--json", *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [round_] = json.loads(result.stdout)
    assert round_["prompt"] == "Say hi in five words."
    answers = {a["column"]: a for a in round_["answers"]}
    assert list(answers) == ["smollm2:135m", "gemma3:270m", str(pirate)]
    for answer in answers.values():
        assert answer["text"].strip() and answer["error"] is None
        assert answer["tokens"] == 12 and answer["done_reason"] == "length"
        assert answer["tokens_per_second"] > 0 and answer["first_token_ms"] > 0
    # The Modelfile's system prompt made a difference to the same model, greedy.
    assert answers[str(pirate)]["text"] != answers["smollm2:135m"]["text"]


def test_prompts_from_a_file_and_a_markdown_report(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text('Name a fruit.\n\n{"prompt": "Name a colour."}\nName a tree.\n')
    result = compare("smollm2:135m", "--prompts", str(prompts), "--markdown", *FAST)
    assert result.returncode == 0, result.stderr
    for number, prompt in enumerate(["Name a fruit.", "Name a colour.", "Name a tree."], 1):
        assert f"## Prompt {number}\n\n> {prompt}" in result.stdout
    assert result.stdout.count("| smollm2:135m | 12 |") == 3


def test_a_column_that_fails_is_reported_and_the_others_answer(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.Modelfile"
    tiny.write_text("FROM smollm2:135m\nPARAMETER num_ctx 64\n")
    # Past the context (the engine's smallest is 256 tokens): the prompt comes on stdin.
    result = compare("-f", str(tiny), "smollm2:135m", "--json", *FAST,
                     stdin="Tell me about " + "the sea and " * 200)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [round_] = json.loads(result.stdout)
    answered, failed = round_["answers"]  # the models' columns, then the Modelfiles'
    assert failed["error"] and "num_ctx" in failed["error"] and failed["outcome"] == "failed"
    assert answered["error"] is None and answered["tokens"] == 12


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["nope:1", "--prompt", "x"], "Error: model 'nope:1' not found"),
        (["smollm2:135m"], "Error: give a prompt"),
        (["smollm2:135m", "--prompt", "x", "--options", "temprature=1"],
         "Error: --options temprature=1: unknown option 'temprature'"),
        (["smollm2:135m", "--prompt", "x", "--options", "temperature"],
         "Error: --options takes KEY=VALUE"),
        (["-f", "/nonexistent/Modelfile", "--prompt", "x"], "Error: cannot read"),
        (["--prompt", "x"], "Error: name the columns"),
    ],
)  # fmt: skip
def test_wrong_input_is_one_line_and_exit_1(args: list[str], said: str) -> None:
    result = compare(*args)
    assert result.returncode == 1 and result.stderr.startswith(said), result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout


def columns(*names: str) -> list[Column]:
    engine = ScriptedEngine(delay=0.01)
    return [Column(name, ChatSession(engine, library.find(name))) for name in names]


def test_columns_run_together_when_each_has_a_core_and_all_fit() -> None:
    two = columns("smollm2:135m", "gemma3:270m")
    assert choose_schedule(two, cores=2, available=20 * 2**30)[0] == TOGETHER
    assert choose_schedule(two, cores=1, available=20 * 2**30) == (IN_TURN, "2 columns, 1 cores")
    schedule, why = choose_schedule(two, cores=2, available=300 * 2**20)
    assert schedule == IN_TURN and why.startswith("together they need")
    cells = ask_all(two, "Hi there", TOGETHER)
    assert [(c.column, c.text) for c in cells] == [
        ("smollm2:135m", "You said: Hi there"), ("gemma3:270m", "Hi there and so on."),
    ]  # fmt: skip


def test_the_cli_says_which_schedule_it_chose() -> None:
    result = compare("smollm2:135m", "gemma3:270m", "--prompt", "Hi.", *FAST, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("llmtui: columns run ")
    result = compare("smollm2:135m", "gemma3:270m", "--prompt", "Hi.", *FAST,
                     "--schedule", "turn")  # fmt: skip
    assert "llmtui: columns run in turn (as asked)" in result.stderr
