"""The models llmtui can run, and how a name finds one."""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path

from llmtui.engine import ModelSpec
from llmtui.library import digests, names, starters


class UnknownModel(LookupError):
    """No model by that name; the message names close matches."""


@dataclass(frozen=True)
class LibraryModel:
    name: str
    source: str
    size: int
    modified: float  # seconds since the epoch
    id: str  # the first 12 hex digits of the file's sha256, as `ollama list` shows
    description: str
    starter: starters.Starter

    def spec(self) -> ModelSpec:
        """What the engine needs to run it (assembling a starter on first use)."""
        return ModelSpec(name=self.name, path=self.starter.locate())


def _starter_entry(starter: starters.Starter) -> LibraryModel:
    if starter.ready():
        path = starter.locate()
        stat = path.stat()
        size, modified = stat.st_size, stat.st_mtime
        digest = digests.sha256(path)
    else:
        # Not built yet: report the size it will have, from the package's parts.
        package = importlib.import_module(starter.package)
        parts = [Path(p) for p in package.chunk_paths()]
        size = sum(p.stat().st_size for p in parts)
        modified = max(p.stat().st_mtime for p in parts)
        digest = str(package.EXPECTED_SHA256)
    return LibraryModel(
        name=starter.name,
        source="starter",
        size=size,
        modified=modified,
        id=digest[:12],
        description=starter.description,
        starter=starter,
    )


def list_models() -> list[LibraryModel]:
    return sorted((_starter_entry(s) for s in starters.installed()), key=lambda m: m.name)


def find(text: str) -> LibraryModel:
    """The model called `text`; a name without a tag means its family's default tag
    (`latest` if there is one, else its only or first tag)."""
    try:
        wanted = names.parse(text)
    except names.InvalidName as error:
        raise UnknownModel(str(error)) from None
    models = {m.name: m for m in list_models()}
    if wanted.tag:
        if str(wanted) in models:
            return models[str(wanted)]
    else:
        family = sorted(n for n in models if n.split(":")[0] == wanted.family)
        if f"{wanted.family}:latest" in models:
            return models[f"{wanted.family}:latest"]
        if family:
            return models[family[0]]
    close = difflib.get_close_matches(str(wanted), list(models), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    if not models:
        hint = "; no models are installed (make run installs the starter models)"
    elif not close:
        hint = f"; `llmtui list` shows the {len(models)} installed"
    raise UnknownModel(f"model {text!r} not found{hint}")
