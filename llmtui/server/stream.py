"""From the model's thread to a request's coroutine: the engine's events, in order.

The engine calls `EventQueue` on the model's thread for every event; each is handed to the
event loop with `call_soon_threadsafe` (a few microseconds: a server sends every token on,
unlike the workbench, which draws a frame at a time). The request's coroutine reads them
with `next()`; a request whose client went away cancels its handle, and the model stops
within a token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from llmtui.engine import Chunk, Done, EngineError, Event, Failed, LiveStats
from llmtui.engine.request import RequestHandle
from llmtui.server.requests import ApiError


class EventQueue:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

    def __call__(self, event: Event) -> None:
        """On the model's thread."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def next(self) -> Event:
        return await self._queue.get()


@dataclass
class Reply:
    """A request started: its handle, and the text and end to read from it."""

    handle: RequestHandle
    events: EventQueue
    first: Chunk | Done | None = None  # read ahead: the request is known to have started
    release: Callable[[], None] = lambda: None  # its place in the model's queue, given up
    live: LiveStats | None = None  # the model's state when last reported

    async def start(self) -> Reply:
        """Wait for the first piece of text (or the end): a model that cannot load, or a
        prompt over its context, fails here, before a response is begun, so that it is an
        HTTP error and not a broken stream."""
        event = await self._text_or_end()
        if isinstance(event, Failed):
            raise event.error
        self.first = event
        return self

    async def _text_or_end(self) -> Chunk | Done | Failed:
        while True:
            event = await self.events.next()
            if isinstance(event, Chunk | Done | Failed):
                return event
            if isinstance(event, LiveStats):
                self.live = event

    async def pieces(self) -> AsyncGenerator[Chunk | Done]:
        """The text as it comes, then the end; the request is cancelled if the reader
        stops early (the client went away)."""
        try:
            if self.first is not None:
                yield self.first
                if isinstance(self.first, Done):
                    return
            while True:
                event = await self._text_or_end()
                if isinstance(event, Failed):
                    raise event.error
                yield event
                if isinstance(event, Done):
                    return
        finally:
            if self.handle.result is None:
                self.handle.cancel()
            self.release()

    async def done(self) -> Done:
        """The whole reply (a response with `stream: false`)."""
        pieces = self.pieces()
        try:
            async for piece in pieces:
                if isinstance(piece, Done):
                    return piece
        finally:
            await pieces.aclose()  # now, not when collected: its `finally` frees the place
        raise EngineError("the reply ended without its statistics")


async def begin(start: Callable[[EventQueue], RequestHandle]) -> Reply:
    """Start a request (`start` calls the engine with the queue as its `on_event`) and wait
    until it is known to run."""
    events = EventQueue()
    handle = start(events)
    try:
        return await Reply(handle, events).start()
    except asyncio.CancelledError:
        handle.cancel()
        raise


class Admission:
    """How many requests each model may hold: those it answers at once (`parallel`, its
    sequences) and `queue` waiting. One more is a 503 with Retry-After, as Ollama answers
    when its queue (OLLAMA_MAX_QUEUE) is full: a client told to come back is better than
    one that waits minutes for a socket timeout."""

    def __init__(self, queue: int, parallel: int = 1) -> None:
        self.queue = queue
        self.parallel = parallel
        self._held: dict[str, int] = {}

    async def begin(self, name: str, start: Callable[[EventQueue], RequestHandle]) -> Reply:
        held = self._held.get(name, 0)
        if held >= self.parallel + self.queue:
            raise ApiError(503, f"{name} is busy: {held} requests are ahead (the queue holds "
                                f"{self.queue}); try again shortly", "model",
                           headers={"Retry-After": "2"})  # fmt: skip
        self._held[name] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._held[name] -= 1

        try:
            reply = await begin(start)
        except BaseException:
            release()
            raise
        reply.release = release
        return reply
