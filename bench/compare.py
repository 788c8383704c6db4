"""A compare round's cost: 2 models x 3 prompts, as `llmtui compare` runs it (columns in
turn, and together), against the same prompts put to one model after the other as one
would by hand (`llmtui run`-equivalent calls, in this process, the same minutes).

Greedy, --tokens at most per answer; rounds alternate the order of the three ways. Printed:
each way's wall time (median) and its ratio to by hand (goal <= 1.0: comparing never costs
more than doing it by hand), and each model's tokens/s in each way.

    python bench/compare.py [--models smollm2:135m,gemma3:270m] [--tokens 128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict

from llmtui import library
from llmtui.chat import ChatSession
from llmtui.chat.compare import IN_TURN, TOGETHER, Cell, Column, ask_all
from llmtui.engine import Engine

PROMPTS = [
    "Explain how a bicycle stays upright.",
    "Write a short story about a lighthouse keeper.",
    "List ten uses for a paperclip, with a sentence on each.",
]


def by_hand(engine: Engine, names: list[str], options: dict[str, object]) -> list[Cell]:
    """One model after another, each prompt in a fresh chat, as `llmtui run` would."""
    cells = []
    for name in names:
        model = library.find(name)
        for prompt in PROMPTS:
            session = ChatSession(engine, model)
            session.options.update(options)
            ask = session.send if session.has_template() else session.complete
            done = ask(prompt).wait()
            outcome = session.turns[-1].outcome
            cells.append(Cell(name, prompt, done.text, outcome, tokens=done.eval_count,
                              tokens_per_second=done.eval_rate))  # fmt: skip
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="smollm2:135m,gemma3:270m")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = args.models.split(",")
    options: dict[str, object] = {"temperature": 0, "num_predict": args.tokens}
    engine = Engine()
    columns = [Column(n, ChatSession(engine, library.find(n))) for n in names]
    for column in columns:
        column.session.options.update(options)
    ways = {
        "by hand": lambda: by_hand(engine, names, options),
        IN_TURN: lambda: [c for p in PROMPTS for c in ask_all(columns, p, IN_TURN)],
        TOGETHER: lambda: [c for p in PROMPTS for c in ask_all(columns, p, TOGETHER)],
    }
    ask_all(columns, "Hi.", IN_TURN)  # both models loaded before the timings
    seconds: dict[str, list[float]] = defaultdict(list)
    rates: dict[tuple[str, str], list[float]] = defaultdict(list)
    tokens: dict[str, list[int]] = defaultdict(list)
    for round_no in range(args.rounds):
        order = list(ways.items())
        for way, run in order if round_no % 2 else order[::-1]:
            began = time.perf_counter()
            cells = run()
            seconds[way].append(time.perf_counter() - began)
            tokens[way].append(sum(c.tokens for c in cells))
            for name in names:
                rates[way, name].append(
                    statistics.median(c.tokens_per_second for c in cells if c.column == name)
                )
    print(f"{' and '.join(names)}, {len(PROMPTS)} prompts, greedy, at most {args.tokens} "
          f"tokens each, {args.rounds} rounds")  # fmt: skip
    hand = statistics.median(seconds["by hand"])
    for way in ways:
        wall = statistics.median(seconds[way])
        speeds = ", ".join(f"{n} {statistics.median(rates[way, n]):.1f} tok/s" for n in names)
        print(f"  {way:9} {wall:6.2f} s  / by hand {wall / hand:.3f}  "
              f"({statistics.median(tokens[way])} tokens; {speeds})")  # fmt: skip
    print("  goal: a compare round <= 1.0x by hand")
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
