"""The engine's speed against llama.cpp's own llama-bench and llama-cpp-python, in one run.

Every contender runs once per round, in an order that alternates between rounds; medians are
printed, and each ratio is the median of the ratios within each round, with their range
(this machine's speed drifts by tens of percent over minutes, which ratios of medians would
mix in). Each engine contender is loaded and warmed with its options before it is timed, as
llama-bench warms up.

  llama-bench   llama.cpp's benchmark (`make llama-bench`, or LLAMA_BENCH=path), built from
                the llama.cpp that llama-cpp-python vendors: tg128/tg1024/pp512, flash
                attention off and on, the engine's thread count. The ceiling.
  llmtui ...    the engine through its public API: greedy with flash attention on and off;
                Ollama's default samplers (top_k 40, top_p 0.9, repeat_penalty 1.1 over 64
                tokens, temperature 0.8); a 512-token prompt (prompt rate from the engine's
                own Done, time to first token against it); the KV cache q8_0 against f16 at
                num_ctx 8192 (memory and speed); and "+idle", greedy with a second model
                loaded and idle (it answered once, so its thread has run llama.cpp).
  a raw         a greedy decode loop on llama-cpp-python's low-level API (its defaults: flash
                attention off, no threadpool)
  b lib         Llama.create_chat_completion(stream=True) at each thread count worth trying;
                "best b" is the fastest in this run
Generation rates count tokens from the first to the last (the prompt excluded); TTFT runs
from the call to the first token.

On an OpenMP build of llama.cpp every thread that runs it brings its own OpenMP team, and they
slow each other (0.34x measured): the engine then runs all llama.cpp work on one thread, and
(a) and (b) run on that thread too.

    python bench/engine.py [--model smollm2:135m] [--idle-model gemma3:270m] [--rounds 5]
                           [--lengths 128 1024] [--no-lib] [--no-threadpool]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp import Llama

from llmtui import library
from llmtui.engine import Chunk, Done, Engine, LiveStats, Message, ModelSpec
from llmtui.engine.gguf import read_header
from llmtui.engine.prompt import TemplatePrompt
from llmtui.engine.system import physical_cores

# Greedy SmolLM2 writes well past 1,024 tokens on this without an end-of-text token, so every
# contender generates the same count of the same tokens.
PROMPT = "Write a 3000-word essay on the history of Rome."
PROMPT_TOKENS = 512
GREEDY = {"temperature": 0, "repeat_penalty": 1.0}
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    rate: float  # tokens/s (generated, first to last; or prompt tokens evaluated)
    ttft: float = 0.0  # seconds from the call to the first token
    tokens: int = 0
    prompt_time: float = 0.0  # seconds evaluating the prompt, as the engine measured it
    kv_bytes: int = 0


def _rate(times: list[float], start: float) -> Run:
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return Run(rate, times[0] - start if times else 0.0, len(times))


def _messages(round_no: int) -> list[Message]:
    return [Message("user", f"(take {round_no}) {PROMPT}")]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stderr(io.StringIO()):
        yield


# -- llama-bench ------------------------------------------------------------------------


def find_llama_bench() -> Path | None:
    if os.environ.get("LLAMA_BENCH"):
        return Path(os.environ["LLAMA_BENCH"])
    version = llama_cpp.__version__
    built = ROOT / "build" / "llama-bench" / version / "llama-bench"
    return built if built.exists() else None


def llama_bench(
    path: Path, spec: ModelSpec, threads: int, flash: bool, prompt: int, gen: int, _round: int
) -> Run:
    """One repetition of one llama-bench test (pp<prompt> or tg<gen>), after its warm-up."""
    command = [str(path), "-m", str(spec.path), "-t", str(threads), "-r", "1", "-o", "json",
               "-fa", "1" if flash else "0", "-p", str(prompt), "-n", str(gen)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    (test,) = json.loads(out.stdout)
    return Run(float(test["avg_ts"]))


# -- llama-cpp-python -------------------------------------------------------------------


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


# -- the engine -------------------------------------------------------------------------


class EngineBench:
    def __init__(self, engine: Engine, spec: ModelSpec, threads: int) -> None:
        self.engine, self.spec, self.threads = engine, spec, threads
        vocab = Llama(str(spec.path), vocab_only=True, verbose=False)
        # Text of PROMPT_TOKENS tokens, told apart per round by its first words.
        words = " ".join(f"{PROMPT} Rome was founded in 753 BC." for _ in range(60))
        tokens = vocab.tokenize(words.encode(), add_bos=False)[: PROMPT_TOKENS - 8]
        self.long_prompt = vocab.detokenize(tokens).decode("utf-8", errors="replace")

    def stream(self, n: int, round_no: int, **options: Any) -> Run:
        times: list[float] = []
        kv: list[int] = []

        def on_event(event: object) -> None:
            if isinstance(event, Chunk) and event.tokens:
                times.append(time.perf_counter())
            elif isinstance(event, LiveStats):
                kv.append(event.kv_cache_size)

        merged = {"num_predict": n, "num_thread": self.threads, "num_ctx": 4096, **options}
        messages = _messages(round_no)
        # Loaded and warmed with these options first (a change of flash attention or KV type
        # reloads), as llama-bench warms up before it measures.
        self.engine.chat(self.spec, messages, {**merged, "num_predict": 4}).wait()
        start = time.perf_counter()
        # Sampled replies may end early; every contender counts the same number of tokens.
        self.engine.chat(self.spec, messages, merged, on_event=on_event, ignore_eos=True).wait()
        run = _rate(times, start)
        run.kv_bytes = kv[-1] if kv else 0
        return run

    def prompt(self, round_no: int, **options: Any) -> Run:
        merged = {**GREEDY, "num_predict": 1, "num_thread": self.threads, "num_ctx": 4096}
        text = f"Round {round_no}. {self.long_prompt}"
        self.engine.generate(self.spec, "Hi", {**merged, **options}).wait()  # loaded, warm
        done: Done = self.engine.generate(self.spec, text, {**merged, **options}).wait()
        prompt_time = done.prompt_eval_duration / 1e9
        return Run(
            done.prompt_eval_count / prompt_time,
            ttft=done.time_to_first_token / 1e9,
            tokens=done.prompt_eval_count,
            prompt_time=prompt_time,
        )

    def beside(self, idle: ModelSpec, n: int, round_no: int, **options: Any) -> Run:
        """`stream` with `idle` loaded (after answering once) in the same engine, then
        unloaded."""
        self.engine.generate(idle, "Hello", {"num_predict": 4, "num_ctx": 512}).wait()
        try:
            return self.stream(n, round_no, **options)
        finally:
            self.engine.unload(idle.name)
            self.engine.wait_unloaded(idle.name)


# -- reporting --------------------------------------------------------------------------


def _ratios(runs: dict[str, list[Run]], top: str, bottom: str) -> list[float]:
    return [x.rate / y.rate for x, y in zip(runs[top], runs[bottom], strict=True)]


def _table(title: str, runs: dict[str, list[Run]], names: list[str]) -> None:
    print(f"\n{title} (medians)")
    print(f"  {'':30}{'tok/s':>8}{'TTFT ms':>10}{'tokens':>8}")
    for name in names:
        results = runs[name]
        rate = statistics.median(r.rate for r in results)
        ttft = statistics.median(r.ttft for r in results) * 1000
        tokens = min(r.tokens for r in results)
        print(f"  {name:30}{rate:8.1f}{ttft:10.1f}{tokens:8d}")


def _line(label: str, ratios: list[float], goal: str) -> None:
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""
    print(f"  {label:44}{statistics.median(ratios):7.3f} {spread:>10}   ({goal})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2:135m")
    parser.add_argument("--idle-model", default="gemma3:270m")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--no-lib", action="store_true", help="skip (a) and (b)")
    parser.add_argument(
        "--no-threadpool",
        action="store_true",
        help="the engine without its persistent llama.cpp threadpool, to measure what it saves",
    )
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
    engine = Engine(
        shared_thread=False if args.thread_per_model else None,
        threadpool=False if args.no_threadpool else None,
    )
    native = engine.run_native  # (a) and (b) run where the engine runs llama.cpp
    threads = physical_cores()
    default_threads = max(1, (os.cpu_count() or 2) // 2)  # llama-cpp-python's default
    lib_threads = sorted({1, default_threads, threads, os.cpu_count() or 1})
    bench_path = find_llama_bench()
    fa_default = "on" if engine.defaults.flash_attention else "off"
    print(
        f"model {spec.name}, idle model {idle.name}; cores {os.cpu_count()}; llama.cpp "
        f"{'with' if engine.openmp else 'without'} OpenMP; engine threads {threads}, "
        f"threadpool {'on' if engine.threadpool else 'off'}, flash attention {fa_default} "
        f"by default; llama-bench {bench_path or 'not built (make llama-bench)'}"
    )

    bench = EngineBench(engine, spec, threads)
    bench.stream(8, 0)  # load outside the timings
    # Each case runs once per round and returns its runs by name.
    cases: list[Callable[[int], dict[str, Run]]] = []

    def case(name: str, run: Callable[..., Run], *given: Any, **options: Any) -> None:
        cases.append(lambda r: {name: run(*given, r, **options)})

    # llama-bench beside its counterpart: ratios between neighbours drift least.
    def ceiling(name: str, flash: bool, prompt: int, gen: int) -> None:
        if bench_path:
            case(name, llama_bench, bench_path, spec, threads, flash, prompt, gen)

    for n in args.lengths:
        ceiling(f"llama-bench tg fa on {n}", True, 0, n)
        case(f"llmtui fa on {n}", bench.stream, n, **GREEDY, flash_attention=True)
        case(f"llmtui ollama samplers {n}", bench.stream, n)
        ceiling(f"llama-bench tg fa off {n}", False, 0, n)
        case(f"llmtui fa off {n}", bench.stream, n, **GREEDY, flash_attention=False)
        case(f"llmtui +idle {n}", bench.beside, idle, n, **GREEDY)
    if not args.no_lib:
        raw = native(partial(_load, spec, threads, 4096))
        for n in args.lengths:
            case(f"a raw {n}", lambda n, r: native(partial(raw_loop, raw, spec, n, r)), n)
        for t in lib_threads:
            lib = native(partial(_load, spec, t, 4096))
            for n in args.lengths:
                case(
                    f"b lib ({t}t) {n}",
                    lambda lib, n, r: native(partial(library_stream, lib, n, r)),
                    lib,
                    n,
                )
    ceiling("llama-bench pp fa on", True, PROMPT_TOKENS, 0)
    case("llmtui prompt fa on", bench.prompt, flash_attention=True)
    ceiling("llama-bench pp fa off", False, PROMPT_TOKENS, 0)
    case("llmtui prompt fa off", bench.prompt, flash_attention=False)
    case("llmtui kv f16 8k", bench.stream, 128, **GREEDY, num_ctx=8192, kv_cache_type="f16")
    case("llmtui kv q8_0 8k", bench.stream, 128, **GREEDY, num_ctx=8192, kv_cache_type="q8_0")

    runs: dict[str, list[Run]] = {}
    for round_no in range(1, args.rounds + 1):
        for each in cases if round_no % 2 else cases[::-1]:
            for name, run in each(round_no).items():
                runs.setdefault(name, []).append(run)
    engine.close()
    report(runs, args.lengths, args.rounds, fa_default, bench_path is not None, not args.no_lib)
    return 0


def report(
    runs: dict[str, list[Run]], lengths: list[int], rounds: int, fa: str, ceiling: bool, lib: bool
) -> None:
    def line(label: str, top: str, bottom: str, goal: str) -> None:
        _line(label, _ratios(runs, top, bottom), goal)

    for n in lengths:
        names = [name for name in runs if name.endswith(f" {n}")]
        _table(f"Generation, {n} tokens, {rounds} rounds", runs, names)
        greedy, samplers = f"llmtui fa {fa} {n}", f"llmtui ollama samplers {n}"
        if ceiling:
            for each in ("on", "off"):
                line(
                    f"llmtui fa {each} / llama-bench fa {each}",
                    f"llmtui fa {each} {n}",
                    f"llama-bench tg fa {each} {n}",
                    "goal >= 0.95",
                )
            line(
                f"ollama samplers / llama-bench fa {fa}",
                samplers,
                f"llama-bench tg fa {fa} {n}",
                "goal >= 0.92",
            )
        line(f"ollama samplers / greedy (fa {fa})", samplers, greedy, "what the samplers cost")
        line("+idle / alone", f"llmtui +idle {n}", greedy, "goal >= 0.95: idle costs nothing")
        if lib:
            best = max(
                (name for name in names if name.startswith("b lib")),
                key=lambda name: statistics.median(r.rate for r in runs[name]),
            )
            line(f"llmtui fa off / best b: {best}", f"llmtui fa off {n}", best, "goal >= 1.0")
            line("llmtui fa off / a raw", f"llmtui fa off {n}", f"a raw {n}", "same settings")
            if ceiling:
                line(
                    "a raw / llama-bench fa off",
                    f"a raw {n}",
                    f"llama-bench tg fa off {n}",
                    "llama-cpp-python's own gap",
                )

    names = [name for name in runs if "prompt" in name or "pp" in name]
    _table(f"Prompt processing, {PROMPT_TOKENS} tokens, {rounds} rounds", runs, names)
    for each in ("on", "off"):
        prompt = f"llmtui prompt fa {each}"
        if ceiling:
            line(
                f"llmtui fa {each} / llama-bench pp{PROMPT_TOKENS} fa {each}",
                prompt,
                f"llama-bench pp fa {each}",
                "goal >= 0.95",
            )
        ttft = [r.ttft / r.prompt_time for r in runs[prompt]]
        _line(f"TTFT / prompt time, fa {each}", ttft, "goal <= 1.10")

    f16, q8 = "llmtui kv f16 8k", "llmtui kv q8_0 8k"
    _table(f"KV cache at num_ctx 8192, 128 tokens, {rounds} rounds", runs, [f16, q8])
    f16_bytes, q8_bytes = runs[f16][0].kv_bytes, runs[q8][0].kv_bytes
    print(f"  KV memory: f16 {f16_bytes / 2**20:.1f} MiB, q8_0 {q8_bytes / 2**20:.1f} MiB")
    _line("KV memory q8_0 / f16", [q8_bytes / f16_bytes], "goal ~0.5")
    line("speed q8_0 / f16", q8, f16, "goal >= 0.95")


if __name__ == "__main__":
    sys.exit(main())
