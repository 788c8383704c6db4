"""`llmtui embed MODEL TEXT...`: each text's embedding, as /api/embed returns it."""

from __future__ import annotations

import argparse
import json
import sys

from llmtui.engine import make_engine
from llmtui.library import find


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    embed = commands.add_parser("embed", help="Embed texts: a vector of unit length each")
    embed.add_argument("model", metavar="MODEL")
    embed.add_argument("texts", metavar="TEXT", nargs="*", help="texts (else stdin, a line each)")
    embed.add_argument("--json", action="store_true", help='print {"model", "embeddings"}')


def embed_command(args: argparse.Namespace) -> int:
    model = find(args.model)
    texts = list(args.texts) or [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not texts:
        print("Error: give a TEXT, or lines on stdin", file=sys.stderr)
        return 1
    engine = make_engine()
    try:
        done = engine.embed(model.spec(), texts, keep_alive=0).wait()
    finally:
        engine.close()
    if args.json:
        print(json.dumps({"model": model.name, "embeddings": [list(v) for v in done.embeddings]}))
    else:
        for vector in done.embeddings:
            print(" ".join(f"{x:.6g}" for x in vector))
    return 0
