"""The llama.cpp engine: loaded models on owner threads, events out. No UI here."""

from llmtui.engine.engine import DEFAULT_KEEP_ALIVE, Engine, LoadedModel
from llmtui.engine.errors import (
    ContextOverflow,
    EngineError,
    MemoryRefused,
    ModelFileError,
    ModelLoadError,
    OptionError,
)
from llmtui.engine.events import Chunk, Done, Event, Failed, LiveStats, Notice, Perf
from llmtui.engine.options import DEFAULTS, OPTION_DOCS, Options
from llmtui.engine.prompt import Message
from llmtui.engine.request import RequestHandle
from llmtui.engine.spec import ModelSpec

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
]
