"""The model library: what llmtui can run and where each model lives. No UI here."""

from llmtui.library.catalog import LibraryModel, UnknownModel, find, list_models

__all__ = ["LibraryModel", "UnknownModel", "find", "list_models"]
