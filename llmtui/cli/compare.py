"""`llmtui compare`: every prompt to every column (a model, or a Modelfile), answers and a
stats table per prompt; `--json` for scripts, `--markdown` for reports."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from llmtui import files
from llmtui.chat import ChatSession
from llmtui.chat.backend import ChatEngine
from llmtui.chat.compare import (
    IN_TURN,
    TOGETHER,
    Cell,
    Column,
    ask_all,
    choose_schedule,
    column_settings,
)
from llmtui.chat.leaderboard import standings
from llmtui.chat.store import ConversationStore, StoreError
from llmtui.cli import format as fmt
from llmtui.engine import EngineError, make_engine
from llmtui.engine.system import available_memory, physical_cores
from llmtui.library import find
from llmtui.library.create import build
from llmtui.modelfile import ModelfileError, parse
from llmtui.remote.routing import RoutingEngine
from llmtui.settings import load as load_settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser("compare", help="The same prompts to several models")
    compare.add_argument("models", metavar="MODEL", nargs="*", help="a column per model")
    compare.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        metavar="MODELFILE",
        help="a column per Modelfile (e.g. one model, other parameters)",
    )
    compare.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="TEXT",
        help="a prompt (repeatable; else --prompts, else stdin)",
    )
    compare.add_argument(
        "--prompts", metavar="FILE", help='prompts, one per line, or JSONL with a "prompt" field'
    )
    compare.add_argument(
        "--options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter for every column, e.g. temperature=0 (system=TEXT: a system prompt)",
    )
    compare.add_argument("--seed", type=int, help="the same seed for every column")
    compare.add_argument(
        "--schedule",
        choices=("auto", TOGETHER, "turn"),
        default="auto",
        help="columns together (each a share of the cores) or in turn; "
        "auto: together when each has a core and all fit in memory",
    )
    compare.add_argument(
        "--leaderboard",
        action="store_true",
        help="print the blind votes' leaderboard (votes cast in the workbench) and exit",
    )
    out = compare.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--markdown", action="store_true", help="print a Markdown report")


class CompareError(ValueError):
    """A column or a prompt that cannot be used: one line."""


def compare_command(args: argparse.Namespace) -> int:
    if args.leaderboard:
        return _leaderboard(args.json)
    options, system = _options(args.options, args.seed)
    prompts = _prompts(args.prompt, args.prompts)
    user, problems = load_settings()
    for problem in problems:
        print(f"llmtui: {problem}", file=sys.stderr)
    engine = RoutingEngine(make_engine)  # llama.cpp's only if a column is local
    try:
        columns = _columns(engine, args.models, args.file, user.parameters)
        for column in columns:
            column.session.options.update(options)
            if system is not None:
                column.session.system = system
        schedule, why = choose_schedule(columns, physical_cores(), available_memory())
        if args.schedule != "auto":
            schedule, why = (TOGETHER if args.schedule == TOGETHER else IN_TURN), "as asked"
        print(f"llmtui: columns run {schedule} ({why})", file=sys.stderr)
        rounds = [(prompt, ask_all(columns, prompt, schedule)) for prompt in prompts]
    finally:
        engine.close()
    if args.json:
        print(json.dumps([{"prompt": p, "answers": [dataclasses.asdict(c) for c in cells]}
                          for p, cells in rounds], indent=2, ensure_ascii=False))  # fmt: skip
    elif args.markdown:
        print(_markdown(rounds), end="")
    else:
        print(_text(rounds), end="")
    return 0


def _leaderboard(as_json: bool) -> int:
    try:
        store = ConversationStore()
    except StoreError as error:
        raise CompareError(str(error)) from None
    try:
        votes = store.votes()
    finally:
        store.close()
    rows = standings(votes)
    if as_json:
        print(
            json.dumps(
                {"votes": len(votes), "standings": [dataclasses.asdict(row) for row in rows]},
                indent=2,
            )
        )
        return 0
    if not rows:
        print("No votes yet: compare models in the workbench (Ctrl+G), blind, and vote.")
        return 0
    print(
        fmt.table(
            ["#", "MODEL", "SCORE", "WINS", "TIES", "LOSSES", "VOTES"],
            [
                [
                    str(rank),
                    row.name,
                    f"{row.score:.0f}",
                    str(row.wins),
                    str(row.ties),
                    str(row.losses),
                    str(row.votes),
                ]
                for rank, row in enumerate(rows, 1)
            ],
        )
    )
    print(
        f"\n{len(votes)} vote(s); Bradley-Terry scores (1000: even), a tie or "
        '"all bad" counts as a draw'
    )
    return 0


def _options(given: list[str], seed: int | None) -> tuple[dict[str, Any], str | None]:
    try:
        options, system = column_settings(given)
    except ValueError as error:
        raise CompareError(f"--options {error}") from None
    if seed is not None:
        options["seed"] = seed
    return options, system


def _prompts(given: list[str], path: str | None) -> list[str]:
    prompts = list(given)
    if path:
        text = _read(Path(path))
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if line.lstrip().startswith("{"):
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as error:
                    raise CompareError(f"{path}:{number}: not JSON ({error})") from None
                if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
                    raise CompareError(f'{path}:{number}: no "prompt" text')
                prompts.append(item["prompt"])
            else:
                prompts.append(line)
    if not prompts and not sys.stdin.isatty():
        piped = sys.stdin.read().strip()
        if piped:
            prompts.append(piped)
    if not prompts:
        raise CompareError("give a prompt: --prompt TEXT, --prompts FILE, or on stdin")
    return prompts


def _columns(
    engine: ChatEngine, models: list[str], modelfiles: list[str], defaults: dict[str, Any]
) -> list[Column]:
    columns = []
    for name in models:
        model = find(name)  # UnknownModel: one line, exit 1 (the CLI's own handling)
        columns.append(Column(model.name, ChatSession(engine, model, defaults=defaults)))
    for file in modelfiles:
        path = Path(file)
        text = _read(path)
        try:
            spec = build("compare", parse(text), path.parent.resolve()).spec()
        except ModelfileError as error:
            raise CompareError(error.located(str(path))) from None
        except (ValueError, EngineError) as error:
            raise CompareError(f"{path}: {error}") from None
        session = ChatSession(engine, defaults=defaults)
        session.run_with(spec, str(path))
        columns.append(Column(str(path), session))
    if len(columns) < 1:
        raise CompareError("name the columns: MODEL... and/or -f MODELFILE...")
    return columns


def _read(path: Path) -> str:
    try:
        return files.read_text(path)  # a FIFO or a device is refused, not waited on
    except (OSError, UnicodeDecodeError) as error:
        said = str(error) if str(path) in str(error) else f"{path}: {error}"
        raise CompareError(f"cannot read {said}") from None


def _stats(cells: list[Cell]) -> str:
    rows = [
        [c.column, str(c.tokens), f"{c.tokens_per_second:.1f}", f"{c.first_token_ms:.0f} ms",
         f"{c.load_ms:.0f} ms", c.done_reason or f"failed: {c.error}", c.ran]
        for c in cells
    ]  # fmt: skip
    return fmt.table(["COLUMN", "TOKENS", "TOK/S", "FIRST TOKEN", "LOAD", "DONE", "RAN"], rows)


def _text(rounds: list[tuple[str, list[Cell]]]) -> str:
    out = []
    for prompt, cells in rounds:
        out.append(f">>> {prompt}\n")
        for cell in cells:
            answer = cell.text if cell.error is None else f"(failed: {cell.error})"
            out.append(f"── {cell.column} ──\n{answer.strip()}\n")
        out.append(_stats(cells) + "\n\n")
    return "\n".join(out)


def _markdown(rounds: list[tuple[str, list[Cell]]]) -> str:
    out = []
    for number, (prompt, cells) in enumerate(rounds, 1):
        out.append(f"## Prompt {number}\n\n> {prompt}\n")
        out.append("| column | tokens | tok/s | first token | load | done | ran |")
        out.append("|---|---|---|---|---|---|---|")
        for c in cells:
            out.append(f"| {c.column} | {c.tokens} | {c.tokens_per_second:.1f} | "
                       f"{c.first_token_ms:.0f} ms | {c.load_ms:.0f} ms | "
                       f"{c.done_reason or 'failed: ' + str(c.error)} | {c.ran} |")  # fmt: skip
        for c in cells:
            out.append(f"\n### {c.column}\n\n{c.text.strip() if c.error is None else c.error}")
        out.append("")
    return "\n".join(out) + "\n"
