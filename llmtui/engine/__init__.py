"""The llama.cpp engine: loaded models on owner threads, events out. No UI here.

The data types (messages, events, options, specs) import without llama.cpp; `Engine`
loads it (~0.25 s) on first use, so a face that only reads the library, or a test with a
scripted engine, does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmtui.engine.errors import (
    ContextOverflow,
    EngineError,
    MemoryRefused,
    ModelFileError,
    ModelLoadError,
    OptionError,
)
from llmtui.engine.events import Chunk, Done, Event, Failed, LiveStats, Notice, Perf
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE, LoadedModel
from llmtui.engine.message import Message, Tool, ToolCall
from llmtui.engine.options import DEFAULTS, OPTION_DOCS, Options
from llmtui.engine.request import RequestHandle
from llmtui.engine.spec import ModelSpec

if TYPE_CHECKING:
    from llmtui.engine.engine import Engine


def make_engine(**settings: Any) -> Engine:
    """llama.cpp's engine, loading llama.cpp now: a face imports this module at start, and
    only those that run a model here pay for llama.cpp (a web workbench's tab never does)."""
    from llmtui.engine.engine import Engine

    return Engine(**settings)


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from llmtui.engine import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULTS",
    "DEFAULT_KEEP_ALIVE",
    "OPTION_DOCS",
    "Chunk",
    "ContextOverflow",
    "Done",
    "Engine",
    "EngineError",
    "Event",
    "Failed",
    "LiveStats",
    "LoadedModel",
    "MemoryRefused",
    "Message",
    "ModelFileError",
    "ModelLoadError",
    "ModelSpec",
    "Notice",
    "OptionError",
    "Options",
    "Perf",
    "RequestHandle",
    "Tool",
    "ToolCall",
    "make_engine",
]
