"""`llmtui create`: a Modelfile turned into a model in the store.

The base (FROM) is a library model, a GGUF path, or a Hugging Face reference already in the
cache. A base that is itself a created model passes on what its Modelfile said, and this
Modelfile's own instructions take precedence, as in Ollama. Nothing is copied.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from llmtui.engine.errors import ModelFileError
from llmtui.engine.gguf import check_adapter, read_header
from llmtui.engine.message import Message
from llmtui.engine.spec import Draft, ModelSpec
from llmtui.library import catalog, hfcache, remotes
from llmtui.library.store import Manifest, Store, full_name, utc_now
from llmtui.modelfile import Modelfile, ModelfileError


def looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~", ".\\")) or value.lower().endswith(".gguf")


def _gguf_at(value: str, base_dir: Path, modelfile: Modelfile, key: str) -> Path:
    line, column = modelfile.where.get(key, (1, 1))
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # ~name of a user that does not exist
        user = value.split("/", 1)[0]
        raise ModelfileError(
            line, column, f"{key}: there is no user {user[1:]!r} ({user})"
        ) from None
    if not path.is_absolute():
        path = base_dir / path
    try:
        read_header(path)
    except ModelFileError as error:
        raise ModelfileError(line, column, f"{key}: {error}") from None
    return path.resolve()


def _base(modelfile: Modelfile, base_dir: Path) -> tuple[Path, Manifest | None, str | None]:
    """The base's GGUF, its manifest if it was created, and REMOTE/MODEL if another server
    runs it (then the GGUF is none)."""
    path, inherited = _local_base(modelfile, base_dir)
    if path is not None:
        return path, inherited, inherited.served if inherited else None
    return Path(), None, modelfile.from_


def _local_base(modelfile: Modelfile, base_dir: Path) -> tuple[Path | None, Manifest | None]:
    value = modelfile.from_
    line, column = modelfile.where.get("FROM", (1, 1))
    if looks_like_path(value):
        return _gguf_at(value, base_dir, modelfile, "FROM"), None
    if remotes.served(value) is not None:  # REMOTE/MODEL before OWNER/REPO on the Hub
        return None, None
    if hfcache.is_reference(value):
        try:
            return hfcache.cached_gguf(value), None
        except LookupError as error:
            raise ModelfileError(line, column, f"FROM: {error}") from None
    try:
        model = catalog.find(value)
    except catalog.UnknownModel as error:
        raise ModelfileError(line, column, f"FROM: {error}") from None
    if model.manifest is not None:
        return model.manifest.path, model.manifest
    try:
        return model.spec().path, None
    except (OSError, ValueError) as error:
        raise ModelfileError(line, column, f"FROM: {model.name} is unusable: {error}") from None


def create(name: str, modelfile: Modelfile, base_dir: Path, store: Store | None = None) -> Manifest:
    """Check everything the Modelfile refers to, then write the manifest in one step:
    a failed create leaves nothing behind."""
    manifest = build(name, modelfile, base_dir)
    (store or Store()).save(manifest)
    return manifest


def build(name: str, modelfile: Modelfile, base_dir: Path) -> Manifest:
    """The manifest `modelfile` describes, checked but not saved (the workbench chats with
    an unsaved buffer this way)."""
    target = full_name(name)
    if catalog.is_starter(target):
        raise ValueError(f"{target} is a starter model's name; choose another")
    path, inherited, served = _base(modelfile, base_dir)
    if served is not None:
        for key, value in (("TEMPLATE", modelfile.template), ("ADAPTER", modelfile.adapter)):
            if value:
                line, column = modelfile.where.get(key, (1, 1))
                raise ModelfileError(line, column, f"{key}: {served} runs on a remote, which "
                                     "applies its own template and weights; on a remote "
                                     "base, only SYSTEM, PARAMETER and MESSAGE apply")  # fmt: skip
    parameters: dict[str, Any] = dict(inherited.parameters) if inherited else {}
    parameters.update(modelfile.options())
    adapter = (
        _gguf_at(modelfile.adapter, base_dir, modelfile, "ADAPTER")
        if modelfile.adapter
        else (inherited.adapter if inherited else None)
    )
    if adapter is not None:
        line, column = modelfile.where.get("ADAPTER", (1, 1))
        try:
            check_adapter(adapter, read_header(path))
        except ModelFileError as error:
            raise ModelfileError(line, column, f"ADAPTER: {error}") from None

    def mine_or_base(value: Any, attribute: str) -> Any:
        if value or inherited is None:
            return value
        return getattr(inherited, attribute)

    manifest = Manifest(
        name=target,
        # A path is stored absolute, so that `show --modelfile` recreates it from anywhere.
        from_=str(path) if looks_like_path(modelfile.from_) else modelfile.from_,
        path=path,
        created=utc_now(),
        parameters=parameters,
        system=mine_or_base(modelfile.system, "system"),
        template=mine_or_base(modelfile.template, "template"),
        adapter=adapter,
        messages=mine_or_base(modelfile.messages, "messages"),
        license=mine_or_base(modelfile.license, "license"),
        requires=modelfile.requires,
        served=served,
    )
    return manifest


def draft_spec(modelfile: Modelfile, base_dir: Path) -> ModelSpec:
    """What the editor's unsaved buffer runs: checked as `create` checks it, and carrying
    its own lines apart (`Draft`) for a server that knows its base only by name."""
    spec = build("buffer", modelfile, base_dir).spec()
    if spec.served is not None:  # a remote base: its lines go with each request already
        return spec
    unsent = tuple(key for key, value in (("TEMPLATE", modelfile.template),
                                          ("ADAPTER", modelfile.adapter)) if value)  # fmt: skip
    if looks_like_path(modelfile.from_):
        unsent = ("FROM a file", *unsent)
    messages = tuple(Message(role, text) for role, text in modelfile.messages)
    draft = Draft(modelfile.from_, modelfile.options(), modelfile.system, messages, unsent)
    return replace(spec, draft=draft)
