"""`llmtui list`, `pull` and `search`: the library from the command line."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from tqdm import tqdm

from llmtui import settings
from llmtui.cli import format as fmt
from llmtui.engine import system
from llmtui.library import list_models
from llmtui.library.describe import count
from llmtui.library.hub import HubError, pull, repo_files, search
from llmtui.library.remotes import served_models


def list_command(as_json: bool, include_hidden: bool) -> int:
    problems: list[str] = []
    models = list_models(problems, include_hidden=include_hidden)
    models += served_models(problems)  # after the local ones, which a remote never hides
    user, _ = settings.load()
    kv_type = user.options().kv_cache_type  # what fit is judged at, as the engine loads
    available = system.available_memory()
    if as_json:
        rows: list[dict[str, Any]] = []
        for m in models:
            estimate = m.estimate(user.num_ctx, kv_type)
            rows.append({
                "name": m.name, "id": m.id, "size": m.size, "modified": m.modified,
                "sources": list(m.sources), "path": str(m.path) if m.path else None,
                "parameters": m.info.parameters if m.info else m.served_as[0] or None,
                "quantization": m.info.quantization if m.info else m.served_as[1] or None,
                "architecture": m.info.architecture if m.info else None,
                "context_length": m.info.context_length if m.info else None,
                "chat_template": m.info.has_chat_template if m.info else None,
                "vision": m.info.has_vision if m.info else None,
                "memory_estimate": estimate.total if estimate else None,
                "num_ctx": user.num_ctx,
                "fit": m.fit(user.num_ctx, available, kv_type),
                "hidden": m.hidden, "error": m.broken, "remote": m.remote or None,
            })  # fmt: skip
        print(json.dumps(rows, indent=2))
    else:
        table = [
            (
                m.name,
                m.id,
                fmt.human_size(m.size) if m.size or not m.remote else "-",
                m.source + (" (hidden)" if m.hidden else ""),
                count(m.info.parameters) if m.info and not m.broken else m.served_as[0] or "-",
                m.info.quantization if m.info and not m.broken else m.served_as[1] or "-",
                m.fit(user.num_ctx, available, kv_type),
                fmt.ago(m.modified) if m.modified else "-",
            )
            for m in models
        ]
        header = ("NAME", "ID", "SIZE", "SOURCE", "PARAMS", "QUANT", "FIT", "MODIFIED")
        print(fmt.table(header, table))
        for m in models:
            if m.broken:
                print(f"warning: {m.name} is broken: {m.broken}", file=sys.stderr)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


class _Progress(tqdm):  # type: ignore[type-arg]
    """The pull's progress on stderr: bytes, rate and time left."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(
            file=sys.stderr,
            disable=False,
            bar_format="{desc}: {percentage:3.0f}% |{bar:24}| {n_fmt}/{total_fmt} "
            "{rate_fmt} ETA {remaining}",
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
        )
        super().__init__(*args, **kwargs)


def _quiet_hub() -> None:
    """huggingface_hub logs its retries to stderr; the CLI says what failed, once."""
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)


def pull_command(reference: str) -> int:
    _quiet_hub()
    try:
        pulled = pull(reference, progress=_Progress)
    except HubError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\npull cancelled; run the same command to resume where it stopped",
              file=sys.stderr)  # fmt: skip
        return 130
    if pulled.note:
        print(pulled.note, file=sys.stderr)
    repo = reference.removeprefix("hf.co/").split(":")[0]
    print(f"success: hf.co/{repo}:{pulled.quant} is in {pulled.path}")
    return 0


def search_command(query: str, files_of: str | None, limit: int) -> int:
    _quiet_hub()
    try:
        if files_of:
            return _files(files_of.removeprefix("hf.co/"))
        hits = search(query, limit)
    except HubError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    if not hits:
        print(f"no GGUF models on Hugging Face match {query!r}")
        return 0
    rows = [
        (f"hf.co/{h.repo_id}", f"{h.downloads:,}", f"{h.likes:,}",
         fmt.ago(h.last_modified.timestamp()) if h.last_modified else "-")
        for h in hits
    ]  # fmt: skip
    print(fmt.table(("NAME", "DOWNLOADS", "LIKES", "UPDATED"), rows))
    return 0


def _files(repo_id: str) -> int:
    files = repo_files(repo_id)
    if not files:
        print(f"hf.co/{repo_id} has no GGUF files")
        return 0
    available = system.available_memory()
    rows = []
    for file in files:
        # Only the size is known before downloading: weights, plus a margin for the cache.
        needed = file.size * 1.2 + 256_000_000
        fit = "fits" if needed <= available * 0.8 else "tight" if needed <= available else "too big"
        rows.append((f"hf.co/{repo_id}:{file.quant}", fmt.human_size(file.size), fit,
                     " + ".join(file.paths)))  # fmt: skip
    print(fmt.table(("NAME", "SIZE", "FIT", "FILES"), rows))
    return 0
