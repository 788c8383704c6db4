"""Every model llmtui can run, from every source, each listed once; and how a name finds one.

Sources, in order of precedence: models created with llmtui, the starter models, the Hugging
Face cache (where pulls go), LM Studio's folders, Ollama's store, folders from the settings.
The same file reached through two sources with the same settings (system prompt, parameters,
template) is one model whose row names both sources, and answers to every name they give it.
A name whose source gives the file settings of its own (an Ollama model made by `ollama
create` from another's weights) is a model of its own, and each names the others that share
its file.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from llmtui import atomic, paths, settings
from llmtui.engine import ModelSpec
from llmtui.engine.memory import MemoryEstimate
from llmtui.library import digests, folders, hfcache, names, ollama, starters
from llmtui.library.found import Found
from llmtui.library.metadata import MetadataCache, ModelInfo
from llmtui.library.store import Manifest, Store
from llmtui.modelfile import compile_template
from llmtui.modelfile.gotemplate import TemplateError

# Headroom kept free for the system and the app when judging whether a model fits.
TIGHT = 0.8


class UnknownModel(LookupError):
    """No model by that name; the message names close matches."""


@dataclass(frozen=True)
class LibraryModel:
    name: str
    sources: tuple[str, ...]
    path: Path | None
    size: int
    modified: float  # seconds since the epoch
    id: str  # 12 hex digits of a sha256, as `ollama list` shows
    description: str
    make_spec: Callable[[], ModelSpec] = field(compare=False)
    info: ModelInfo | None = None
    manifest: Manifest | None = None
    hidden: bool = False
    aliases: tuple[str, ...] = ()  # other names its sources give the same model
    shares_file_with: tuple[str, ...] = ()  # models that run the same file, other settings
    # A model another server runs: the remote's name, and its parameters and quantisation
    # as the server says them ("" where it does not).
    remote: str = ""
    served_as: tuple[str, str] = ("", "")

    @property
    def source(self) -> str:
        return ", ".join(self.sources)

    @property
    def owned(self) -> bool:
        """Whether llmtui may delete it: only models created with llmtui."""
        return self.manifest is not None

    @property
    def broken(self) -> str | None:
        return self.info.error if self.info else None

    def spec(self) -> ModelSpec:
        """What the engine needs to run it (assembling a starter on first use)."""
        return self.make_spec()

    def estimate(self, num_ctx: int, kv_cache_type: str = "f16") -> MemoryEstimate | None:
        if self.info is None or self.info.error:
            return None
        return self.info.estimate(num_ctx, kv_cache_type=kv_cache_type)

    def fit(self, num_ctx: int, available: int, kv_cache_type: str = "f16") -> str:
        """'fits', 'tight' or 'too big' for `available` bytes of memory; '?' unknown yet;
        'remote' for a model another server runs."""
        if self.remote:
            return "remote"
        if self.broken:
            return "broken"
        estimate = self.estimate(num_ctx, kv_cache_type)
        if estimate is None:
            return "?"
        if estimate.total <= available * TIGHT:
            return "fits"
        return "tight" if estimate.total <= available else "too big"


def file_notes(model: LibraryModel) -> list[str]:
    """The other names of `model`, and the models that share its file, in words."""
    notes = []
    if model.aliases:
        notes.append(f"also named {', '.join(model.aliases)}")
    if model.shares_file_with:
        notes.append(f"shares its file with {', '.join(model.shares_file_with)} (other settings)")
    return notes


# -- hidden external models -------------------------------------------------------------


def _hidden_path() -> Path:
    return paths.data_dir() / "hidden.toml"


def hidden_names() -> set[str]:
    """The names hidden from the listing; a damaged file hides nothing (and is rewritten
    whole the next time a model is hidden)."""
    try:
        listed = tomllib.loads(_hidden_path().read_text("utf-8")).get("names", [])
    except (OSError, ValueError):
        return set()
    return {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()


def set_hidden(name: str, hidden: bool = True) -> None:
    """Hide a model llmtui does not own from the listing (its file stays where it is)."""
    current = hidden_names()
    current = current | {name} if hidden else current - {name}
    atomic.write_bytes(_hidden_path(), tomli_w.dumps({"names": sorted(current)}).encode())


# -- building the list ------------------------------------------------------------------


def _file_key(found: Found) -> tuple[Any, ...]:
    try:
        stat = found.path.resolve().stat()
        return ("inode", stat.st_dev, stat.st_ino)
    except OSError:
        return ("path", str(found.path))


def _spec_for(found: Found, name: str) -> Callable[[], ModelSpec]:
    def make() -> ModelSpec:
        template = None
        if found.template:
            try:
                template = compile_template(found.template)
            except TemplateError:
                template = None  # a template beyond llmtui's Go subset: the GGUF's own is used
        return ModelSpec(name, found.path, dict(found.options), found.system, template)

    return make


def _settings(found: Found) -> tuple[object, ...]:
    """What a source sets beside the file: two names with the same are the same model."""
    return (sorted(found.options.items(), key=repr), found.system, found.template)


_NO_SETTINGS = _settings(Found("", Path(), ""))


def _external(
    group: list[Found], name: str, infos: MetadataCache, hidden: set[str]
) -> LibraryModel:
    first = group[0]
    try:
        modified = first.path.stat().st_mtime
    except OSError:
        modified = 0.0
    info = infos.info(first.path)
    digest = next((f.digest for f in group if f.digest), None)
    return LibraryModel(
        name=name,
        sources=tuple(dict.fromkeys(f.source for f in group)),
        path=first.path,
        size=first.size or info.size,
        modified=modified,
        id=(digest or hashlib.sha256(str(first.path).encode()).hexdigest())[:12],
        description=str(first.path),
        make_spec=_spec_for(first, name),
        info=replace(info, has_vision=True) if any(f.has_projector for f in group) else info,
        hidden=name in hidden,
        aliases=tuple(dict.fromkeys(f.name for f in group if f.name != name)),
    )


def _starter(starter: starters.Starter, infos: MetadataCache) -> tuple[LibraryModel, str]:
    path = starter.locate()  # the first listing assembles a starter shipped in parts, once
    stat = path.stat()
    digest = digests.sha256(path)
    model = LibraryModel(
        name=starter.name,
        sources=("starter",),
        path=path,
        size=stat.st_size,
        modified=stat.st_mtime,
        id=digest[:12],
        description=starter.description,
        make_spec=lambda: ModelSpec(name=starter.name, path=path),
        info=infos.info(path),
    )
    return model, digest


def _created(manifest: Manifest, infos: MetadataCache) -> LibraryModel:
    if manifest.served:
        return LibraryModel(
            name=manifest.name,
            sources=("created",),
            path=None,
            size=0,
            modified=manifest.created.timestamp(),
            id=manifest.digest[:12],
            description=f"created from {manifest.from_}, which a remote runs",
            make_spec=lambda: _served_spec(manifest),
            manifest=manifest,
            remote=manifest.served.partition("/")[0],
        )
    info = infos.info(manifest.path)
    return LibraryModel(
        name=manifest.name,
        sources=("created",),
        path=manifest.path,
        size=info.size,
        modified=manifest.created.timestamp(),
        id=manifest.digest[:12],
        description=f"created from {manifest.from_}",
        make_spec=manifest.spec,
        info=info,
        manifest=manifest,
    )


def _served_spec(manifest: Manifest) -> ModelSpec:
    """A created model whose base another server runs: that base, as its remote is named
    now, with this model's SYSTEM, PARAMETER and MESSAGE lines."""
    from llmtui.library.remotes import served  # it builds LibraryModels: after them

    assert manifest.served is not None
    base = served(manifest.served)
    if base is None:
        remote = manifest.served.partition("/")[0]
        raise ValueError(f"{manifest.name} runs {manifest.served}, but there is no remote "
                         f"{remote!r} now (llmtui remote add {remote} URL)")  # fmt: skip
    return replace(manifest.spec(), path=Path(), served=base.spec().served)


