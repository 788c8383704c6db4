"""One request being answered in one of its context's sequences (a slot).

The model's thread evaluates every sequence in flight in one batch per decode (batch.py); a
`Sequence` holds what is one request's own: its prompt and how much of it is evaluated, its
sampler, the text made so far (decoded one token at a time, stop strings matched on a short
tail, tool calls read as they stream), its counts and clocks, and its final `Done`.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from llmtui.engine.detok import Detokenizer, StopMatcher
from llmtui.engine.events import Chunk, Done, Perf
from llmtui.engine.message import ToolCall
from llmtui.engine.request import RequestHandle
from llmtui.engine.sampler import Sampler
from llmtui.engine.tools import CallReader

STATS_INTERVAL_NS = 100_000_000  # live stats at most ten times a second
RATE_WINDOW = 32  # tokens over which the live tokens/s is measured


@dataclass(eq=False)
class Sequence:
    handle: RequestHandle
    slot: int  # the context's sequence id
    tokens: list[int]  # the whole prompt
    keep: int  # its leading tokens already in the slot's cache
    limit: int  # the most tokens to make
    sampler: Sampler
    detok: Detokenizer
    matcher: StopMatcher
    calls: CallReader | None
    started: int  # perf_counter_ns when the request was taken up
    load_duration: int
    evaluated: int = field(init=False)  # prompt tokens in the cache so far
    next_token: int | None = None  # sampled, to be evaluated in the next batch
    index: int = -1  # where its logits are in the batch just decoded; -1: none asked
    count: int = 0
    first_token: int = 0
    prompt_started: int = 0
    prompt_done: int = 0
    hit: bool = False  # a stop string matched: what followed it is dropped, not flushed
    parts: list[str] = field(default_factory=list)
    made: list[int] = field(default_factory=list)  # Ollama's `context` ends with them
    times: deque[int] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))
    next_stats: int = 0

    def __post_init__(self) -> None:
        self.evaluated = self.keep

    @property
    def prompt_left(self) -> int:
        return len(self.tokens) - self.evaluated

    def take(self, token: int, is_eog: bool, now: int) -> str | None:
        """The token just sampled: its text goes out. Returns why the answer ends, if it
        does; else the token waits to be evaluated in the next batch."""
        if is_eog and not self.handle.job.ignore_eos:
            return "stop"
        self.count += 1
        self.made.append(token)
        text, self.hit = self.matcher.feed(self.detok.piece(token))
        self.times.append(now)
        if not self.first_token:
            self.first_token = now
        if self.calls is not None:
            text = self.calls.feed(text)
        self.parts.append(text)
        self.handle.emit(Chunk(text))
        if self.hit:
            return "stop"
        if self.count >= self.limit:
            return "length"
        if self.handle.cancelled:
            return "cancel"
        self.next_token = token
        return None

    def stats_due(self, now: int) -> bool:
        if now < self.next_stats:
            return False
        self.next_stats = now + STATS_INTERVAL_NS
        return True

    def rate(self) -> float:
        times = self.times
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / ((times[-1] - times[0]) / 1e9)

    def finish(self, model: str, reason: str, context_used: int, perf: Perf | None) -> Done:
        """The tail held back, then the `Done` (not emitted: the caller sends the final
        live stats first). `perf`: llama.cpp's own timings, when this request had the
        context to itself; else this sequence's as measured here."""
        tail = "" if self.hit else self.detok.flush() + self.matcher.flush()
        called: tuple[ToolCall, ...] = ()
        if self.calls is not None:
            tail = self.calls.feed(tail)
            rest, called = self.calls.finish()
            tail += rest
        if tail:
            self.parts.append(tail)
            self.handle.emit(Chunk(tail, 0))
        self.sampler.close()
        finished = time.perf_counter_ns()
        prompt_done = self.prompt_done or finished
        prompt_eval = prompt_done - (self.prompt_started or prompt_done)
        if perf is None:
            perf = Perf(prompt_eval / 1e6, len(self.tokens) - self.keep,
                        (finished - prompt_done) / 1e6, max(0, self.count - 1))  # fmt: skip
        job = self.handle.job
        return Done(
            model=model,
            text="".join(self.parts),
            done_reason=reason,
            total_duration=finished - self.started,
            load_duration=self.load_duration,
            prompt_eval_count=len(self.tokens) - self.keep,
            prompt_eval_duration=prompt_eval,
            eval_count=self.count,
            eval_duration=finished - prompt_done,
            time_to_first_token=(self.first_token - self.started) if self.first_token else 0,
            context_used=context_used,
            perf=perf,
            tool_calls=called,
            context=(*self.tokens, *self.made) if job.context is not None else (),
        )
