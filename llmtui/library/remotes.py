"""Models other servers run, by the name llmtui gives them: REMOTE/MODEL (`team/llama3.1:70b`),
REMOTE being a remote the user named (llmtui/remote/config.py)."""

from __future__ import annotations

from pathlib import Path

from llmtui.engine import ModelSpec
from llmtui.engine.spec import ServedModel
from llmtui.library.catalog import LibraryModel
from llmtui.remote import config


def served(text: str) -> LibraryModel | None:
    """The served model `text` names, if its first part names a remote; else None."""
    remote_name, slash, model = text.partition("/")
    if not slash or not model or not model.isprintable() or any(c.isspace() for c in model):
        return None
    remote = config.find(remote_name)
    if remote is None:
        return None
    target = ServedModel(remote.name, remote.kind, remote.url, model, remote.key_env)
    spec = ModelSpec(text, Path(), served=target)
    return LibraryModel(
        name=text,
        sources=(f"remote {remote.name}",),
        path=None,
        size=0,
        modified=0.0,
        id="",
        description=f"{model} on {remote.name} ({remote.kind} at {remote.url})",
        make_spec=lambda: spec,
    )
