"""The models llmtui can run, and how a name finds one."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llmtui.engine import ModelSpec
from llmtui.library import digests, names, starters
from llmtui.library.store import Manifest, Store


class UnknownModel(LookupError):
    """No model by that name; the message names close matches."""


@dataclass(frozen=True)
class LibraryModel:
    name: str
    source: str  # "starter" or "created"
    size: int
    modified: float  # seconds since the epoch
    id: str  # 12 hex digits of a sha256, as `ollama list` shows
    description: str
    make_spec: Callable[[], ModelSpec]
    manifest: Manifest | None = None

    def spec(self) -> ModelSpec:
        """What the engine needs to run it (assembling a starter on first use)."""
        return self.make_spec()


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
        make_spec=lambda: ModelSpec(name=starter.name, path=starter.locate()),
    )


def _created_entry(manifest: Manifest) -> LibraryModel:
    try:
        size = manifest.path.stat().st_size
    except OSError:
        size = 0
    return LibraryModel(
        name=manifest.name,
        source="created",
        size=size,
        modified=manifest.created.timestamp(),
        id=manifest.digest[:12],
        description=f"created from {manifest.from_}",
        make_spec=manifest.spec,
        manifest=manifest,
    )


def list_models(problems: list[str] | None = None) -> list[LibraryModel]:
    """Every model; sentences about what could not be read go to `problems`."""
    manifests, unreadable = Store().all()
    if problems is not None:
        problems.extend(unreadable)
    models = [_starter_entry(s) for s in starters.installed()]
    taken = {m.name for m in models}
    models += [_created_entry(m) for m in manifests if m.name not in taken]
    return sorted(models, key=lambda m: m.name)


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


def is_starter(name: str) -> bool:
    return any(s.name == name for s in starters.STARTERS)
