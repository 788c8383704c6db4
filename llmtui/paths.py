"""Where llmtui keeps its files.

XDG base directories by default; `LLMTUI_HOME` puts everything under one folder instead
(tests point it at a temporary directory so they never touch the real home).
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "llmtui"


def _home_override() -> Path | None:
    home = os.environ.get("LLMTUI_HOME")
    return Path(home).expanduser() if home else None


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / APP


def config_dir() -> Path:
    """Settings, keymap and user themes."""
    home = _home_override()
    return home / "config" if home else _xdg("XDG_CONFIG_HOME", ".config")


def data_dir() -> Path:
    """The model store: manifests of created and pulled models."""
    home = _home_override()
    return home / "data" if home else _xdg("XDG_DATA_HOME", ".local/share")


def cache_dir() -> Path:
    """Files that can be rebuilt: assembled starter models, metadata caches."""
    home = _home_override()
    return home / "cache" if home else _xdg("XDG_CACHE_HOME", ".cache")


def state_dir() -> Path:
    """Logs and history."""
    home = _home_override()
    return home / "state" if home else _xdg("XDG_STATE_HOME", ".local/state")


def error_log_path() -> Path:
    """llmtui's own log: unexpected errors, with their tracebacks."""
    return state_dir() / "llmtui.log"


def llama_log_path() -> Path:
    """llama.cpp's own log: it must never reach the terminal."""
    return state_dir() / "llama.log"


def web_engine_log_path() -> Path:
    """The output of the `llmtui serve` that `llmtui web` starts for its tabs."""
    return state_dir() / "web-engine.log"


def ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
