"""Errors the engine reports. Each message is meant to be shown to a user as it is."""


class EngineError(Exception):
    """Base class: something a user or client can fix, explained in one sentence."""


class OptionError(EngineError, ValueError):
    """An option with an unknown name or a value of the wrong type or range."""


class ModelFileError(EngineError):
    """The model file is missing, not a GGUF, or damaged."""


class MemoryRefused(EngineError):
    """The model would not fit in the memory available, so it was not loaded."""


class ContextOverflow(EngineError):
    """The prompt does not fit in the model's context window."""


class ModelLoadError(EngineError):
    """llama.cpp could not load the model."""
