"""The engine of a web workbench's tab: this machine's models, run by one shared
`llmtui serve` (textual-serve starts a process per browser tab; each loading its own copy
of a model would multiply the memory by the tabs).

A library model goes to the server under its name, and the server applies the model's
Modelfile itself. The editor's unsaved buffer goes as its base plus its own SYSTEM,
PARAMETER and MESSAGE lines, as to a remote; its TEMPLATE, ADAPTER or a FROM that is a
file cannot travel by name, and saying so is the answer. Served models (remotes) go
straight to their own servers."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmtui.engine.errors import EngineError
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE, LoadedModel
from llmtui.engine.message import Message
from llmtui.engine.options import Options
from llmtui.engine.request import Job, RequestHandle
from llmtui.engine.spec import ModelSpec, ServedModel
from llmtui.remote.engine import RemoteEngine

NAME = "llmtui serve"  # how errors name the shared server
TOKEN_ENV = "LLMTUI_API_TOKEN"


class SharedEngine:
    def __init__(self, url: str, environ: Mapping[str, str] = os.environ) -> None:
        self.url = url.rstrip("/")
        self.remote = RemoteEngine(environ)
        # A server found with a token takes the one `llmtui serve` reads; one started for
        # the tabs has none.
        self.key_env = TOKEN_ENV if environ.get(TOKEN_ENV) else None

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
        sent = self.served(spec)
        if isinstance(sent, EngineError):
            job = Job(spec, self.options_for(spec, options), messages=tuple(messages))
            return _failed(job, sent, on_event, watch)
        return self.remote.chat(sent, messages, options, keep_alive=keep_alive,
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
        sent = self.served(spec)
        if isinstance(sent, EngineError):
            job = Job(spec, self.options_for(spec, options), prompt=prompt)
            return _failed(job, sent, on_event, watch)
        return self.remote.generate(sent, prompt, options, keep_alive=keep_alive,
                                    on_event=on_event, watch=watch)  # fmt: skip

    def options_for(self, spec: ModelSpec, options: Mapping[str, Any] | None) -> Options:
        return self.remote.options_for(spec, options)

    def loaded(self) -> list[LoadedModel]:
        return []  # the server holds them: its /api/ps lists them

    def close(self) -> None:
        """Nothing to free: the server keeps its models for the other tabs."""

    def served(self, spec: ModelSpec) -> ModelSpec | EngineError:
        """The spec as the shared server is sent it, or why it cannot be."""
        if spec.served is not None:
            return spec
        draft = spec.draft
        if draft is not None and draft.unsent:
            return EngineError(
                f"the buffer's {', '.join(draft.unsent)} cannot reach the web workbench's "
                "shared engine, which runs the library's models by name: create the model "
                "(F9) and chat with it, or run `llmtui` in a terminal"
            )
        target = ServedModel(NAME, "ollama", self.url, draft.base if draft else spec.name,
                             key_env=self.key_env, local=True)  # fmt: skip
        if draft is None:  # the server has the same Modelfile: it applies it
            return ModelSpec(spec.name, Path(), served=target)
        return replace(spec, path=Path(), options=dict(draft.options), system=draft.system,
                       messages=draft.messages, template=None, adapter=None, served=target,
                       draft=None)  # fmt: skip


def _failed(job: Job, error: EngineError, on_event: Any, watch: Any) -> RequestHandle:
    """A request refused before it is sent, reported as the engine reports any failure:
    on another thread (a face waits for its events there)."""
    handle = RequestHandle(job, on_event, watch)
    threading.Thread(target=handle.fail, args=(error,), daemon=True).start()
    return handle
