"""A request in flight, as its caller holds it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from llmtui.engine.errors import EngineError
from llmtui.engine.events import Done, Event, Failed
from llmtui.engine.message import Message, PromptTemplate, Tool
from llmtui.engine.options import Options
from llmtui.engine.spec import ModelSpec


@dataclass(frozen=True)
class Job:
    """The work itself: a chat, a completion, or (neither) just a load."""

    spec: ModelSpec
    options: Options
    messages: Sequence[Message] | None = None
    prompt: str | None = None
    # Seconds to stay loaded after this request; 0 unloads at once, negative never.
    keep_alive: float = 300.0
    # Generate past end-of-text tokens (benchmarks that need an exact token count).
    ignore_eos: bool = False
    # A GBNF grammar every token must keep to (structured output: structured.py).
    grammar: str | None = None
    # Texts to embed (an embedding request: no messages, no prompt); longer ones are cut
    # to the context if `truncate`, else refused.
    texts: tuple[str, ...] | None = None
    truncate: bool = True
    # Functions the model may call (through its template; calls read back from its text);
    # `forced`: the grammar makes the whole answer a call.
    tools: tuple[Tool, ...] = ()
    forced: bool = False
    # This request's own template, in place of the model's (Ollama's `template` field).
    template: PromptTemplate | None = None
    # Ollama's `context`: tokens of an earlier answer that this prompt continues; not None
    # also asks for the answer's own (`Done.context`).
    context: tuple[int, ...] | None = None


class RequestHandle:
    """Lets the caller follow, wait for, or cancel one request.

    Events go to `on_event` (called on the model's thread: hand them on, do not block), or,
    without a callback, into a queue that `events()` drains from any thread. `watch`, when
    given, sees each event first, on the model's thread: a chat session records its turn
    there, whichever way its face follows the reply."""

    def __init__(
        self,
        job: Job,
        on_event: Callable[[Event], None] | None = None,
        watch: Callable[[Event], None] | None = None,
    ) -> None:
        self.job = job
        self._callback = on_event
        self._watch = watch
        self._queue: queue.SimpleQueue[Event] | None = None if on_event else queue.SimpleQueue()
        self._cancel = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self.result: Done | Failed | None = None
        # The exact text the model was sent (after the template), once it is known.
        self.prompt: str | None = None

    def cancel(self) -> None:
        """Stop generating; the model checks before each next token."""
        with self._lock:
            self._cancel.set()
            callbacks, self._on_cancel = self._on_cancel, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the cancelling thread) when the request is cancelled; at
        once if it is already. For work that waits on something else than tokens: a
        remote server's next line."""
        with self._lock:
            if not self._cancel.is_set():
                self._on_cancel.append(callback)
                return
        callback()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def emit(self, event: Event) -> None:
        if self._watch is not None:
            self._watch(event)
        if isinstance(event, Done | Failed):
            self.result = event
        if self._callback is not None:
            self._callback(event)
        else:
            assert self._queue is not None
            self._queue.put(event)
        if isinstance(event, Done | Failed):
            self._finished.set()

    def events(self) -> Iterator[Event]:
        """Every event until the final `Done` or `Failed` (included)."""
        if self._queue is None:
            raise RuntimeError("this request reports to a callback; it has no event queue")
        while True:
            event = self._queue.get()
            yield event
            if isinstance(event, Done | Failed):
                return

    def wait(self, timeout: float | None = None) -> Done:
        """Block until the request ends; return its `Done` or raise its error."""
        if not self._finished.wait(timeout):
            raise TimeoutError("the request is still running")
        if isinstance(self.result, Failed):
            raise self.result.error
        assert isinstance(self.result, Done)
        return self.result

    def fail(self, error: EngineError) -> None:
        self.emit(Failed(error))
