"""Copying and removing models: what `llmtui cp` / `rm` and the workbench's library do."""

from __future__ import annotations

import dataclasses

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
    for part in split_parts(model.path) or [model.path]:
        target = part.resolve()  # the blob behind a Hugging Face cache link
        part.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
    set_hidden(model.name, hidden=False)
    return f"deleted '{model.name}' and its file {model.path}"
