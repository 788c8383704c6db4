"""Generation on a busy machine: the engine adapting its thread count against fixed counts.

The load is made here: a child process that spins one core for a bounded time (it ends by
itself even if this script dies). Three engines hold the same model: adapting (the
default), and pinned at each count from 1 to the physical cores; each round every contender
generates the same greedy tokens, in an order that alternates. Printed, per condition:
tokens/s (medians) and adapting / the best fixed count (the median of the rounds' ratios).

Then load that comes and goes: busy for --period seconds, idle for as long, over a
1,000-token reply, against an oracle that runs each phase at the fixed count fastest in such
phases (measured on the same reply under the same load, in this run); with, for each change
of load, how many tokens the engine took to change its count, and after how many the time
per token settled (within 25% of the phase's median, five tokens in a row).

Last, two models generating at once in one engine (idle machine): their tokens/s added up,
adapting (each takes its share of the cores) against each count pinned for both.

    python bench/busy.py [--model smollm2:135m] [--second-model gemma3:270m] [--rounds 3]
                         [--tokens 256] [--period 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from llmtui import library
from llmtui.engine import Chunk, Engine, LiveStats, Message, ModelSpec
from llmtui.engine.system import physical_cores

PROMPT = [Message("user", "Write a 3000-word essay on the history of Rome.")]
GREEDY = {"temperature": 0, "repeat_penalty": 1.0}


@contextmanager
def spinning(seconds: float, period: float = 0.0) -> Iterator[float]:
    """One core kept busy by another process (for `period` seconds, idle for as long, in
    turn, when `period` is set); yields the time it started (time.perf_counter)."""
    code = (
        "import time\n"
        f"end, period = time.time() + {seconds}, {period}\n"
        "start = time.time()\n"
        "while time.time() < end:\n"
        "    if period and int((time.time() - start) / period) % 2:\n"
        "        time.sleep(0.001)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    started = time.perf_counter()
    try:
        yield started
    finally:
        child.kill()
        child.wait()


@dataclass
class Trace:
    times: list[float] = field(default_factory=list)  # each token's arrival
    switches: list[tuple[int, int]] = field(default_factory=list)  # (token index, threads)

    @property
    def rate(self) -> float:
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


def generate(engine: Engine, spec: ModelSpec, tokens: int, threads: int) -> Trace:
    trace = Trace()

    def on_event(event: object) -> None:
        if isinstance(event, Chunk) and event.tokens:
            trace.times.append(time.perf_counter())
        elif isinstance(event, LiveStats) and (
            not trace.switches or trace.switches[-1][1] != event.threads
        ):
            trace.switches.append((len(trace.times), event.threads))

    options = {**GREEDY, "num_predict": tokens, "num_thread": threads}
    engine.chat(spec, PROMPT, {**options, "num_predict": 4}).wait()  # loaded and warm
    engine.chat(spec, PROMPT, options, on_event=on_event, ignore_eos=True).wait()
    return trace


def compare(
    engines: dict[str, tuple[Engine, int]], spec: ModelSpec, tokens: int, rounds: int
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in engines}
    for round_no in range(rounds):
        order = list(engines.items())
        for name, (engine, threads) in order if round_no % 2 else order[::-1]:
            rates[name].append(generate(engine, spec, tokens, threads).rate)
    return rates


def report(title: str, rates: dict[str, list[float]], goal: float) -> None:
    print(f"\n{title}")
    for name, values in rates.items():
        print(f"  {name:12}{statistics.median(values):8.1f} tok/s   rounds: "
              + " ".join(f"{v:.1f}" for v in values))  # fmt: skip
    fixed = {name: v for name, v in rates.items() if name != "adapting"}
    best = max(fixed, key=lambda name: statistics.median(fixed[name]))
    ratios = [a / b for a, b in zip(rates["adapting"], fixed[best], strict=True)]
    print(f"  adapting / best fixed ({best}): {statistics.median(ratios):.3f} "
          f"({min(ratios):.2f}-{max(ratios):.2f})   goal >= {goal}")  # fmt: skip


def oracle_seconds(tokens: int, busy_rate: float, idle_rate: float, period: float) -> float:
    """Time for `tokens` tokens at the best rate of each phase, starting busy."""
    elapsed, left, busy = 0.0, float(tokens), True
    while True:
        rate = busy_rate if busy else idle_rate
        if left <= rate * period:
            return elapsed + left / rate
        left -= rate * period
        elapsed += period
        busy = not busy


def settled_after(intervals: list[float]) -> int | None:
    """Tokens until five in a row lie within 25% of the median of what follows."""
    if len(intervals) < 10:
        return None
    typical = statistics.median(intervals)
    for i in range(len(intervals) - 5):
        if all(abs(x - typical) <= 0.25 * typical for x in intervals[i : i + 5]):
            return i
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2:135m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--period", type=float, default=3.0)
    parser.add_argument("--second-model", default="gemma3:270m")
    args = parser.parse_args()
    spec = library.find(args.model).spec()
    cores = physical_cores()
    # One engine per contender, so none reloads when another runs.
    engines = {"adapting": (Engine(), 0)} | {
        f"{n} thread(s)": (Engine(), n) for n in range(1, cores + 1)
    }
    print(f"model {spec.name}; {cores} cores; {args.tokens} greedy tokens, {args.rounds} rounds")

    idle = compare(engines, spec, args.tokens, args.rounds)
    report("idle machine", idle, 0.97)
    with spinning(600):
        time.sleep(0.5)
        busy = compare(engines, spec, args.tokens, args.rounds)
    report("one core busy (another process)", busy, 0.9)

    reply = 1000
    traces = {}
    for name, (engine, threads) in engines.items():
        engine.chat(spec, PROMPT, {**GREEDY, "num_predict": 4, "num_thread": threads}).wait()
        with spinning(120, args.period) as started:
            traces[name] = (generate(engine, spec, reply, threads), started)
    # The oracle runs each phase at the fixed count that was fastest in that kind of phase,
    # measured on this same reply under this same load (the context grows as it goes).
    phase_rates: dict[bool, float] = {}
    for busy_phase in (True, False):
        best = 0.0
        for name, (fixed, began) in traces.items():
            if name == "adapting":
                continue
            stamps = [
                t for t in fixed.times if (int((t - began) / args.period) % 2 == 0) == busy_phase
            ]
            span = sum(
                b - a
                for a, b in zip(fixed.times, fixed.times[1:], strict=False)
                if (int((a - began) / args.period) % 2 == 0) == busy_phase
            )
            if span > 0:
                best = max(best, len(stamps) / span)
        phase_rates[busy_phase] = best
    trace, started = traces["adapting"]
    seconds = trace.times[-1] - trace.times[0]
    oracle = oracle_seconds(reply, phase_rates[True], phase_rates[False], args.period)
    fixed = ", ".join(
        f"{name} {t.rate:.1f}" for name, (t, _) in traces.items() if name != "adapting"
    )
    print(f"\nload for {args.period:g} s, then none for {args.period:g} s, in turn, over a "
          f"{reply}-token reply: adapting {trace.rate:.1f} tok/s; {fixed}; oracle "
          f"{reply / oracle:.1f} (busy phases {phase_rates[True]:.1f}, idle "
          f"{phase_rates[False]:.1f}); adapting / oracle {oracle / seconds:.3f}"
          "   goal >= 0.85")  # fmt: skip
    changes = [started + args.period * k for k in range(1, int(seconds / args.period) + 2)]
    for change in changes:
        at = sum(1 for t in trace.times if t < change)
        if at >= len(trace.times):
            break
        after = [(i, n) for i, n in trace.switches if i >= at]
        noticed = f"{after[0][0] - at} tokens (to {after[0][1]} threads)" if after else "never"
        intervals = [
            b - a for a, b in zip(trace.times[at:], trace.times[at + 1 : at + 60], strict=False)
        ]
        settled = settled_after(intervals)
        print(f"  load {'off' if changes.index(change) % 2 == 0 else 'on '} at token {at}: "
              f"count changed after {noticed}; time per token settled after "
              f"{settled if settled is not None else '-'} tokens")  # fmt: skip
    two_at_once(engines, spec, args.second_model, args.tokens, args.rounds)
    for engine, _ in engines.values():
        engine.close()
    return 0


def _into(traces: list[Trace], engine: Engine, spec: ModelSpec, tokens: int, threads: int) -> None:
    traces.append(generate(engine, spec, tokens, threads))


def two_at_once(
    engines: dict[str, tuple[Engine, int]], spec: ModelSpec, second: str, tokens: int, rounds: int
) -> None:
    """Two models generating at once in one engine, on an idle machine: their tokens/s
    added up, adapting (each takes its share of the cores) against each count pinned."""
    other = library.find(second).spec()
    totals: dict[str, list[float]] = {name: [] for name in engines}
    for round_no in range(rounds):
        order = list(engines.items())
        for name, (engine, threads) in order if round_no % 2 else order[::-1]:
            traces: list[Trace] = []
            workers = [
                threading.Thread(target=_into, args=(traces, engine, model, tokens, threads))
                for model in (spec, other)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            totals[name].append(sum(trace.rate for trace in traces))
    report(f"two models at once ({spec.name} and {other.name}), tok/s added up", totals, 0.97)


if __name__ == "__main__":
    sys.exit(main())
