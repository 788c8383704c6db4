"""The `llmtui` command: Ollama's verbs, on llmtui's engine and library."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Sequence

from llmtui import __version__
from llmtui.chat import ChatSession, SessionError
from llmtui.chat.store import ConversationStore, StoreError
from llmtui.cli import chats, compare, embed, library, models, remote, serve, web
from llmtui.cli.chat import LineChat, interactive
from llmtui.cli.compare import CompareError
from llmtui.cli.serve import ServeError
from llmtui.engine import EngineError, OptionError, make_engine
from llmtui.engine.options import parse_keep_alive
from llmtui.library import UnknownModel, find
from llmtui.library.names import InvalidName
from llmtui.remote.config import RemoteError
from llmtui.remote.routing import RoutingEngine
from llmtui.settings import load as load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmtui", description="A terminal workbench for running LLMs locally on llama.cpp."
    )
    parser.add_argument("--version", action="version", version=f"llmtui {__version__}")
    parser.add_argument(
        "--no-mouse", action="store_true", help="the workbench ignores the mouse (slow links)"
    )
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
        "--no-save",
        action="store_true",
        help="do not keep this chat with the others (`llmtui chats` lists them)",
    )
    run.add_argument(
        "--no-memory-check",
        action="store_true",
        help="load even if the model's memory estimate exceeds the memory available",
    )

    tui = commands.add_parser("tui", help="Open the workbench (the default)")
    tui.add_argument("model", metavar="MODEL", nargs="?", help="the model to open on")
    tui.add_argument(
        "--no-mouse", action="store_true", help="turn mouse reporting off (slow links)"
    )
    tui.add_argument(
        "--shared",
        metavar="URL",
        help="run this machine's models on a `llmtui serve` at URL, not in this process "
        "(what each tab of `llmtui web` does)",
    )

    listing = commands.add_parser("list", aliases=["ls"], help="List models")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--all", action="store_true", help="include hidden models")

    pull = commands.add_parser("pull", help="Download a GGUF model from Hugging Face")
    pull.add_argument("reference", metavar="hf.co/OWNER/REPO[:QUANT]")

    search = commands.add_parser("search", help="Search Hugging Face for GGUF models")
    search.add_argument("query", metavar="QUERY", nargs="?", default="")
    search.add_argument("--files", metavar="REPO", help="list a repository's GGUF files")
    search.add_argument("--limit", type=int, default=20)

    create = commands.add_parser("create", help="Create a model from a Modelfile")
    create.add_argument("name", metavar="NAME")
    create.add_argument("-f", "--file", default="Modelfile", help="the Modelfile (./Modelfile)")

    show = commands.add_parser("show", help="Show a model's details")
    show.add_argument("name", metavar="NAME")
    what = show.add_mutually_exclusive_group()
    for part in ("modelfile", "parameters", "system", "template", "license"):
        what.add_argument(
            f"--{part}",
            dest="what",
            action="store_const",
            const=part,
            help=f"print only the {part}",
        )

    copy = commands.add_parser("cp", help="Copy a model")
    copy.add_argument("source", metavar="SOURCE")
    copy.add_argument("destination", metavar="DESTINATION")

    remove = commands.add_parser("rm", help="Remove models")
    remove.add_argument("names", metavar="NAME", nargs="+")
    remove.add_argument(
        "--delete-files",
        action="store_true",
        help="delete the files of models llmtui does not own (default: hide them)",
    )
    chats.add_parser(commands)
    compare.add_parser(commands)
    serve.add_parser(commands)
    embed.add_parser(commands)
    remote.add_parser(commands)
    web.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # Options between positionals, as in `llmtui run MODEL --verbose PROMPT`, are the norm;
    # argparse ends PROMPT's words at the option and leaves the words after it over.
    if args.command == "run" and extra and not any(word.startswith("-") for word in extra):
        args.prompt += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # a chat typed in another encoding
    try:
        status = _dispatch(args)
        sys.stdout.flush()  # here, where a full disk is one line, not at exit
        return status
    except (UnknownModel, EngineError, OptionError, InvalidName, SessionError,
            CompareError, ServeError, RemoteError) as error:  # fmt: skip
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `llmtui run ... | head`
        _drop_stdout()
        return 0
    except KeyboardInterrupt:  # as shells and Ollama do: scripts can tell it was cut
        return 130
    except OSError as error:  # an unwritable LLMTUI_HOME, stdout on a full disk...
        _drop_stdout()
        where = f" ({error.filename})" if error.filename else ""
        print(f"Error: {error.strerror or error}{where}", file=sys.stderr)
        return 1


def _drop_stdout() -> None:
    """Point stdout at /dev/null: what it still buffers would fail again at exit."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("list", "ls"):
        return library.list_command(args.json, args.all)
    if args.command == "pull":
        return library.pull_command(args.reference)
    if args.command == "search":
        if not args.query and not args.files:
            print("Error: give a QUERY, or --files REPO", file=sys.stderr)
            return 1
        return library.search_command(args.query, args.files, args.limit)
    if args.command == "run":
        return _run(args)
    if args.command == "create":
        return models.create_command(args.name, args.file)
    if args.command == "show":
        return models.show_command(args.name, args.what)
    if args.command == "cp":
        return models.copy_command(args.source, args.destination)
    if args.command == "rm":
        return models.remove_command(args.names, args.delete_files)
    if args.command == "chats":
        return chats.chats_command(args)
    if args.command == "compare":
        return compare.compare_command(args)
    if args.command == "serve":
        return serve.serve_command(args)
    if args.command == "ps":
        return serve.ps_command(args.host)
    if args.command == "embed":
        return embed.embed_command(args)
    if args.command == "remote":
        return remote.remote_command(args)
    if args.command == "tui":
        return _workbench(args.model, args.no_mouse, args.shared)
    if args.command == "web":
        return web.web_command(args)
    return _workbench(None, args.no_mouse)


