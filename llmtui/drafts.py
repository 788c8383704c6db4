"""The Modelfile editor's draft: unsaved changes kept on disk, so a crash loses nothing.

The workbench writes the draft (atomically) a moment after each change, and removes it
when the buffer is saved, or matches its model or file again.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from llmtui import atomic, paths


@dataclass(frozen=True)
class Draft:
    text: str
    origin: str  # the model or file the buffer was opened from
    path: str = ""  # the file it will be saved to, if it has one


def draft_path() -> Path:
    return paths.state_dir() / "drafts" / "modelfile.toml"


def save(draft: Draft) -> None:
    data = {"text": draft.text, "origin": draft.origin, "path": draft.path}
    atomic.write_bytes(draft_path(), tomli_w.dumps(data).encode("utf-8"))


def load() -> Draft | None:
    """The draft left by a session that did not save, if any (an unreadable one is kept
    on disk, not deleted, and not loaded)."""
    try:
        data = tomllib.loads(draft_path().read_text(encoding="utf-8"))
        return Draft(str(data["text"]), str(data["origin"]), str(data.get("path", "")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError):
        return None


def discard() -> None:
    draft_path().unlink(missing_ok=True)
