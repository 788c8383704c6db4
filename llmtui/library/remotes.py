"""Models other servers run, by the name llmtui gives them: REMOTE/MODEL (`team/llama3.1:70b`),
REMOTE being a remote the user named (llmtui/remote/config.py).

The listing asks every remote at once, each on a thread of its own, and waits at most
`DEADLINE` for them all: a remote that is down is said once and costs the listing no more
than that, and local models are never hidden by it. What each remote said (or that it did
not answer) is kept for `CACHE_SECONDS` in the cache dir, so listings in a row ask it once.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llmtui import atomic, paths
from llmtui.engine import ModelSpec
from llmtui.engine.spec import ServedModel
from llmtui.library.catalog import LibraryModel
from llmtui.remote import config
from llmtui.remote.config import Remote

DEADLINE = 0.4  # seconds a listing waits for the remotes, together
CACHE_SECONDS = 30.0


def served(text: str) -> LibraryModel | None:
    """The served model `text` names, if its first part names a remote; else None."""
    remote_name, slash, model = text.partition("/")
    if not slash or not model or not model.isprintable() or any(c.isspace() for c in model):
        return None
    remote = config.find(remote_name)
    return None if remote is None else _model(remote, model)


def _model(
    remote: Remote, model: str, size: int = 0, said: tuple[str, str] = ("", "")
) -> LibraryModel:
    name = f"{remote.name}/{model}"
    target = ServedModel(remote.name, remote.kind, remote.url, model, remote.key_env)
    spec = ModelSpec(name, Path(), served=target)
    return LibraryModel(
        name=name,
        sources=(f"remote {remote.name}",),
        path=None,
        size=size,
        modified=0.0,
        id="",
        description=f"{model} on {remote.name} ({remote.kind} at {remote.url})",
        make_spec=lambda: spec,
        remote=remote.name,
        served_as=said,
    )


def _cache_path() -> Path:
    return paths.cache_dir() / "remote-models.json"


def _cached() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def served_models(problems: list[str], deadline: float = DEADLINE) -> list[LibraryModel]:
    """Every remote's models; a remote that could not say is one sentence in `problems`."""
    from llmtui.remote.client import RemoteFailure, list_models  # httpx: only with remotes

    remotes, unreadable = config.load()
    problems.extend(unreadable)
    if not remotes:
        return []
    cache = _cached()
    now = time.time()
    answers: dict[str, dict[str, Any]] = {}
    for remote in remotes:
        entry = cache.get(remote.name)
        if (isinstance(entry, dict) and entry.get("remote") == asdict(remote)
                and now - float(entry.get("at", 0)) < CACHE_SECONDS):  # fmt: skip
            answers[remote.name] = entry

    lock = threading.Lock()
    heard: dict[str, dict[str, Any]] = {}  # written by the threads until the deadline

    def ask(remote: Remote) -> None:
        try:
            found = [asdict(m) for m in list_models(remote, timeout=deadline)]
            answer: dict[str, Any] = {"models": found}
        except RemoteFailure as error:
            answer = {"error": str(error)}
        with lock:
            heard[remote.name] = {**answer, "remote": asdict(remote), "at": time.time()}

    asking = [r for r in remotes if r.name not in answers]
    threads = [threading.Thread(target=ask, args=(r,), daemon=True) for r in asking]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, ends - time.monotonic()))
    with lock:
        answers.update(heard)
        heard.clear()
    for remote in asking:
        if remote.name not in answers:  # still waiting: said as down, and remembered so
            answers[remote.name] = {"error": f"{remote.name} ({remote.url}) is unreachable: "
                                    f"no answer in {deadline:.1f} s", "remote": asdict(remote),
                                    "at": time.time()}  # fmt: skip
    if asking:
        with contextlib.suppress(OSError):  # unwritable: the next listing asks again
            atomic.write_text(_cache_path(), json.dumps(answers))
    models = []
    for remote in remotes:
        answer = answers[remote.name]
        if "error" in answer:
            problems.append(f"{answer['error']} (its models are not listed)")
            continue
        for found in answer.get("models", []):
            said = (str(found.get("parameters", "")), str(found.get("quantization", "")))
            models.append(_model(remote, str(found["name"]), int(found.get("size", 0)), said))
    return models
