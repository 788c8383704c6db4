"""The `llmtui` command: Ollama's verbs, on llmtui's engine and library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llmtui import __version__
from llmtui.cli import format as fmt
from llmtui.cli.chat import ChatSession, interactive
from llmtui.engine import Engine, EngineError, OptionError
from llmtui.engine.options import parse_keep_alive
from llmtui.library import UnknownModel, find, list_models

DEFAULT_MODEL = "smollm2:135m"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmtui", description="A terminal workbench for running LLMs locally on llama.cpp."
    )
    parser.add_argument("--version", action="version", version=f"llmtui {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="Run a model: answer PROMPT, or chat")
    run.add_argument("model", metavar="MODEL", help="a model name, e.g. smollm2:135m")
    run.add_argument("prompt", metavar="PROMPT", nargs="*", help="answer this and exit")
    run.add_argument("--verbose", action="store_true", help="print timings after each answer")
    run.add_argument(
        "--keepalive",
        default="5m",
        metavar="DURATION",
        help="how long the model stays loaded after a request (e.g. 5m, 0, -1)",
    )
    run.add_argument(
        "--no-memory-check",
        action="store_true",
        help="load even if the model's memory estimate exceeds the memory available",
    )

    commands.add_parser("list", aliases=["ls"], help="List models")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in ("list", "ls"):
            return _list()
        if args.command == "run":
            return _run(args)
        # No command: until the workbench lands, chat with the default model.
        return _run(
            argparse.Namespace(
                model=DEFAULT_MODEL, prompt=[], verbose=False, keepalive="5m", no_memory_check=False
            )
        )
    except (UnknownModel, EngineError, OptionError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `llmtui run ... | head`
        return 0


def _list() -> int:
    rows = [(m.name, m.id, fmt.human_size(m.size), fmt.ago(m.modified)) for m in list_models()]
    print(fmt.table(("NAME", "ID", "SIZE", "MODIFIED"), rows))
    return 0


def _run(args: argparse.Namespace) -> int:
    model = find(args.model)
    engine = Engine(check_memory=not args.no_memory_check)
    try:
        session = ChatSession(
            engine,
            model,
            sys.stdout,
            sys.stderr,
            verbose=args.verbose,
            keep_alive=parse_keep_alive(args.keepalive),
        )
        prompt = " ".join(args.prompt)
        if not sys.stdin.isatty():
            piped = sys.stdin.read()
            prompt = f"{prompt}\n\n{piped}" if prompt else piped
        if not prompt.strip():
            return interactive(session)
        if session.has_template():
            session.ask(prompt)
        else:
            print(
                f"{model.name} has no chat template (a completion model): "
                "continuing your prompt as plain text.",
                file=sys.stderr,
            )
            session.complete(prompt)
        return 0
    finally:
        engine.close()
