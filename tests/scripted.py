"""A scripted engine: the chat session's engine interface, answering from a script on its
own thread, for tests where the model is not the point (a session's rules, slash
commands, the conversation store). The real engine has its own tests, on real models."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmtui.chat.backend import EventCallback
from llmtui.engine import DEFAULTS, Chunk, Done, EngineError, LoadedModel, Options, Perf
from llmtui.engine.message import Message
from llmtui.engine.request import Job, RequestHandle
from llmtui.engine.spec import ModelSpec


def echo(messages: Sequence[Message]) -> str:
    """The default script: a reply that says what it was sent."""
    return f"You said: {messages[-1].content}" if messages else "Hello."


class ScriptedEngine:
    """Replies come from `script(messages)`, a word at a time, `delay` seconds apart; the
    next request fails with `fail_next`, if set. Every request is kept in `requests`."""

    def __init__(
        self, script: Callable[[Sequence[Message]], str] = echo, delay: float = 0.0
    ) -> None:
        self.script = script
        self.delay = delay
        self.fail_next: EngineError | None = None
        self.requests: list[Job] = []

    def options_for(self, spec: ModelSpec, options: Mapping[str, Any] | None) -> Options:
        return DEFAULTS.merged(spec.options).merged(options)

    def loaded(self) -> list[LoadedModel]:
        return []

    def chat(
        self,
        spec: ModelSpec,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = 300.0,
        on_event: EventCallback | None = None,
        watch: EventCallback | None = None,
    ) -> RequestHandle:
        job = Job(spec, self.options_for(spec, options), messages=tuple(messages))
        return self._start(job, self.script(messages), on_event, watch)

    def generate(
        self,
        spec: ModelSpec,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = 300.0,
        on_event: EventCallback | None = None,
        watch: EventCallback | None = None,
    ) -> RequestHandle:
        job = Job(spec, self.options_for(spec, options), prompt=prompt)
        return self._start(job, f"{prompt} and so on.", on_event, watch)

    def _start(
        self,
        job: Job,
        text: str,
        on_event: EventCallback | None,
        watch: EventCallback | None,
    ) -> RequestHandle:
        self.requests.append(job)
        handle = RequestHandle(job, on_event, watch)
        failure, self.fail_next = self.fail_next, None
        threading.Thread(target=self._reply, args=(handle, text, failure), daemon=True).start()
        return handle

    def _reply(self, handle: RequestHandle, text: str, failure: EngineError | None) -> None:
        if failure is not None:
            handle.fail(failure)
            return
        start = time.perf_counter_ns()
        said: list[str] = []
        reason = "stop"
        for word in text.split(" "):
            if handle.cancelled:
                reason = "cancel"
                break
            piece = word if not said else f" {word}"
            said.append(piece)
            handle.emit(Chunk(piece))
            if self.delay:
                time.sleep(self.delay)
        took = time.perf_counter_ns() - start
        handle.emit(
            Done(
                model=handle.job.spec.name, text="".join(said), done_reason=reason,
                total_duration=took, load_duration=0, prompt_eval_count=1,
                prompt_eval_duration=1, eval_count=len(said), eval_duration=max(1, took),
                time_to_first_token=1, context_used=len(said) + 1,
                perf=Perf(0.0, 1, 0.0, len(said)),
            )
        )  # fmt: skip
