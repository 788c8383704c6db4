"""The workbench's cost while a reply streams, headless, against the engine alone.

Measured in one run, same model, prompt and token count (greedy), alternating:
  (3) tokens/s with the UI streaming the reply, against the engine alone (goal >= 0.95)
  (5) the UI thread's CPU time per second of streaming (goal < 10% of a core)
  (1) UI time writing a frame's text in the last tenth of the reply against the first tenth
      (goal <= 1.5x: the per-token cost must not grow with the reply)

    python bench/tui.py [--tokens 600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time

import psutil


def thread_cpu(native_id: int) -> float:
    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return thread.user_time + thread.system_time
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("LLMTUI_HOME", tempfile.mkdtemp(prefix="llmtui-bench-"))

    from llmtui import library
    from llmtui.engine import Engine, Message
    from llmtui.tui.app import Workbench
    from llmtui.tui.chat import PromptInput, Reply

    options = {"num_predict": args.tokens, "temperature": 0, "repeat_penalty": 1.0}
    engine = Engine(default_options=options)
    spec = library.find("smollm2:135m").spec()
    prompt = "Write a 3000-word essay on the history of Rome."

    def alone(round_no: int) -> float:
        return engine.chat(spec, [Message("user", f"(take {round_no}) {prompt}")]).wait().eval_rate

    frames: list[tuple[float, float]] = []  # (time, UI seconds writing that frame's text)
    original = Reply.write

    async def timed(self: Reply, text: str) -> None:
        start = time.perf_counter()
        await original(self, text)
        frames.append((start, time.perf_counter() - start))

    Reply.write = timed  # type: ignore[method-assign]

    async def with_ui(round_no: int) -> tuple[float, float]:
        app = Workbench("smollm2:135m", engine=engine)
        async with app.run_test(size=(160, 45)) as pilot:
            app.query_one(PromptInput).text = f"(take {round_no}) {prompt}"
            ui_thread = threading.get_native_id()
            cpu0, t0 = thread_cpu(ui_thread), time.perf_counter()
            await pilot.press("enter")
            while app.handle is None or app.handle.result is None:
                await asyncio.sleep(0.05)
            cpu = (thread_cpu(ui_thread) - cpu0) / (time.perf_counter() - t0)
            return app.handle.result.eval_rate, cpu  # type: ignore[union-attr]

    alone(0)  # load outside the timings
    ratios, cpus, growth = [], [], []
    for round_no in range(1, args.rounds + 1):
        base = alone(round_no)
        frames.clear()
        rate, cpu = asyncio.run(with_ui(round_no))
        base = (base + alone(round_no + 100)) / 2
        tenth = max(1, len(frames) // 10)
        first = statistics.mean(d for _, d in frames[:tenth])
        last = statistics.mean(d for _, d in frames[-tenth:])
        ratios.append(rate / base)
        cpus.append(cpu)
        growth.append(last / first)
        print(f"round {round_no}: engine alone {base:.1f} tok/s, with the UI {rate:.1f} "
              f"({rate / base:.2f}); UI thread {cpu:.0%} of a core; {len(frames)} frames, "
              f"{first * 1000:.1f} ms -> {last * 1000:.1f} ms each")  # fmt: skip
    print(f"\nmedians over {args.rounds} rounds, {args.tokens} tokens:")
    print(f"  (3) tok/s with UI / alone   {statistics.median(ratios):.2f}   (goal >= 0.95)")
    print(f"  (5) UI CPU while streaming  {statistics.median(cpus):.0%}    (goal < 10%)")
    print(f"  (1) frame cost last/first   {statistics.median(growth):.2f}   (goal <= 1.5)")
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
