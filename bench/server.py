"""`llmtui serve` under clients, against the engine alone and llama-cpp-python's own server.

Each contender runs in the same minutes, on the same GGUF (smollm2), greedy, the same
prompts; ratios are printed against a baseline measured in this run:

  (1) one streaming client's tokens/s (client side, first chunk to last) against the
      engine alone (goal >= 0.95)
  (2) 4 clients at once: aggregate tokens/s against one client alone, and p50 / p95 time
      to first token; beside it the same server taking requests in turn (`--parallel 1`),
      and llama.cpp's own ceiling here: a bare decode loop of 4 sequences in one batch
      against 1 (the most batching can give on this machine, whatever the server)
  (3) the same 4 clients against llama-cpp-python's server (`llama_cpp.server`, its
      `server` extra; skipped if it is not installed): aggregate tokens/s ratio, p95 TTFT
  (4) the server's RSS with two models loaded (smollm2 and gemma3)

    python bench/server.py [--tokens 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import httpx
import psutil

THINGS = ("lighthouse", "fox", "violin", "glacier", "market", "comet", "garden", "train")
PROMPTS = [f"Write a short story about a {thing}." for thing in THINGS]


@dataclass
class Stream:
    tokens: int
    first: float  # seconds from sending to the first token
    took: float  # seconds from the first token to the last
    pieces: int  # chunks with text

    @property
    def rate(self) -> float:
        return (self.pieces - 1) / self.took if self.took else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], url: str, probe: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{probe}", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{command[2:4]} did not start")


async def stream(http: httpx.AsyncClient, url: str, prompt: str, tokens: int) -> Stream:
    """An OpenAI chat completion, streamed: both servers speak it."""
    body = {"model": "smollm2:135m", "messages": [{"role": "user", "content": prompt}],
            "max_tokens": tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    sent = time.perf_counter()
    first = last = 0.0
    count = pieces = 0
    async with http.stream("POST", f"{url}/v1/chat/completions", json=body) as reply:
        async for line in reply.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                count = chunk["usage"]["completion_tokens"]
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                now = time.perf_counter()
                first = first or now
                last = now
                pieces += 1
    # A server that does not report usage while streaming: a chunk is a token.
    return Stream(count or pieces, first - sent, last - first, pieces)


async def clients(url: str, n: int, tokens: int) -> tuple[float, list[float]]:
    """`n` clients at once: tokens/s (one client: as it sees them stream; several: all
    their tokens over the wall time), and each one's time to first token."""
    async with httpx.AsyncClient(timeout=600) as http:
        began = time.perf_counter()
        done = await asyncio.gather(*(stream(http, url, PROMPTS[i % len(PROMPTS)], tokens)
                                      for i in range(n)))  # fmt: skip
        wall = time.perf_counter() - began
    if n == 1:
        return done[0].rate, [done[0].first]
    return sum(s.tokens for s in done) / wall, [s.first for s in done]


def engine_alone(tokens: int) -> float:
    """Tokens/s measured as the client measures them: first token to last, as they come."""
    from llmtui import library
    from llmtui.engine import Chunk, Engine, Message

    engine = Engine()
    try:
        spec = library.find("smollm2:135m").spec()
        engine.chat(spec, [Message("user", "Hi")], {"num_predict": 4}).wait()
        rates = []
        for prompt in PROMPTS[:3]:
            handle = engine.chat(spec, [Message("user", prompt)],
                                 {"num_predict": tokens, "temperature": 0})  # fmt: skip
            times = [
                time.perf_counter() for e in handle.events() if isinstance(e, Chunk) and e.text
            ]
            rates.append((len(times) - 1) / (times[-1] - times[0]))
        return statistics.median(rates)
    finally:
        engine.close()


