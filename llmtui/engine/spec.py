"""What the engine is asked to run: a model and its Modelfile-level settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmtui.engine.message import Message, PromptTemplate


@dataclass(frozen=True)
class ServedModel:
    """A model another server runs (a remote: llmtui/remote/): where, and under what name."""

    remote: str  # the remote's name in llmtui's remotes
    kind: str  # "ollama" or "openai": the API it speaks
    url: str  # its base URL (an OpenAI-compatible one ends with /v1)
    model: str  # the model's name on the server
    key_env: str | None = None  # the environment variable holding its API key
    # This machine's own models behind a server (the web workbench's shared engine): its
    # replies are shown as local ones, not as another server's.
    local: bool = False


@dataclass(frozen=True)
class Draft:
    """An unsaved Modelfile (the editor's buffer) as its own lines over the model its FROM
    names: what is sent to a server that knows models only by name (the web workbench's
    shared one), which applies them over its copy of the base as it does a request's."""

    base: str
    options: Mapping[str, Any] = field(default_factory=dict)
    system: str | None = None
    messages: tuple[Message, ...] = ()
    # Its lines such a server cannot take (TEMPLATE, ADAPTER, a FROM that is a file).
    unsent: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A runnable model: a GGUF plus the defaults a Modelfile gives it."""

    name: str
    path: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    system: str | None = None
    # Replaces the GGUF's own chat template: Jinja source text, or a ready renderer.
    template: str | PromptTemplate | None = None
    messages: tuple[Message, ...] = ()
    adapter: Path | None = None
    # Set for a model another server runs: `path` is then empty, and the engine that runs
    # it is a remote one (llmtui/remote/).
    served: ServedModel | None = None
    # Set for the editor's unsaved buffer: the Modelfile's own lines, apart from its base.
    draft: Draft | None = None

    def load_identity(self) -> tuple[Path, Path | None]:
        """The parts whose change needs a different `Llama` (not just other requests)."""
        return (self.path, self.adapter)
