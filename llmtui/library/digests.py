"""sha256 of model files, computed once per file version (path, size, mtime) and cached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from llmtui import atomic, paths


def _cache_path() -> Path:
    return paths.cache_dir() / "digests.json"


def _load() -> dict[str, list[object]]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sha256(path: Path) -> str:
    stat = path.stat()
    key = str(path.resolve())
    cache = _load()
    entry = cache.get(key)
    if isinstance(entry, list) and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
        return str(entry[2])
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    value = digest.hexdigest()
    cache[key] = [stat.st_size, stat.st_mtime_ns, value]
    atomic.write_text(_cache_path(), json.dumps(cache))
    return value
