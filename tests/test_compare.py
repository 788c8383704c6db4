"""`llmtui compare`, headless: every prompt to every column, on the real starter models."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scripted import ScriptedEngine

from llmtui import library
from llmtui.chat import ChatSession, Outcome, Turn
from llmtui.chat.compare import (
    IN_TURN,
    TOGETHER,
    Cell,
    Column,
    Comparison,
    KeptColumn,
    ask_all,
    choose_schedule,
    column_settings,
    diff_words,
    kept_columns,
    summary,
)
from llmtui.chat.export import from_json, to_json, to_markdown
from llmtui.chat.leaderboard import Vote
from llmtui.chat.store import Conversation, ConversationStore

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
    assert choose_schedule(two, cores=1, available=20 * 2**30) == (IN_TURN, "2 columns here, 1 cores")
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


def test_columns_of_one_model_run_in_turn() -> None:
    # One file, one loaded copy: it answers one column at a time whatever the cores.
    same = columns("smollm2:135m", "smollm2:135m")
    schedule, why = choose_schedule(same, cores=8, available=20 * 2**30)
    assert schedule == IN_TURN and why.startswith("one model")


def cell(column: str, text: str, tokens: int, rate: float, first: float) -> Cell:
    return Cell(column, "p", text, Outcome.DONE, tokens=tokens, tokens_per_second=rate,
                first_token_ms=first, done_reason="stop")  # fmt: skip


def test_a_round_in_a_few_words() -> None:
    said, identical = summary([cell("A", "Yes.", 3, 80.0, 40), cell("B", "Yes, sure.", 9, 60.0, 20),
                               Cell("C", "p", "", Outcome.FAILED, error="too big")])  # fmt: skip
    assert said == ["fastest A 80.0 tok/s", "first token B 20 ms", "shortest A 3",
                    "longest B 9", "failed: C"]  # fmt: skip
    assert identical is False
    assert summary([cell("A", "Same.", 2, 1, 1), cell("B", " Same.\n", 2, 1, 1)])[1] is True
    assert summary([cell("A", "Alone.", 2, 1, 1)])[1] is None


def test_two_answers_differ_word_by_word() -> None:
    parts = diff_words("The sea is blue today.", "The sea is green today!")
    assert parts == [("=", "The sea is "), ("-", "blue"), ("+", "green"), ("=", " today"),
                     ("-", "."), ("+", "!")]  # fmt: skip
    assert diff_words("same", "same") == [("=", "same")]
    assert "".join(t for op, t in diff_words("a b", "c d e") if op != "-") == "c d e"


def test_a_columns_settings_from_key_value_items() -> None:
    options, system = column_settings(["temperature=1.0", "system=Be brief.", "num_predict=8"])
    assert options == {"temperature": 1.0, "num_predict": 8} and system == "Be brief."
    with pytest.raises(ValueError, match="takes KEY=VALUE, not 'temperature'"):
        column_settings(["temperature"])
    with pytest.raises(ValueError, match="temprature=1: unknown option"):
        column_settings(["temprature=1"])


def test_a_comparison_is_kept_as_one_conversation_round_by_round(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    pair = [Column("left", ChatSession(engine, library.find("smollm2:135m"))),
            Column("right", ChatSession(engine, library.find("smollm2:135m")))]  # fmt: skip
    pair[1].session.options["temperature"] = 1.0
    comparison = Comparison(pair)
    store = ConversationStore(tmp_path / "c.db")
    try:
        store.attach(comparison)
        for prompt in ("One?", "Two?"):
            for column in pair:
                column.session.send(prompt).wait()
        assert store.flush()
        [kept] = store.conversations()
        assert (kept.kind, kept.model, kept.turns, kept.title) == ("compare", "left vs right", 4,
                                                                   "One?")  # fmt: skip
        conversation = store.load(kept.id)
        assert [(t.model, t.prompt) for t in conversation.turns] == [
            ("left", "One?"),
            ("right", "One?"),
            ("left", "Two?"),
            ("right", "Two?"),
        ]
        assert conversation.options["columns"][1]["options"] == {"temperature": 1.0}
        # The follow-up went on each column's own conversation.
        assert [m.content for m in engine.requests[-1].messages] == [
            "One?",
            "You said: One?",
            "Two?",
        ]
        markdown = to_markdown(conversation)
        assert markdown.count("| column | tokens | tok/s | first token | done |") == 2
        assert "| right | 3 |" in markdown and "### left\n\nYou said: Two?" in markdown
        again = from_json(json.dumps(to_json(conversation)))
        assert again.kind == "compare" and len(again.turns) == 4
        # A new comparison: the one before is kept whole.
        comparison.clear()
        pair[0].session.send("Three?").wait()
        assert store.flush()
        assert sorted(s.turns for s in store.conversations()) == [1, 4]
    finally:
        store.close()


def test_blind_order_names_the_columns_by_letter() -> None:
    comparison = Comparison(columns("smollm2:135m", "gemma3:270m", "smollm2:135m"), blind=True)
    seen = set()
    rng = random.Random(7)
    for _ in range(30):
        comparison.shuffle(rng)
        seen.add(tuple(comparison.order))
        assert sorted(comparison.letter(i) for i in range(3)) == ["A", "B", "C"]
        assert comparison.letter(comparison.order[0]) == "A"
    assert len(seen) == 6  # every order comes up


def test_the_leaderboard_from_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "LLMTUI_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "llmtui", "compare", "--leaderboard"]
    empty = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert empty.returncode == 0 and empty.stdout.startswith("No votes yet")
    store = ConversationStore(tmp_path / "data" / "conversations.db")
    try:
        for choice in ("x", "x", "tie"):
            store.add_vote(Vote(("x", "y"), choice, "p"))
    finally:
        store.close()
    result = subprocess.run([*run, "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["votes"] == 3
    assert [(r["name"], r["wins"], r["ties"], r["losses"]) for r in board["standings"]] == [
        ("x", 2, 1, 0),
        ("y", 0, 1, 2),
    ]
    table = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60).stdout
    assert table.splitlines()[0].split() == ["#", "MODEL", "SCORE", "WINS", "TIES", "LOSSES",
                                             "VOTES"]  # fmt: skip
    assert table.splitlines()[1].split()[:2] == ["1", "x"]


def test_a_damaged_or_foreign_comparison_still_opens() -> None:
    turns = [Turn("Hi", "left"), Turn("Hi", "right"), Turn("Hi", "stray")]

    def kept(options: dict[str, Any]) -> list[KeptColumn]:
        return kept_columns(Conversation(1, "u", "t", "m", None, options, 0, 0, turns, "compare"))

    good = {
        "columns": [
            {
                "label": "left",
                "model": "smollm2:135m",
                "system": "Be brief.",
                "options": {"temperature": "0.5", "no_such_option": 1},
            },
            {"label": "right", "model": None, "system": None, "options": {}},
        ]
    }
    assert kept(good) == [
        KeptColumn("left", "smollm2:135m", "Be brief.", {"temperature": 0.5}),
        KeptColumn("right", None, None, {}),
        KeptColumn("stray", "stray", None, {}),  # a turn no column names: a column of its own
    ]  # fmt: skip
    for junk in (
        {},
        {"columns": "nope"},
        {"columns": [1, None, {"label": 3}]},
        {"columns": [{"label": "left", "options": [1], "model": 5, "system": []}]},
    ):
        assert [c.label for c in kept(junk)] == ["left", "right", "stray"], junk
