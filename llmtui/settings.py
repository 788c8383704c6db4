"""User settings, from `settings.toml` in the config dir (read with tomllib).

A missing file means the defaults; a bad one is reported and the defaults used, and llmtui
never overwrites it on its own.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from llmtui import paths
from llmtui.engine.errors import OptionError
from llmtui.engine.options import DEFAULTS, Options, coerce, environment_options


@dataclass(frozen=True)
class Settings:
    default_model: str = "smollm2:135m"
    """The model the workbench and a bare `llmtui` open on."""

    model_folders: tuple[str, ...] = field(default_factory=tuple)
    """Extra folders searched (recursively) for GGUF files, beside the usual places."""

    num_ctx: int = 4096
    """The context size that memory fit is judged at."""

    theme: str = "harbour-dark"
    """The workbench's theme: a built-in one, one from themes/, or the user's own."""

    parameters: dict[str, Any] = field(default_factory=dict)
    """Default parameters (Ollama's names) for every chat, under a Modelfile's own."""

    keymap: dict[str, str] = field(default_factory=dict)
    """Workbench keys by binding id, e.g. {"chat.stop" = "ctrl+c"}; `?` lists the ids."""

    keep_chats: bool = True
    """Keep every conversation (in the data dir's conversations.db) to continue it later."""

    frame_ms: int = 0
    """Milliseconds between repaints of a streaming reply (20-1000); 0 picks 60, or 100 on a
    machine of two cores that the model's threads fill."""


    def options(self) -> Options:
        """The options every chat starts from: Ollama's defaults, its environment variables
        (OLLAMA_KV_CACHE_TYPE...), then `parameters`, as the engine does."""
        return DEFAULTS.merged(environment_options(os.environ)).merged(self.parameters)


def settings_path() -> Path:
    return paths.config_dir() / "settings.toml"


def load(path: Path | None = None) -> tuple[Settings, list[str]]:
    """The settings, and a sentence for each problem found (then that part is defaulted)."""
    path = path or settings_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings(), []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return Settings(), [f"{path} could not be read ({error}); using the default settings"]
    problems: list[str] = []
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    for key, value in data.items():
        if key not in known:
            problems.append(f"{path}: unknown setting {key!r} ignored")
            continue
        default = getattr(Settings(), key)
        if key == "parameters":
            if isinstance(value, dict):
                values[key] = _parameters(path, value, problems)
                continue
        elif key == "keymap":
            if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                values[key] = dict(value)
                continue
        elif isinstance(default, tuple):
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                values[key] = tuple(value)
                continue
        elif key == "num_ctx":
            if isinstance(value, int) and not isinstance(value, bool):
                try:
                    values[key] = coerce(key, value)
                except OptionError as error:
                    problems.append(f"{path}: {error}; using {default}")
                continue
        elif key == "frame_ms":
            if isinstance(value, int) and not isinstance(value, bool):
                if value == 0 or 20 <= value <= 1000:
                    values[key] = value
                    continue
                problems.append(f"{path}: frame_ms {value} is not 0 or 20-1000; using 0")
                continue
        elif isinstance(default, bool):
            if isinstance(value, bool):
                values[key] = value
                continue
        elif isinstance(value, type(default)) and not isinstance(value, bool):
            values[key] = value
            continue
        problems.append(f"{path}: setting {key} has the wrong type ({value!r}); using the default")
    return Settings(**values), problems


def _parameters(path: Path, given: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for name, value in given.items():
        try:
            parameters[name] = coerce(name, value)
        except OptionError as error:
            problems.append(f"{path}: parameter {name}: {error}; ignored")
    return parameters
