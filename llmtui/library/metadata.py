"""What a GGUF is, read from its header and cached by path, size and mtime.

Listing fifty models must take well under a second: a header read skips the vocabulary
(milliseconds), and an unchanged file is not read at all.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from llmtui import atomic, paths
from llmtui.engine import memory
from llmtui.engine.errors import ModelFileError
from llmtui.engine.gguf import read_header

_VERSION = 1  # bump when ModelInfo changes shape: old cache entries are then re-read


@dataclass(frozen=True)
class ModelInfo:
    """A GGUF's facts, or why it is broken (`error`)."""

    path: str
    size: int
    architecture: str = ""
    parameters: int = 0
    quantization: str = ""
    context_length: int = 0
    layers: int = 0
    embedding_length: int = 0
    vocab_size: int = 0
    has_chat_template: bool = False
    has_vision: bool = False
    weights: int = 0
    kv_per_token: int = 0
    error: str | None = None

    def estimate(
        self, num_ctx: int, num_batch: int = 512, kv_cache_type: str = "f16"
    ) -> memory.MemoryEstimate:
        return memory.estimate_parts(
            self.weights, self.kv_per_token, self.vocab_size, self.embedding_length,
            num_ctx, num_batch, kv_cache_type,
        )  # fmt: skip


def _read(path: Path, size: int) -> ModelInfo:
    try:
        header = read_header(path)
    except ModelFileError as error:
        return ModelInfo(str(path), size, error=str(error))
    meta = header.metadata
    return ModelInfo(
        path=str(path),
        size=size,
        architecture=header.architecture,
        parameters=header.parameter_count,
        quantization=header.quantization,
        context_length=header.context_length,
        layers=header.block_count,
        embedding_length=header.embedding_length,
        vocab_size=header.vocab_size,
        has_chat_template=header.chat_template is not None,
        has_vision=any(k.startswith("clip.") for k in meta) or meta.get("general.type") == "mmproj",
        weights=header.data_size,
        kv_per_token=memory.kv_bytes_per_token(header),
    )


class MetadataCache:
    """`info(path)` for many files, reading each header once per version of the file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.cache_dir() / "metadata.json"
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, object]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, dict[str, object]]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                valid = isinstance(data, dict) and data.get("version") == _VERSION
                self._entries = data["files"] if valid else {}
            except (OSError, ValueError, KeyError):
                self._entries = {}
        return self._entries

    def info(self, path: Path) -> ModelInfo:
        try:
            stat = path.stat()
        except OSError as error:
            return ModelInfo(str(path), 0, error=f"cannot read {path}: {error.strerror}")
        key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
        with self._lock:
            entries = self._load()
            cached = entries.get(key)
            if cached is not None:
                return ModelInfo(**cached)  # type: ignore[arg-type]
        info = _read(path, stat.st_size)
        with self._lock:
            entries[key] = asdict(info)
            self._dirty = True
        return info

    def save(self) -> None:
        """Write the cache back if anything new was read (atomically: a crash loses nothing
        but the cache's newest entries)."""
        with self._lock:
            if not self._dirty or self._entries is None:
                return
            live = {k: v for k, v in self._entries.items() if Path(k.split("|")[0]).exists()}
            atomic.write_text(self.path, json.dumps({"version": _VERSION, "files": live}))
            self._dirty = False
