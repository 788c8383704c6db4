"""What the engine is asked to run: a model and its Modelfile-level settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmtui.engine.message import Message, PromptTemplate


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

    def load_identity(self) -> tuple[Path, Path | None]:
        """The parts whose change needs a different `Llama` (not just other requests)."""
        return (self.path, self.adapter)
