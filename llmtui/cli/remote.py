"""`llmtui remote add|list|rm|test`: the servers whose models llmtui runs as REMOTE/MODEL."""

from __future__ import annotations

import argparse
import json
import sys

from llmtui.remote import config
from llmtui.remote.client import RemoteFailure, probe
from llmtui.remote.config import RemoteError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    remote = commands.add_parser("remote", help="Servers whose models run as REMOTE/MODEL")
    verbs = remote.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="Name a server: its models are then NAME/MODEL")
    add.add_argument("name", metavar="NAME")
    add.add_argument("url", metavar="URL", help="e.g. http://gpu-box:11434, or "
                     "http://host:8000/v1 for an OpenAI-compatible server")  # fmt: skip
    add.add_argument("--kind", choices=config.KINDS, default=None,
                     help="its API (default: openai if URL ends in /v1, else ollama)")  # fmt: skip
    add.add_argument("--key-env", metavar="VARIABLE",
                     help="the environment variable that holds its API key")  # fmt: skip
    add.add_argument("--replace", action="store_true", help="replace a remote of that name")
    listing = verbs.add_parser("list", aliases=["ls"], help="The remotes named")
    listing.add_argument("--json", action="store_true")
    rm = verbs.add_parser("rm", help="Forget a remote (its server is untouched)")
    rm.add_argument("name", metavar="NAME")
    test = verbs.add_parser("test", help="Check a remote: reachable, its models, latency")
    test.add_argument("name", metavar="NAME")


def remote_command(args: argparse.Namespace) -> int:
    if args.verb == "add":
        kind = args.kind or ("openai" if args.url.rstrip("/").endswith("/v1") else "ollama")
        remote = config.checked(args.name, kind, args.url, args.key_env)
        config.add(remote, replace=args.replace)
        print(f"Added {remote.name}: {remote.kind} at {remote.url}; its models are "
              f"{remote.name}/MODEL (`llmtui remote test {remote.name}` checks it)")  # fmt: skip
        return 0
    if args.verb == "rm":
        gone = config.remove(args.name)
        print(f"Removed {gone.name} ({gone.url})")
        return 0
    if args.verb == "test":
        return _test(args.name)
    remotes, problems = config.load()
    for problem in problems:
        print(f"llmtui: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([vars(r) for r in remotes], indent=2))
        return 0
    if not remotes:
        print("No remotes (llmtui remote add NAME URL names one)")
        return 0
    width = max(len(r.name) for r in remotes)
    for r in remotes:
        key = f"  key in ${r.key_env}" if r.key_env else ""
        print(f"{r.name:<{width}}  {r.kind:<6}  {r.url}{key}")
    return 0


def _test(name: str) -> int:
    remote = config.find(name)
    if remote is None:
        raise RemoteError(f"no remote named {name!r} (llmtui remote list shows them)")
    try:
        models, took = probe(remote)
    except RemoteFailure as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(f"{remote.name}: {remote.kind} at {remote.url} answered in {took * 1000:.0f} ms, "
          f"{len(models)} model{'s' if len(models) != 1 else ''}")  # fmt: skip
    for model in models:
        size = f"  {model.size / 1e9:.1f} GB" if model.size else ""
        details = f"  {model.details}" if model.details else ""
        print(f"  {remote.name}/{model.name}{size}{details}")
    return 0
