"""`llmtui chats`: the kept conversations from the command line: list, search, show,
export, import and delete them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from llmtui import atomic, files
from llmtui.chat.export import from_json, stats_line, to_json, to_markdown
from llmtui.chat.store import ConversationStore, StoreError, Summary
from llmtui.cli import format as fmt


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chats = commands.add_parser("chats", help="Kept conversations: list, show, export, import")
    chats.add_argument("--json", action="store_true", help="print JSON")
    chats.add_argument("--search", metavar="TEXT", help="only those that hold these words")
    verbs = chats.add_subparsers(dest="verb", metavar="VERB")
    show = verbs.add_parser("show", help="Print a conversation")
    show.add_argument("id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="the whole record, as JSON")
    export = verbs.add_parser("export", help="Write a conversation as Markdown or JSON")
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    load = verbs.add_parser("import", help="Keep a conversation from a JSON export")
    load.add_argument("file", metavar="FILE")
    remove = verbs.add_parser("rm", help="Delete conversations")
    remove.add_argument("ids", type=int, nargs="+", metavar="ID")


def chats_command(args: argparse.Namespace) -> int:
    try:
        store = ConversationStore()
    except StoreError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    if store.problem:
        print(f"llmtui: {store.problem}", file=sys.stderr)
    try:
        return _verb(store, args)
    except StoreError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _verb(store: ConversationStore, args: argparse.Namespace) -> int:
    if args.verb == "show":
        conversation = store.load(args.id)
        if args.json:
            print(json.dumps(to_json(conversation), indent=2, ensure_ascii=False))
            return 0
        print(f"{conversation.title}  ({conversation.model}, {fmt.ago(conversation.updated)})")
        for turn in conversation.turns:
            print(f"\n>>> {turn.prompt}\n{turn.reply}\n({turn.model}: {stats_line(turn)})")
        return 0
    if args.verb == "export":
        conversation = store.load(args.id)
        text = (
            json.dumps(to_json(conversation), indent=2, ensure_ascii=False) + "\n"
            if args.format == "json"
            else to_markdown(conversation)
        )
        if args.output:
            atomic.write_text(Path(args.output), text)
        else:
            sys.stdout.write(text)
        return 0
    if args.verb == "import":
        path = Path(args.file)
        try:
            text = files.read_text(path)
        except (files.NotAFile, UnicodeDecodeError) as error:
            raise StoreError(f"cannot import {path}: {error}") from None
        key = store.add(from_json(text))
        print(f"imported as conversation {key}")
        return 0
    if args.verb == "rm":
        for key in args.ids:
            store.delete(key)
            print(f"deleted conversation {key}")
        return 0
    found = store.search(args.search) if args.search else store.conversations()
    _list(found, args.json)
    return 0


def _list(found: list[Summary], as_json: bool) -> None:
    if as_json:
        rows = [
            {"id": s.id, "title": s.title, "model": s.model, "turns": s.turns,
             "created": s.created, "updated": s.updated}
            for s in found
        ]  # fmt: skip
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    print(
        fmt.table(
            ["ID", "TITLE", "MODEL", "TURNS", "UPDATED"],
            [[str(s.id), _short(s.title), s.model, str(s.turns), fmt.ago(s.updated)]
             for s in found],
        )
    )  # fmt: skip


def _short(title: str, width: int = 48) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"
