"""llmtui's own model store: one TOML manifest per created model, written atomically.

A manifest records what the model is made of (its GGUF, adapter, parameters, system prompt,
template, example messages, license); nothing is copied, the GGUF is used where it lies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from llmtui import atomic, paths
from llmtui.engine import Message, ModelSpec
from llmtui.library import names
from llmtui.modelfile import Modelfile, compile_template


@dataclass(frozen=True)
class Manifest:
    name: str
    from_: str  # the base as the Modelfile named it
    path: Path  # the GGUF it runs
    created: dt.datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    template: str | None = None
    adapter: Path | None = None
    messages: tuple[tuple[str, str], ...] = ()
    license: tuple[str, ...] = ()
    requires: str | None = None
    # REMOTE/MODEL, when the base is a model another server runs (`path` is then unused):
    # SYSTEM, PARAMETER and MESSAGE go with each request to it.
    served: str | None = None

    def spec(self) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            path=self.path,
            options=dict(self.parameters),
            system=self.system,
            template=compile_template(self.template) if self.template else None,
            messages=tuple(Message(role, text) for role, text in self.messages),  # type: ignore[arg-type]
            adapter=self.adapter,
        )

    def modelfile(self) -> Modelfile:
        """The Modelfile that recreates this model."""
        return Modelfile(
            from_=self.from_,
            parameters=Modelfile.parameters_from(self.parameters),
            template=self.template,
            system=self.system,
            adapter=str(self.adapter) if self.adapter else None,
            license=self.license,
            messages=self.messages,  # type: ignore[arg-type]
            requires=self.requires,
        )

    def to_toml(self) -> bytes:
        data: dict[str, Any] = {
            "name": self.name,
            "from": self.from_,
            "path": "" if self.served else str(self.path),
            "created": self.created,
            "parameters": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in self.parameters.items()},
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "license": list(self.license),
        }  # fmt: skip
        for key, value in (
            ("system", self.system),
            ("template", self.template),
            ("adapter", self.adapter),
            ("requires", self.requires),
            ("served", self.served),
        ):
            if value is not None:
                data[key] = str(value)
        return tomli_w.dumps(data, multiline_strings=True).encode("utf-8")

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> Manifest:
        parameters = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in data.get("parameters", {}).items()}  # fmt: skip
        created = data["created"]
        if not isinstance(created, dt.datetime):
            raise ValueError(f"created is {created!r}, not a date and time")
        return cls(
            name=full_name(str(data["name"])),
            from_=str(data["from"]),
            path=Path(data["path"]),
            created=created,
            parameters=parameters,
            system=data.get("system"),
            template=data.get("template"),
            adapter=Path(data["adapter"]) if data.get("adapter") else None,
            messages=tuple((m["role"], m["content"]) for m in data.get("messages", [])),
            license=tuple(data.get("license", [])),
            requires=data.get("requires"),
            served=data.get("served"),
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_toml()).hexdigest()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def full_name(name: str) -> str:
    """`terse` -> `terse:latest`, as Ollama names a model created without a tag."""
    parsed = names.parse(name)
    return f"{parsed.family}:{parsed.tag or 'latest'}"


class Store:
    """The manifests under the data dir: `models/<family>/<tag>.toml`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.data_dir() / "models"

    def _path(self, name: str) -> Path:
        family, _, tag = full_name(name).partition(":")
        path = self.root / family / f"{tag}.toml"
        # Names are checked when parsed; this is the second lock on the same door.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise names.InvalidName(f"{name!r} would be stored outside the store")
        return path

    def save(self, manifest: Manifest) -> None:
        atomic.write_bytes(self._path(manifest.name), manifest.to_toml())

    def load(self, name: str) -> Manifest | None:
        path = self._path(name)
        try:
            return Manifest.from_toml(tomllib.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def all(self) -> tuple[list[Manifest], list[str]]:
        """Every manifest, and a sentence for each one that could not be read: a damaged
        manifest costs its own model, never the listing."""
        manifests, problems = [], []
        atomic.remove_leftovers(self.root)
        for path in sorted(self.root.rglob("*.toml")):
            try:
                manifest = Manifest.from_toml(tomllib.loads(path.read_text("utf-8")))
                # Its name is where `rm` deletes: it must be the name of this very file.
                if self._path(manifest.name).resolve() != path.resolve():
                    raise ValueError(f"its name {manifest.name!r} is not where it is stored")
                manifests.append(manifest)
            except (OSError, ValueError, KeyError, TypeError) as error:
                problems.append(f"skipped the damaged manifest {path}: {error}")
        return manifests, problems

    def remove(self, name: str) -> bool:
        path = self._path(name)
        if not path.exists():
            return False
        path.unlink()
        for parent in path.parents:  # tidy empty family folders, never the root
            if parent == self.root or any(parent.iterdir()):
                break
            parent.rmdir()
        return True
