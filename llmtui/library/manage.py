"""Copying and removing models: what `llmtui cp` / `rm` and the workbench's library do."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from llmtui.library.catalog import LibraryModel, is_starter, set_hidden
from llmtui.library.found import split_parts
from llmtui.library.store import Manifest, Store, full_name, utc_now


class ManageError(Exception):
    """A copy or removal that cannot be done, in one sentence."""


def copy_model(model: LibraryModel, target: str, store: Store | None = None) -> Manifest:
    """A new model called `target` in llmtui's store, the same as `model`."""
    destination = full_name(target)
    if is_starter(destination):
        raise ManageError(f"{destination} is a starter model's name; choose another")
    if model.manifest is not None:
        manifest = dataclasses.replace(model.manifest, name=destination, created=utc_now())
    else:
        manifest = Manifest(
            name=destination, from_=model.name, path=model.spec().path, created=utc_now()
        )
    (store or Store()).save(manifest)
    return manifest


def remove_model(
    model: LibraryModel, delete_files: bool = False, store: Store | None = None
) -> str:
    """Delete what llmtui owns; hide what it does not, unless told to delete its files.
    Returns what was done, as a sentence."""
    if model.owned:
        (store or Store()).remove(model.name)
        return f"deleted '{model.name}'"
    if "starter" in model.sources:
        raise ManageError(
            f"{model.name} is a starter model that comes with its Python package; "
            "uninstall the package to remove it"
        )
    if not delete_files:
        set_hidden(model.name)
        return (f"hid '{model.name}' from the list; its file stays at {model.path} "
                "(--delete-files deletes it)")  # fmt: skip
    if "ollama" in model.sources:
        raise ManageError(
            f"{model.name} belongs to Ollama, and llmtui never writes to Ollama's store: "
            f"`ollama rm {model.name}` removes it"
        )
    assert model.path is not None
    removed = [what for part in split_parts(model.path) or [model.path] for what in _delete(part)]
    if not removed:
        raise ManageError(f"nothing was deleted: {model.path} is not there any more")
    set_hidden(model.name, hidden=False)
    return f"deleted '{model.name}': {'; '.join(removed)}"


def _delete(path: Path) -> list[str]:
    """Delete `path`, never through a link: a link goes, and what it points to stays,
    except a Hugging Face cache's blob behind its own snapshot link (that is the file).
    Returns what was deleted, in words."""
    if path.is_symlink():
        target = path.resolve()
        path.unlink()
        removed = [f"the link {path}"]
        snapshots = target.parent.parent / "snapshots"
        cached = target.parent.name == "blobs" and snapshots in path.parents
        if cached and target.is_file() and not target.is_symlink():
            target.unlink()
            removed.append(f"the cached file {target}")
        elif target.exists():
            removed.append(f"(not {target}, which it pointed to)")
        return removed
    if path.is_file():
        path.unlink()
        return [f"the file {path}"]
    return []