def _workbench(model: str | None, no_mouse: bool, shared: str | None = None) -> int:
    # Imported here: only this face of llmtui needs Textual.
    from llmtui.tui.app import run_workbench

    settings, problems = load_settings()  # problems are shown in the workbench
    return run_workbench(model, settings, problems, mouse=not no_mouse, shared=shared)


def _decoded(data: bytes) -> str:
    """A prompt's bytes as text; bytes that are not UTF-8 become U+FFFD, and we say so."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        print(
            "llmtui: the prompt is not valid UTF-8; bytes that are not were replaced by \ufffd",
            file=sys.stderr,
        )
        return text


def _run(args: argparse.Namespace) -> int:
    model = find(args.model)
    user, problems = load_settings()
    for problem in problems:
        print(f"llmtui: {problem}", file=sys.stderr)
    engine = RoutingEngine(lambda: make_engine(check_memory=not args.no_memory_check))
    store = None if args.no_save else _store()
    try:
        # The settings' [parameters] sit under every chat, as in the workbench.
        session = ChatSession(
            engine, model, defaults=user.parameters, keep_alive=parse_keep_alive(args.keepalive)
        )
        if store is not None:
            store.attach(session)
        chat = LineChat(session, sys.stdout, sys.stderr, verbose=args.verbose)
        prompt = " ".join(_decoded(os.fsencode(word)) for word in args.prompt)
        if not sys.stdin.isatty():
            stream = getattr(sys.stdin, "buffer", None)  # none when a test gives it text
            piped = _decoded(stream.read()) if stream else sys.stdin.read()
            if piped.strip():  # an empty pipe (a script, cron) adds nothing
                prompt = f"{prompt}\n\n{piped}" if prompt else piped
        if not prompt.strip():
            return interactive(chat)
        if session.has_template():
            done = chat.ask(prompt)
        else:
            print(
                f"{model.name} has no chat template (a completion model): "
                "continuing your prompt as plain text.",
                file=sys.stderr,
            )
            done = chat.complete(prompt)
        return 130 if done.done_reason == "cancel" else 0
    finally:
        engine.close()
        if store is not None:
            store.close()


def _store() -> ConversationStore | None:
    """Where the chat is kept; None (and said) if the conversations file cannot be used:
    the chat goes on without it."""
    try:
        store = ConversationStore()
    except (StoreError, OSError) as error:
        print(f"llmtui: {error}", file=sys.stderr)
        return None
    if store.problem:
        print(f"llmtui: {store.problem}", file=sys.stderr)
    return store
