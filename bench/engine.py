"""Generation speed: llmtui's engine against llama-cpp-python, on the same GGUF, in one run.

Measured, alternating over rounds; medians printed, and the medians of each round's ratios:
  (a) raw     a greedy decode loop on llama-cpp-python's low-level API, no text: the ceiling
  (b) lib     Llama.create_chat_completion(stream=True), at each thread count worth trying;
              "best b" is the fastest of them in this run
  (c) llmtui  llmtui's Engine.chat, through its public API
  (d) +idle   the same, with a second model loaded in the engine and idle (it answered once
              before, so its thread has run llama.cpp); against (c): a loaded, idle model
              must cost the other nothing
Rates count tokens from the first to the last (prompt excluded); time to first token (TTFT)
runs from the call to the first token.

All contenders share one process. On an OpenMP build of llama.cpp every thread that runs it
brings its own OpenMP team, and they slow each other (0.34x measured): the engine then runs
all llama.cpp work on one thread, and (a) and (b) run on that thread too.

    python bench/engine.py [--model smollm2:135m] [--idle-model gemma3:270m] [--rounds 5]
                           [--lengths 128 1024]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import llama_cpp
from llama_cpp import Llama

from llmtui import library
from llmtui.engine import Chunk, Engine, Message, ModelSpec
from llmtui.engine.gguf import read_header
from llmtui.engine.prompt import TemplatePrompt
from llmtui.engine.system import physical_cores

# Greedy SmolLM2 writes well past 1,024 tokens on this without an end-of-text token, so every
# contender generates the same count of the same tokens.
PROMPT = "Write a 3000-word essay on the history of Rome."


@dataclass
class Run:
    rate: float  # tokens/s from the first token to the last
    ttft: float  # seconds from the call to the first token
    tokens: int


def _rate(times: list[float], start: float) -> Run:
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return Run(rate, times[0] - start if times else 0.0, len(times))


def _messages(round_no: int) -> list[Message]:
    return [Message("user", f"(take {round_no}) {PROMPT}")]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def _load(spec: ModelSpec, threads: int, n_ctx: int) -> Llama:
    with _quiet():
        return Llama(
            str(spec.path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=True
        )


def raw_loop(llm: Llama, spec: ModelSpec, n: int, round_no: int) -> Run:
    header = read_header(spec.path)
    assert header.chat_template
    rendered = TemplatePrompt(header.chat_template, "", "").render(_messages(round_no))
    tokens = llm.tokenize(rendered.text.encode(), add_bos=False, special=True)
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    sampler = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    llama_cpp.llama_sampler_chain_add(sampler, llama_cpp.llama_sampler_init_greedy())
    start = time.perf_counter()
    batch = (llama_cpp.llama_token * len(tokens))(*tokens)
    llama_cpp.llama_decode(llm.ctx, llama_cpp.llama_batch_get_one(batch, len(tokens)))
    one = (llama_cpp.llama_token * 1)()
    times = []
    for _ in range(n):
        one[0] = llama_cpp.llama_sampler_sample(sampler, llm.ctx, -1)
        times.append(time.perf_counter())
        llama_cpp.llama_decode(llm.ctx, llama_cpp.llama_batch_get_one(one, 1))
    llama_cpp.llama_sampler_free(sampler)
    return _rate(times, start)


def library_stream(llm: Llama, n: int, round_no: int) -> Run:
    messages = [{"role": m.role, "content": m.content} for m in _messages(round_no)]
    start = time.perf_counter()
    times = []
    with _quiet():
        for chunk in llm.create_chat_completion(
            messages,
            max_tokens=n,
            temperature=0.0,
            stream=True,  # type: ignore[arg-type]
        ):
            if chunk["choices"][0]["delta"].get("content"):  # type: ignore[index,union-attr]
                times.append(time.perf_counter())
    return _rate(times, start)


def engine_stream(
    engine: Engine, spec: ModelSpec, threads: int, n_ctx: int, n: int, round_no: int
) -> Run:
    times: list[float] = []

    def on_event(event: object) -> None:
        if isinstance(event, Chunk) and event.tokens:
            times.append(time.perf_counter())

    options = {
        "temperature": 0,
        "repeat_penalty": 1.0,
        "num_predict": n,
        "num_thread": threads,
        "num_ctx": n_ctx,
    }
    start = time.perf_counter()
    engine.chat(spec, _messages(round_no), options, on_event=on_event).wait()
    return _rate(times, start)


def idle_beside(engine: Engine, idle: ModelSpec, run: Callable[[], Run]) -> Run:
    """`run` with `idle` loaded (after answering once) in the same engine, then unloaded."""
    engine.generate(idle, "Hello", {"num_predict": 4, "num_ctx": 512}).wait()
    try:
        return run()
    finally:
        engine.unload(idle.name)
        engine.wait_unloaded(idle.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2:135m")
    parser.add_argument("--idle-model", default="gemma3:270m")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 1024])
    parser.add_argument(
        "--thread-per-model",
        action="store_true",
        help="on an OpenMP build, run each model on its own thread anyway (the old engine), "
        "to measure what the shared thread saves",
    )
    args = parser.parse_args()

    spec = library.find(args.model).spec()
    idle = library.find(args.idle_model).spec()
    # First: it routes llama.cpp's log to its file for the whole run.
    engine = Engine(shared_thread=False if args.thread_per_model else None)
    native = engine.run_native  # (a) and (b) run where the engine runs llama.cpp
    n_ctx = 4096
    default_threads = max(1, (os.cpu_count() or 2) // 2)  # llama-cpp-python's default
    engine_threads = physical_cores()
    lib_threads = sorted({1, default_threads, engine_threads, os.cpu_count() or 1})
    print(
        f"model {spec.name}, idle model {idle.name}; cores {os.cpu_count()}; "
        f"llama.cpp {'with' if engine.openmp else 'without'} OpenMP"
        f"{' (thread per model)' if args.thread_per_model else ''}; llama-cpp-python "
        f"default threads {default_threads}; llmtui engine threads {engine_threads} (its default)"
    )

    raw_llm = native(lambda: _load(spec, engine_threads, n_ctx))
    libs = {t: native(lambda t=t: _load(spec, t, n_ctx)) for t in lib_threads}  # type: ignore[misc]

    def engine_run(n: int, r: int) -> Run:
        return engine_stream(engine, spec, engine_threads, n_ctx, n, r)

    contenders: dict[str, Callable[[int, int], Run]] = {
        "a raw": lambda n, r: native(lambda: raw_loop(raw_llm, spec, n, r)),
        **{
            f"b lib ({t}t)": lambda n, r, t=t: native(lambda: library_stream(libs[t], n, r))  # type: ignore[misc]
            for t in lib_threads
        },
        "c llmtui": engine_run,
        "d llmtui +idle": lambda n, r: idle_beside(engine, idle, lambda: engine_run(n, r)),
    }
    engine_run(8, 0)  # load outside the timings

    for n in args.lengths:
        runs: dict[str, list[Run]] = {name: [] for name in contenders}
        for round_no in range(1, args.rounds + 1):
            order = list(contenders.items())
            if round_no % 2 == 0:
                order.reverse()
            for name, run in order:
                runs[name].append(run(n, round_no))
        print(f"\n{n} tokens, {args.rounds} rounds (medians)")
        print(f"  {'':16}{'tok/s':>8}{'TTFT ms':>10}{'tokens':>8}")
        rates = {name: statistics.median(r.rate for r in results) for name, results in runs.items()}
        for name, results in runs.items():
            ttft = statistics.median(r.ttft for r in results)
            tokens = min(r.tokens for r in results)
            print(f"  {name:16}{rates[name]:8.1f}{ttft * 1000:10.1f}{tokens:8d}")
        # Ratios per round, between runs minutes apart at most, then their median: this
        # machine's speed drifts by tens of percent over minutes, which medians of the
        # rates alone would mix into the ratios.
        b_name = max((name for name in runs if name.startswith("b ")), key=rates.__getitem__)
        c, a, b, d = runs["c llmtui"], runs["a raw"], runs[b_name], runs["d llmtui +idle"]
        c_a = statistics.median(x.rate / y.rate for x, y in zip(c, a, strict=True))
        c_b = statistics.median(x.rate / y.rate for x, y in zip(c, b, strict=True))
        ttft = statistics.median(x.ttft / y.ttft for x, y in zip(c, b, strict=True))
        d_c = statistics.median(x.rate / y.rate for x, y in zip(d, c, strict=True))
        print(f"  c / a            {c_a:.3f}   (goal >= 0.95)")
        print(f"  c / best b       {c_b:.3f}   (goal >= 1.0; best b: {b_name})")
        print(f"  TTFT c / best b  {ttft:.3f}   (goal <= 1.05)")
        print(f"  d / c            {d_c:.3f}   (goal >= 0.95: an idle model costs nothing)")
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
