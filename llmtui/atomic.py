"""Writes that either happen completely or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`,
    so a crash mid-write leaves the old file (or none), never half of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


LEFTOVER_AGE = 600.0  # seconds: no write takes this long, so such a temporary file is dead


def remove_leftovers(root: Path) -> None:
    """Delete the temporary files of writes that were killed (SIGKILL, power cut) under
    `root`: nothing else would ever remove them."""
    now = time.time()
    for path in root.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            if path.is_file() and now - path.stat().st_mtime > LEFTOVER_AGE:
                path.unlink()