def batched_ceiling(sequences: int, tokens: int) -> float:
    """Tokens/s of a bare greedy loop on llama.cpp's C API decoding `sequences` sequences
    in one batch per step (no server, no sampling chain, no text)."""
    import llama_cpp
    import numpy as np
    from llama_cpp import Llama

    from llmtui import library

    path = str(library.find("smollm2:135m").spec().path)
    threads = psutil.cpu_count(logical=False) or 1
    llm = Llama(model_path=path, n_ctx=1, n_threads=threads, n_threads_batch=threads,
                flash_attn=True, verbose=False)  # fmt: skip
    params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_ctx, params.n_batch, params.n_ubatch = 4096 * sequences, 512, 512
    params.n_seq_max, params.kv_unified = sequences, False
    ctx = llama_cpp.llama_init_from_model(llm.model, params)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    batch = llama_cpp.llama_batch_init(512, 0, 1)

    def decode(items: list[tuple[int, int, int, bool]]) -> None:
        batch.n_tokens = len(items)
        for i, (token, position, sequence, logits) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = sequence, logits
        assert llama_cpp.llama_decode(ctx, batch) == 0

    try:
        prompts = [llm.tokenize(p.encode()) for p in PROMPTS[:sequences]]
        decode([(t, j, s, j == len(p) - 1) for s, p in enumerate(prompts)
                for j, t in enumerate(p)])  # fmt: skip
        ends = [sum(len(p) for p in prompts[: s + 1]) - 1 for s in range(sequences)]
        positions = [len(p) for p in prompts]
        began = time.perf_counter()
        for _ in range(tokens):
            chosen = [int(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i),
                                                (n_vocab,)).argmax()) for i in ends]  # fmt: skip
            decode([(t, positions[s], s, True) for s, t in enumerate(chosen)])
            ends, positions = list(range(sequences)), [x + 1 for x in positions]
        return sequences * tokens / (time.perf_counter() - began)
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        llm.close()


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1) + 0.5))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    home = tempfile.TemporaryDirectory(prefix="llmtui-bench-", ignore_cleanup_errors=True)
    os.environ.setdefault("LLMTUI_HOME", home.name)
    from llmtui import library

    gguf = str(library.find("smollm2:135m").spec().path)
    ours_port = free_port()
    ours = f"http://127.0.0.1:{ours_port}"
    server = start([sys.executable, "-m", "llmtui", "serve", "--port", str(ours_port)], ours, "/")
    turns_port = free_port()
    turns = f"http://127.0.0.1:{turns_port}"
    in_turn = start([sys.executable, "-m", "llmtui", "serve", "--port", str(turns_port),
                     "--parallel", "1"], turns, "/")  # fmt: skip
    theirs_process = None
    try:
        asyncio.run(clients(ours, 1, 8))  # load outside the timings
        asyncio.run(clients(turns, 1, 8))
        one, four, ttft, alone, four_turns, ttft_turns, raw1, raw4 = ([] for _ in range(8))
        for _ in range(args.rounds):
            alone.append(engine_alone(args.tokens))
            rate, _ = asyncio.run(clients(ours, 1, args.tokens))
            one.append(rate)
            rate, firsts = asyncio.run(clients(ours, 4, args.tokens))
            four.append(rate)
            ttft += firsts
            rate, firsts = asyncio.run(clients(turns, 4, args.tokens))
            four_turns.append(rate)
            ttft_turns += firsts
            raw1.append(batched_ceiling(1, args.tokens))
            raw4.append(batched_ceiling(4, args.tokens))
        single, base, together = (statistics.median(x) for x in (one, alone, four))
        taking_turns = statistics.median(four_turns)
        print(f"(1) one client {single:.1f} tok/s, the engine alone {base:.1f}: "
              f"{single / base:.2f}   (goal >= 0.95)")  # fmt: skip
        print(f"(2) 4 clients at once {together:.1f} tok/s together: {together / single:.2f}x "
              f"one client (goal >= 2x); time to first token p50 {p(ttft, 0.5) * 1000:.0f} "
              f"ms, p95 {p(ttft, 0.95) * 1000:.0f} ms")  # fmt: skip
        print(
            f"    in turn (--parallel 1) {taking_turns:.1f} tok/s: batching "
            f"{together / taking_turns:.2f}x; its time to first token p50 "
            f"{p(ttft_turns, 0.5) * 1000:.0f} ms, p95 {p(ttft_turns, 0.95) * 1000:.0f} ms"
        )
        ceiling = statistics.median(a / b for a, b in zip(raw4, raw1, strict=True))
        print(f"    llama.cpp's own ceiling here: a bare loop of 4 sequences in one batch "
              f"{statistics.median(raw4):.1f} tok/s against 1 {statistics.median(raw1):.1f}: "
              f"{ceiling:.2f}x")  # fmt: skip
        try:
            import llama_cpp.server  # noqa: F401  (its `server` extra)
        except ImportError:
            print("(3) skipped: pip install 'llama-cpp-python[server]' to compare")
        else:
            theirs_port = free_port()
            theirs = f"http://127.0.0.1:{theirs_port}"
            theirs_process = start(
                [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias",
                 "smollm2:135m", "--port", str(theirs_port), "--n_ctx", "4096",
                 "--n_threads", str(psutil.cpu_count(logical=False) or 1)],
                theirs, "/v1/models",
            )  # fmt: skip
            asyncio.run(clients(theirs, 1, 8))
            rates, firsts = [], []
            for _ in range(args.rounds):
                rate, got = asyncio.run(clients(theirs, 4, args.tokens))
                rates.append(rate)
                firsts += got
            print(f"(3) 4 clients on llama_cpp.server {statistics.median(rates):.1f} tok/s: "
                  f"llmtui / it {together / statistics.median(rates):.2f}x; p95 "
                  f"time to first token {p(firsts, 0.95) * 1000:.0f} ms against "
                  f"{p(ttft, 0.95) * 1000:.0f}")  # fmt: skip
        httpx.post(f"{ours}/api/generate", timeout=300, json={
            "model": "gemma3:270m", "prompt": "Hi", "options": {"num_predict": 4}})  # fmt: skip
        loaded = httpx.get(f"{ours}/api/ps").json()["models"]
        rss = psutil.Process(server.pid).memory_info().rss
        print(f"(4) RSS with {', '.join(m['name'] for m in loaded)} loaded: "
              f"{rss / 2**20:.0f} MiB (models and KV caches: "
              f"{sum(m['size'] for m in loaded) / 2**20:.0f} MiB)")  # fmt: skip
    finally:
        for process in (server, in_turn, theirs_process):
            if process is not None:
                process.terminate()
                process.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
