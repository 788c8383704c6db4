"""Kept conversations at scale: the workbench's start with 1,000 saved conversations of 20
turns each against none, and searches over them.

Two homes, one empty and one filled (through the store's own import path), in this run;
the workbench opens in each in turn (after one warm-up start each) and is timed from its
start until its conversation store is open and the last conversation offered (`ready`),
and until its first frame (`first frame`). Printed: medians and the difference (goal:
within +-50 ms), then each search's median time (goal < 100 ms).

    python bench/store.py [--conversations 1000] [--turns 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

WORDS = [  # the words of the conversations made up to fill the store
    "model", "token", "context", "thread", "cache", "prompt", "reply", "engine", "library",
    "terminal", "window", "memory", "python", "rust", "kernel", "socket", "packet", "latency",
    "quantum", "river", "mountain", "garden", "recipe", "coffee", "history", "empire",
    "bridge", "violin", "harbour", "lantern", "orbit", "planet", "comet", "glacier", "desert",
    "forest", "algorithm", "matrix", "vector", "tensor", "gradient", "compiler", "parser",
    "grammar", "theorem", "proof", "lemma",
]  # fmt: skip


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def fill(home: Path, conversations: int, turns: int) -> None:
    from llmtui.chat.session import Outcome, Turn
    from llmtui.chat.store import Conversation, ConversationStore

    rng = random.Random(7)
    store = ConversationStore(home / "data" / "conversations.db")
    now = time.time()
    for n in range(conversations):
        chat = [
            Turn(sentence(rng, 12), "smollm2:135m", now - n * 60 + k, Outcome.STOPPED,
                 parts=[" ".join(sentence(rng, 15) for _ in range(8))])
            for k in range(turns)
        ]  # fmt: skip
        store.add(Conversation(0, f"bench-{n}", chat[0].prompt, "smollm2:135m", None, {},
                               now - n * 60, now - n * 60 + turns, chat))  # fmt: skip
    store.close()


async def start(home: Path) -> tuple[float, float]:
    """Seconds until the first frame, and until the store is open and offered."""
    os.environ["LLMTUI_HOME"] = str(home)
    from llmtui.engine import Engine
    from llmtui.settings import Settings
    from llmtui.tui.app import Workbench

    began = time.perf_counter()
    app = Workbench("smollm2:135m", engine=ENGINE[0], settings=Settings())
    assert isinstance(ENGINE[0], Engine)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        first_frame = time.perf_counter() - began
        while app.chat.store is None:
            await asyncio.sleep(0.002)
        await pilot.pause()
        ready = time.perf_counter() - began
    return first_frame, ready


ENGINE: list[object] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmtui-bench-") as root:
        empty, full = Path(root, "empty"), Path(root, "full")
        os.environ["LLMTUI_HOME"] = str(full)
        began = time.perf_counter()
        fill(full, args.conversations, args.turns)
        size = (full / "data" / "conversations.db").stat().st_size
        print(f"{args.conversations} conversations of {args.turns} turns: filled in "
              f"{time.perf_counter() - began:.1f} s, {size / 1e6:.0f} MB")  # fmt: skip
        from llmtui.engine import Engine

        ENGINE.append(Engine())
        for home in (empty, full):  # warm-up: starter models assembled, caches filled
            asyncio.run(start(home))
        times: dict[str, list[tuple[float, float]]] = {"none": [], "full": []}
        for round_no in range(args.rounds):
            order = [("none", empty), ("full", full)]
            for name, home in order if round_no % 2 else order[::-1]:
                times[name].append(asyncio.run(start(home)))
        for part, label in ((0, "first frame"), (1, "ready (store open, last offered)")):
            none = statistics.median(t[part] for t in times["none"])
            kept = statistics.median(t[part] for t in times["full"])
            print(f"workbench start, {label}: none {none * 1000:.0f} ms, "
                  f"{args.conversations} kept {kept * 1000:.0f} ms, difference "
                  f"{(kept - none) * 1000:+.0f} ms   (goal within +-50 ms)")  # fmt: skip
        from llmtui.chat.store import ConversationStore

        store = ConversationStore(full / "data" / "conversations.db")
        for query in ("orbit", "violin harbour", "glacier comet lemma", "nothing-matches-this",
                      "Compiler"):  # fmt: skip
            spent = []
            for _ in range(7):
                t0 = time.perf_counter()
                found = store.search(query)
                spent.append(time.perf_counter() - t0)
            print(f"search {query!r}: {len(found)} conversations (of at most 200 listed) in "
                  f"{statistics.median(spent) * 1000:.1f} ms   (goal < 100 ms)")  # fmt: skip
        t0 = time.perf_counter()
        listed = store.conversations()
        print(f"list the latest {len(listed)}: {(time.perf_counter() - t0) * 1000:.1f} ms")
        store.close()
        ENGINE[0].close()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
