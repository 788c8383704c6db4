"""Where the workbench's Modelfiles are: a name typed alone is a file in ./modelfiles/ (else
the data dir's); paths complete as you type, and the saved ones are offered to pick."""

from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester

from llmtui import paths


def folder() -> Path:
    return Path("modelfiles") if Path("modelfiles").is_dir() else paths.data_dir() / "modelfiles"


def resolve(text: str) -> Path:
    """A path as typed; a bare name is a file in the Modelfiles folder."""
    path = Path(text).expanduser()
    if path.parent != Path(".") or path.is_file():
        return path.resolve()
    return (folder() / path).resolve()


def saved() -> list[str]:
    """The Modelfiles in the folder, by name (what `resolve` takes)."""
    try:
        return sorted(p.name for p in folder().iterdir() if p.is_file())
    except OSError:
        return []


class PathSuggester(Suggester):
    """Completes the last part of a path from what is on disk (a bare name from the
    Modelfiles folder first); Tab, or Right at the end, takes the suggestion."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        head, slash, prefix = value.rpartition("/")
        try:
            places = [Path(head or "/").expanduser()] if slash else [folder(), Path(".")]
        except RuntimeError:  # ~name of a user that does not exist
            return None
        for place in places:
            try:
                names = sorted(os.listdir(place))
            except OSError:
                continue
            for name in names:
                if name.startswith(prefix) and name != prefix and (
                    prefix.startswith(".") or not name.startswith(".")
                ):
                    end = "/" if (place / name).is_dir() else ""
                    return value + name[len(prefix) :] + end
        return None