def list_models(
    problems: list[str] | None = None, *, include_hidden: bool = False
) -> list[LibraryModel]:
    """Every model; sentences about what could not be read go to `problems`."""
    problems = problems if problems is not None else []
    user, unreadable = settings.load()
    problems.extend(unreadable)
    infos = MetadataCache()
    manifests, broken_manifests = Store().all()
    problems.extend(broken_manifests)

    models: dict[str, LibraryModel] = {}
    starter_digests: dict[str, str] = {}
    for starter in starters.installed():
        model, digest = _starter(starter, infos)
        models[model.name] = model
        starter_digests[digest] = model.name
    for manifest in manifests:
        models.setdefault(manifest.name, _created(manifest, infos))

    found_ollama, ollama_problems = ollama.scan()
    problems.extend(ollama_problems)
    found = [
        *hfcache.scan(problems),
        *folders.scan_lmstudio(),
        *found_ollama,
        *folders.scan_folders([Path(f) for f in user.model_folders]),
    ]
    # Group what is one file (by digest, inode, or the same name and size).
    groups: list[list[Found]] = []
    index: dict[Any, int] = {}
    for item in found:
        keys = [_file_key(item), ("name-size", item.name, item.size or _size(item.path))]
        if item.digest:
            keys.append(("digest", item.digest))
        at = next((index[k] for k in keys if k in index), None)
        if at is None:
            at = len(groups)
            groups.append([])
        groups[at].append(item)
        for key in keys:
            index.setdefault(key, at)

    hidden = hidden_names()
    files: dict[str, list[str]] = {}  # a file's identity -> the rows that run it
    for digest, name in starter_digests.items():
        files[digest] = [name]
    for group in groups:
        digest = next((f.digest for f in group if f.digest), "")
        file = digest or repr(_file_key(group[0]))
        same_settings: dict[str, list[Found]] = {}
        for item in group:
            same_settings.setdefault(repr(_settings(item)), []).append(item)
        for same in same_settings.values():
            if digest in starter_digests and _settings(same[0]) == _NO_SETTINGS:
                # A starter also found in the HF cache, say: one model, more sources.
                base = models[starter_digests[digest]]
                models[base.name] = replace(
                    base,
                    sources=base.sources + tuple(dict.fromkeys(f.source for f in same)),
                    aliases=base.aliases + tuple(f.name for f in same if f.name != base.name),
                )
                continue
            name = same[0].name
            if name in models:
                name = f"{same[0].source}/{name}"
            models[name] = _external(same, name, infos, hidden)
            files.setdefault(file, []).append(name)
    for names_of_file in files.values():
        for name in names_of_file:
            others = tuple(n for n in names_of_file if n != name)
            if others:
                models[name] = replace(models[name], shares_file_with=others)
    infos.save()
    listed = [m for m in models.values() if include_hidden or not m.hidden]
    return sorted(listed, key=lambda m: m.name)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def find(text: str) -> LibraryModel:
    """The model called `text`; a name without a tag means its family's default tag
    (`latest` if there is one, else its only or first tag). Hidden models are found too;
    REMOTE/MODEL is MODEL on the remote so named."""
    from llmtui.library.remotes import served  # it builds LibraryModels: after them

    if (model := served(text)) is not None:
        return model
    try:
        wanted = names.parse(text)
    except names.InvalidName as error:
        raise UnknownModel(str(error)) from None
    # Names match case-insensitively, as Ollama's do: hf.co/Owner/Repo:Q4_K_M is the same
    # model as hf.co/owner/repo:q4_k_m.
    listed = list_models(include_hidden=True)
    models = {alias.lower(): m for m in listed for alias in m.aliases}
    models.update({m.name.lower(): m for m in listed})
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
    close = [models[c].name for c in close]
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    if not models:
        hint = "; no models are installed (make run installs the starter models)"
    elif not close:
        hint = f"; `llmtui list` shows the {len(models)} installed"
    raise UnknownModel(f"model {text!r} not found{hint}")


def is_starter(name: str) -> bool:
    return any(s.name == name for s in starters.STARTERS)
