"""What `Engine.loaded` reports: plain data, importable without llama.cpp."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_KEEP_ALIVE = 300.0  # seconds a model stays loaded after a request, as Ollama's 5m


@dataclass(frozen=True)
class LoadedModel:
    """A model in memory, as `llmtui ps` shows it."""

    name: str
    path: Path
    size: int
    context_size: int
    backend: str
    gpu_layers: int
    layers: int
    expires_at: float | None  # time.monotonic() deadline; None while busy or kept forever
    parallel: int = 1  # requests it answers at once (its context's sequences)
