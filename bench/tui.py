"""The workbench's cost while a reply streams, against the engine alone, in one run.

Same model, prompt and token count (greedy, end-of-sequence ignored so every reply has
--tokens tokens), alternating engine-alone and workbench runs. Each round streams a reply
into the workbench twice: as it is read, for (1) (3) (4) (5), and with a key typed every
0.25 s, for (2) and the tokens/s of (3) while typing:

  (1) UI CPU per token in the last tenth of the reply against the first (goal <= 1.5)
  (2) key-press-to-repaint latency while streaming, p50 / p95 (goal p95 < 50 ms)
  (3) tokens/s with the workbench streaming against the engine alone (goal >= 0.95)
  (4) bytes written to the terminal per token, first tenth and last tenth
  (5) the UI thread's CPU per second of streaming (goal < 10% of a core), first / last tenth

The bench's loop runs on the app's own event loop, so `time.thread_time()` there is the UI
thread's CPU.

The app runs under Textual's headless driver, told that it is not headless so that it
renders every frame to escape sequences exactly as for a terminal; the bench counts them.

--busy runs it all with one core kept busy by another process (bench/busy.py's), and
--threads 0,1,2 compares the adapting count (0) with fixed ones: the summary gives the
workbench's tokens/s adapting against the best fixed count under the same load.

--compare streams each round once more in the compare view, two columns (smollm2 and
gemma3) together, and compares each column's tokens/s with the same two replies asked
headless together (llmtui compare's path), and the UI thread's CPU with the chat's:

  (7) compare view: UI CPU share of a core; tok/s of each column, view / headless

--store streams each round once more with conversations kept (the reply written to
SQLite every half second, off the UI thread), and compares the UI thread's CPU over the
whole reply with them kept and not (goal: the same within the rounds' noise).

    python bench/tui.py [--tokens 2000] [--rounds 2] [--threads 1,2] [--profile FILE]
                        [--replay TOK_S [--history N]] [--busy] [--store] [--compare]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Trace:
    """What one workbench run saw, frame by frame."""

    samples: list[tuple[int, float, float, int]] = field(default_factory=list)
    # (characters of the reply so far, wall time, UI thread CPU, terminal bytes so far)
    latencies: list[float] = field(default_factory=list)
    rate: float = 0.0
    chars_per_token: float = 1.0

    def tenth(self, which: int) -> tuple[float, float, float, float]:
        """CPU seconds per token, CPU share of a core, bytes per token and tokens per second
        in tenth `which` (0 first, 9 last) of the reply, by length."""
        total = self.samples[-1][0]
        low, high = total * which / 10, total * (which + 1) / 10
        start = max((s for s in self.samples if s[0] <= low), key=lambda s: s[1])
        end = min((s for s in self.samples if s[0] >= high), key=lambda s: s[1])
        (t0, w0, c0, b0), (t1, w1, c1, b1) = start, end
        tokens = max(1.0, (t1 - t0) / self.chars_per_token)
        wall = max(1e-9, w1 - w0)
        return (c1 - c0) / tokens, (c1 - c0) / wall, (b1 - b0) / tokens, tokens / wall

    def cpu_share(self) -> float:
        """The UI thread's CPU over the whole reply, as a share of a core."""
        (_, w0, c0, _), (_, w1, c1, _) = self.samples[0], self.samples[-1]
        return (c1 - c0) / max(1e-9, w1 - w0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", default="", help="engine threads, e.g. 2 or 1,2")
    parser.add_argument("--frames", default="", help="seconds between repaints, e.g. 0.05,0.08")
    parser.add_argument(
        "--no-keys", action="store_true", help="leave out the run that types while streaming"
    )
    parser.add_argument("--profile", metavar="FILE", help="pyinstrument the UI thread into FILE")
    parser.add_argument("--busy", action="store_true", help="one core busy throughout")
    parser.add_argument(
        "--store", action="store_true", help="also stream with conversations kept (SQLite)"
    )
    parser.add_argument(
        "--compare", action="store_true", help="also stream two columns in the compare view"
    )
    parser.add_argument(
        "--replay",
        type=float,
        metavar="TOK_S",
        help="also replay the reply at a fixed TOK_S into a transcript already full: the UI's "
        "cost per tenth without the engine slowing or the screen filling",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=1,
        metavar="N",
        help="replies already in the transcript when --replay starts (default 1)",
    )
    args = parser.parse_args()
    # A home of its own unless told one, removed when main() returns: each run fills its
    # cache with a model (~240 MB), and leftovers filled this machine's disk.
    home = tempfile.TemporaryDirectory(prefix="llmtui-bench-", ignore_cleanup_errors=True)
    os.environ.setdefault("LLMTUI_HOME", home.name)

    from textual import events
    from textual.drivers.headless_driver import HeadlessDriver

    from llmtui import library
    from llmtui.chat import ChatSession
    from llmtui.chat.compare import TOGETHER, Column, Comparison, ask_all
    from llmtui.engine import Done, Engine, Message
    from llmtui.settings import Settings
    from llmtui.tui.app import Workbench
    from llmtui.tui.bridge import frame_interval
    from llmtui.tui.chat import PromptInput, Reply, Transcript
    from llmtui.tui.compare import CompareScreen

    written = [0]
    # A key press waiting for its frame: (when it was pressed, the prompt's text before,
    # the prompt, where its latency goes). The frame that shows it ends the wait: measured
    # in the write itself, so the bench does not poll (polling cost the UI thread 2-3%).
    pending: list[tuple[float, str, PromptInput, list[float]]] = []

    def write(self: HeadlessDriver, data: str) -> None:
        written[0] += len(data.encode("utf-8"))
        if pending and pending[0][2].text != pending[0][1]:
            start, _, _, into = pending.pop()
            into.append(time.perf_counter() - start)

    HeadlessDriver.write = write  # type: ignore[method-assign]
    HeadlessDriver.is_headless = property(lambda self: False)  # type: ignore[assignment,method-assign]

    spec = library.find("smollm2:135m").spec()
    prompt = "Write a 3000-word essay on the history of Rome."

    def options(threads: int | None) -> dict[str, Any]:
        chosen = {"num_predict": args.tokens, "temperature": 0, "repeat_penalty": 1.0}
        return {**chosen, "num_thread": threads} if threads else chosen

    replies: list[Done] = []

    def alone(engine: Engine, round_no: int, opts: dict[str, Any]) -> float:
        messages = [Message("user", f"(take {round_no}) {prompt}")]
        replies.append(engine.chat(spec, messages, opts, ignore_eos=True).wait())
        return replies[-1].eval_rate

    async def with_ui(
        engine: Engine, round_no: int, frame: float, keys: bool, opts: dict[str, Any],
        keep: bool = False,
    ) -> Trace:  # fmt: skip
        trace = Trace()
        settings = Settings(parameters=opts, keep_chats=keep, frame_ms=round(frame * 1000))
        app = Workbench("smollm2:135m", engine=engine, settings=settings)
        chat = engine.chat
        engine.chat = lambda *a, **k: chat(*a, **{**k, "ignore_eos": True})  # type: ignore[method-assign]
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause(0.5)
            field_ = app.query_one(PromptInput)
            field_.text = f"(take {round_no}) {prompt}"
            trace.samples.append((0, time.perf_counter(), time.thread_time(), written[0]))
            await pilot.press("enter")
            next_key = time.perf_counter() + 0.5
            while app.chat.handle is None or app.chat.handle.result is None:
                reply = app.chat.reply
                now = time.perf_counter()
                if reply is not None:
                    trace.samples.append((len(reply.text), now, time.thread_time(), written[0]))
                if now >= next_key and app.chat.reply is not None and not pending and keys:
                    pending.append((now, field_.text, field_, trace.latencies))
                    app.post_message(events.Key("x", "x"))
                    next_key = now + 0.25
                await asyncio.sleep(0.2)
            pending.clear()
            done = app.chat.handle.result
            assert isinstance(done, Done), done
            trace.rate = done.eval_rate
            # The tenths end at the last frame streamed: the reply's one full render at the
            # end is not part of the per-token cost.
            trace.chars_per_token = len(done.text) / max(1, done.eval_count)
        engine.chat = chat  # type: ignore[method-assign]
        return trace

    pair = ("smollm2:135m", "gemma3:270m")

    def two_columns(engine: Engine, opts: dict[str, Any]) -> list[Column]:
        return [Column(name, ChatSession(engine, library.find(name), defaults=opts))
                for name in pair]  # fmt: skip

    @contextlib.contextmanager
    def to_the_end(engine: Engine) -> Any:
        """Every reply runs to num_predict (end-of-sequence ignored)."""
        chat = engine.chat
        engine.chat = lambda *a, **k: chat(*a, **{**k, "ignore_eos": True})  # type: ignore[method-assign]
        try:
            yield
        finally:
            engine.chat = chat  # type: ignore[method-assign]

    def headless(engine: Engine, round_no: int, opts: dict[str, Any]) -> list[float]:
        with to_the_end(engine):
            cells = ask_all(two_columns(engine, opts), f"(take {round_no}) {prompt}", TOGETHER)
        return [cell.tokens_per_second for cell in cells]

    async def compared(
        engine: Engine, round_no: int, opts: dict[str, Any]
    ) -> tuple[float, list[float]]:
        """The UI thread's CPU share while two columns stream, and their tokens/s."""
        app = Workbench("smollm2:135m", engine=engine, settings=Settings(keep_chats=False))
        with to_the_end(engine):
            async with app.run_test(size=(160, 45)) as pilot:
                await pilot.pause(0.5)
                screen = CompareScreen(Comparison(two_columns(engine, opts)))
                await app.push_screen(screen)
                await pilot.pause(0.5)
                screen.prompt.text = f"(take {round_no}) {prompt}"
                cpu, wall = time.thread_time(), time.perf_counter()
                await pilot.press("enter")
                while not screen.query_one("#summary").display:
                    await asyncio.sleep(0.2)
                share = (time.thread_time() - cpu) / (time.perf_counter() - wall)
                rates = []
                for column in screen.columns:
                    done = column.session.turns[-1].done
                    assert done is not None, column.session.turns[-1].error
                    rates.append(done.eval_rate)
        return share, rates

    async def replay(text: str, tokens: int, rate: float) -> list[tuple[float, float]]:
        """(UI CPU share, bytes per token) in each tenth of `text` written at `rate` tok/s,
        a frame at a time, after the same text as an earlier reply."""
        app = Workbench("smollm2:135m", engine=Engine(), settings=Settings(keep_chats=False))
        tenths: list[tuple[float, float]] = []
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause(0.5)
            transcript = app.query_one(Transcript)
            for _ in range(args.history):
                earlier = Reply()
                await transcript.mount(earlier)
                await earlier.finish(None, text)
            await pilot.pause(0.5)
            transcript.scroll_end(animate=False)
            await pilot.pause(0.5)
            transcript.freeze_above()  # as the workbench does when it sends a prompt
            reply = Reply()
            await transcript.mount(reply)
            await pilot.pause(0.5)
            gc.freeze()  # as the workbench does while a reply streams
            frame = app.frame
            step = max(1, round(len(text) / tokens * rate * frame))
            chunks = [text[i : i + step] for i in range(0, len(text), step)]
            chars_per_token = len(text) / tokens
            marks: list[tuple[float, float, int, int]] = []  # CPU, wall, bytes, characters
            for index, chunk in enumerate(chunks):
                if len(marks) <= index * 10 // len(chunks):  # the first chunk of a tenth
                    marks.append(
                        (time.thread_time(), time.perf_counter(), written[0], index * step)
                    )
                await reply.write(chunk)
                await asyncio.sleep(frame)
            marks.append((time.thread_time(), time.perf_counter(), written[0], len(text)))
            gc.unfreeze()
            for (c0, w0, b0, n0), (c1, w1, b1, n1) in itertools.pairwise(marks):
                tenths.append(((c1 - c0) / (w1 - w0), (b1 - b0) * chars_per_token / (n1 - n0)))
        app.engine.close()
        return tenths

    thread_choices = [int(t) for t in args.threads.split(",") if t] or [0]
    frame_choices = [float(f) for f in args.frames.split(",") if f] or [0.0]
    load = contextlib.ExitStack()
    if args.busy:
        from busy import spinning  # bench/busy.py, beside this script

        load.enter_context(spinning(3600))
    summary: dict[int, float] = {}  # median tok/s with the UI, by thread count (0: adapting)
    for threads, frame in ((t, f) for t in thread_choices for f in frame_choices):
        engine = Engine()
        opts = options(threads or None)
        alone(engine, 0, opts)  # load outside the timings
        ratios, rates, traces = [], [], []
        typed_ratios, typed = [], []
        kept: list[tuple[float, float]] = []  # UI CPU share: (conversations kept, not)
        views: list[tuple[float, list[float]]] = []  # compare view: UI CPU, tok/s ratios
        for round_no in range(1, args.rounds + 1):
            base = alone(engine, round_no, opts)
            if args.profile:
                from pyinstrument import Profiler

                with Profiler(async_mode="disabled") as profiler:
                    trace = asyncio.run(with_ui(engine, round_no, frame, False, opts))
                Path(args.profile).write_text(profiler.output_text(show_all=True, unicode=False))
                print(f"profile of the UI thread in {args.profile}")
            else:
                trace = asyncio.run(with_ui(engine, round_no, frame, False, opts))
            if not args.no_keys:
                typed.append(asyncio.run(with_ui(engine, round_no + 200, frame, True, opts)))
            if args.store:
                stored = asyncio.run(with_ui(engine, round_no + 300, frame, False, opts, True))
                kept.append((stored.cpu_share(), trace.cpu_share()))
                print(f"  kept: UI CPU {kept[-1][0]:.1%} of a core, not kept {kept[-1][1]:.1%}")
            if args.compare:
                before = headless(engine, round_no + 400, opts)
                share, rates_ = asyncio.run(compared(engine, round_no + 400, opts))
                after = headless(engine, round_no + 500, opts)
                views.append(
                    (
                        share,
                        [r / ((b + a) / 2) for r, b, a in zip(rates_, before, after, strict=True)],
                    )
                )
                print(f"  compare view: UI CPU {share:.1%} of a core; tok/s "
                      + ", ".join(f"{n} {r:.1f} (headless {(b + a) / 2:.1f})" for n, r, b, a
                                  in zip(pair, rates_, before, after, strict=True)))  # fmt: skip
            base = (base + alone(engine, round_no + 100, opts)) / 2
            ratios.append(trace.rate / base)
            rates.append(trace.rate)
            traces.append(trace)
            first, last = trace.tenth(0), trace.tenth(9)
            print(f"round {round_no}: alone {base:.1f} tok/s, with the UI {trace.rate:.1f} "
                  f"({trace.rate / base:.2f}); UI CPU {first[1]:.0%} -> {last[1]:.0%} of a "
                  f"core; {first[2]:.0f} -> {last[2]:.0f} bytes/token")  # fmt: skip
            if typed:
                typed_ratios.append(typed[-1].rate / base)
                print(f"  typing: with the UI {typed[-1].rate:.1f} ({typed_ratios[-1]:.2f})")
        engine.close()
        latencies = sorted(x for t in typed for x in t.latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
        growth = statistics.median(t.tenth(9)[0] / t.tenth(0)[0] for t in traces)
        label = f"num_thread {threads}" if threads else "default threads"
        label += f", frames every {(frame or frame_interval()) * 1000:.0f} ms"
        print(f"\n{label}, medians over {args.rounds} rounds of {args.tokens} tokens:")
        print(f"  (1) UI CPU/token last/first tenth  {growth:.2f}   (goal <= 1.5)")
        if latencies:
            print(f"  (2) key to repaint p50 / p95       "
                  f"{statistics.median(latencies) * 1000:.0f} / {p95 * 1000:.0f} ms  "
                  f"({len(latencies)} presses; goal p95 < 50 ms)")  # fmt: skip
        print(f"  (3) tok/s with UI / alone          {statistics.median(ratios):.2f}   "
              f"({statistics.median(rates):.1f} tok/s; goal >= 0.95)")  # fmt: skip
        if typed_ratios:
            print(f"      ... typing 4 keys/s throughout {statistics.median(typed_ratios):.2f}")
        bytes_first = statistics.median(t.tenth(0)[2] for t in traces)
        bytes_last = statistics.median(t.tenth(9)[2] for t in traces)
        print(f"  (4) terminal bytes/token           {bytes_first:.0f} first tenth, "
              f"{bytes_last:.0f} last")  # fmt: skip
        cpu_first = statistics.median(t.tenth(0)[1] for t in traces)
        cpu_last = statistics.median(t.tenth(9)[1] for t in traces)
        print(f"  (5) UI thread CPU                  {cpu_first:.0%} first tenth, {cpu_last:.0%}"
              " last (goal < 10%)")  # fmt: skip
        tenths = range(10)
        cpu = [statistics.median(t.tenth(i)[1] for t in traces) for i in tenths]
        size = [statistics.median(t.tenth(i)[2] for t in traces) for i in tenths]
        print("  by tenth of the reply: UI CPU " + " ".join(f"{c:.0%}" for c in cpu))
        print("                         bytes/token " + " ".join(f"{b:.0f}" for b in size))
        # CPU per token is CPU per second over tokens per second: as the context fills,
        # the engine slows and each frame carries fewer tokens.
        speed = [statistics.median(t.tenth(i)[3] for t in traces) for i in tenths]
        print("                         tok/s " + " ".join(f"{r:.0f}" for r in speed) + "\n")
        if kept:
            on, off = (statistics.median(k[i] for k in kept) for i in (0, 1))
            print(f"  (6) UI thread CPU, conversations kept / not: {on:.1%} / {off:.1%} "
                  f"(rounds: {', '.join(f'{a:.1%}/{b:.1%}' for a, b in kept)})\n")  # fmt: skip
        if views:
            share = statistics.median(v[0] for v in views)
            each = [statistics.median(v[1][i] for v in views) for i in range(len(pair))]
            print(
                f"  (7) compare view, 2 columns together: UI CPU {share:.1%} of a core "
                f"(goal < 10%); tok/s view / headless: "
                + ", ".join(f"{n} {r:.2f}" for n, r in zip(pair, each, strict=True))
                + "\n"
            )
        summary[threads] = statistics.median(rates)
    load.close()
    if len(summary) > 1 and 0 in summary:
        fixed = {t: rate for t, rate in summary.items() if t}
        best = max(fixed, key=fixed.__getitem__)
        print(f"the workbench{' with one core busy' if args.busy else ''}: adapting "
              f"{summary[0]:.1f} tok/s, best fixed ({best} threads) {fixed[best]:.1f}: "
              f"{summary[0] / fixed[best]:.3f}   "
              f"(goal >= {0.9 if args.busy else 0.97})\n")  # fmt: skip
    if args.replay and replies:
        done = replies[-1]
        replayed = asyncio.run(replay(done.text, done.eval_count, args.replay))
        print(f"replayed at {args.replay:.0f} tok/s into a full transcript, by tenth:")
        print("  UI CPU " + " ".join(f"{cpu:.0%}" for cpu, _ in replayed))
        print("  bytes/token " + " ".join(f"{size:.0f}" for _, size in replayed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
