"""One engine interface over both kinds of model: served ones go to the remote engine, the
rest to llama.cpp's, which is made on first use (a chat with a served model never loads
llama.cpp)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmtui.chat.backend import ChatEngine
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE, LoadedModel
from llmtui.engine.message import Message
from llmtui.engine.options import Options
from llmtui.engine.request import RequestHandle
from llmtui.engine.spec import ModelSpec
from llmtui.remote.engine import RemoteEngine


class RoutingEngine:
    def __init__(self, make_local: Callable[[], ChatEngine]) -> None:
        self._make_local = make_local
        self._local: ChatEngine | None = None
        self.remote = RemoteEngine()

    @property
    def local(self) -> ChatEngine:
        if self._local is None:
            self._local = self._make_local()
        return self._local

    def _for(self, spec: ModelSpec) -> ChatEngine:
        return self.remote if spec.served is not None else self.local

    def chat(
        self,
        spec: ModelSpec,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Any = None,
        watch: Any = None,
    ) -> RequestHandle:
        return self._for(spec).chat(spec, messages, options, keep_alive=keep_alive,
                                    on_event=on_event, watch=watch)  # fmt: skip

    def generate(
        self,
        spec: ModelSpec,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Any = None,
        watch: Any = None,
    ) -> RequestHandle:
        return self._for(spec).generate(spec, prompt, options, keep_alive=keep_alive,
                                        on_event=on_event, watch=watch)  # fmt: skip

    def options_for(self, spec: ModelSpec, options: Mapping[str, Any] | None) -> Options:
        return self._for(spec).options_for(spec, options)

    def loaded(self) -> list[LoadedModel]:
        return self._local.loaded() if self._local is not None else []

    def close(self) -> None:
        """Close the local engine, if it was made (a remote request holds nothing)."""
        close = getattr(self._local, "close", None)
        if close is not None:
            close()
