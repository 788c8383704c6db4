"""From the model's thread to the UI: engine events buffered, at most one message pending.

The engine calls `ReplyBridge` on the model's thread for every token. Posting a Textual
message per token would cost the UI (and so, on two cores, the engine) far more than the
token itself; instead the bridge appends to a buffer and posts one `ReplyBridge.Ready` only
when none is pending. The UI drains everything that arrived since, and holds the next post
back for a frame (`frame_interval`), so a fast model yields 10-16 UI updates a second, not
70+.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from textual.message import Message
from textual.message_pump import MessagePump

from llmtui.engine import Chunk, Done, Event, Failed, LiveStats, Notice
from llmtui.engine.system import physical_cores, usable_cpus

FRAME = 0.06  # seconds between UI updates while a reply streams
SHARED_FRAME = 0.1  # the same where the UI has no CPU the model's threads do not use


def frame_interval(frame_ms: int = 0) -> float:
    """Seconds between repaints of a streaming reply: `frame_ms` if given, else FRAME, or
    SHARED_FRAME on a machine of two cores or fewer whose every CPU runs one of the model's
    threads: there each repaint comes out of the model's time. On this project's 2-core VM,
    three rounds each, tokens/s with the workbench / the engine alone: 0.94 at 60 ms, 0.99 at
    100 ms (the UI thread 5-6% of a core, 4-5%)."""
    if frame_ms:
        return frame_ms / 1000
    cores = physical_cores()
    return SHARED_FRAME if cores <= 2 and usable_cpus() <= cores else FRAME


@dataclass
class Drained:
    """What arrived since the last drain."""

    text: str = ""
    tokens: int = 0
    stats: LiveStats | None = None
    notices: list[str] = field(default_factory=list)
    final: Done | Failed | None = None


class ReplyBridge:
    class Ready(Message):
        """Something is waiting in the bridge."""

        def __init__(self, bridge: ReplyBridge) -> None:
            super().__init__()
            self.bridge = bridge

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._pending = False
        self._held = False
        self._parts: list[str] = []
        self._drained = Drained()

    def __call__(self, event: Event) -> None:
        """On the model's thread: buffer, and wake the UI if it is not already woken."""
        with self._lock:
            drained = self._drained
            if isinstance(event, Chunk):
                self._parts.append(event.text)
                drained.tokens += event.tokens
            elif isinstance(event, LiveStats):
                drained.stats = event  # only the newest matters
            elif isinstance(event, Notice):
                drained.notices.append(event.message)
            else:
                drained.final = event
            wake = not self._pending and (not self._held or drained.final is not None)
            if wake:
                self._pending = True
        if wake:
            self._target.post_message(self.Ready(self))

    def drain(self) -> Drained:
        """On the UI thread: take everything buffered so far."""
        with self._lock:
            drained, self._drained = self._drained, Drained()
            drained.text = "".join(self._parts)
            self._parts.clear()
            self._pending = False
            self._held = True
        return drained

    def release(self) -> None:
        """A frame later: wake the UI again if more arrived meanwhile."""
        with self._lock:
            self._held = False
            wake = not self._pending and (bool(self._parts) or self._drained.stats is not None)
            if wake:
                self._pending = True
        if wake:
            self._target.post_message(self.Ready(self))
