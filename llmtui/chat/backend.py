"""The engine as a chat session sees it: a small interface that the llama.cpp engine
implements, and that other engines (a scripted one in tests; remote servers next) can.

Its data types come from `llmtui.engine`'s light modules, which import without llama.cpp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from llmtui.engine.events import Event
from llmtui.engine.loaded import LoadedModel
from llmtui.engine.message import Message
from llmtui.engine.options import Options
from llmtui.engine.request import RequestHandle
from llmtui.engine.spec import ModelSpec

EventCallback = Callable[[Event], None]


class ChatEngine(Protocol):
    """Requests run on the engine's threads; a handle follows each (`cancel` stops it
    within a token). `on_event` and `watch` are called on those threads."""

    def chat(
        self,
        spec: ModelSpec,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = ...,
        on_event: EventCallback | None = None,
        watch: EventCallback | None = None,
    ) -> RequestHandle: ...

    def generate(
        self,
        spec: ModelSpec,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = ...,
        on_event: EventCallback | None = None,
        watch: EventCallback | None = None,
    ) -> RequestHandle: ...

    def options_for(self, spec: ModelSpec, options: Mapping[str, Any] | None) -> Options:
        """What a request with `options` would run with: defaults, the model's, these."""
        ...

    def loaded(self) -> list[LoadedModel]: ...
