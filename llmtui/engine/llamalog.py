"""llama.cpp's own log, routed to a file.

llama.cpp prints from C straight to stderr, which would tear a full-screen UI apart, and
llama-cpp-python's `verbose=False` silences it by pointing file descriptors 1 and 2 at
/dev/null for the whole process while a model loads (swallowing the UI's frames too). Instead
one callback, installed once per process, appends every line to a log file and picks out the
facts the stats need (layers offloaded, KV cache size) from the lines of the latest load.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import threading
from pathlib import Path
from typing import IO, Any

import llama_cpp

_OFFLOADED = re.compile(rb"offloaded (\d+)/(\d+) layers to GPU")
_KV_SIZE = re.compile(rb"^llama_kv_cache\w*: size =\s*([\d.]+) MiB")


class LlamaLog:
    """The process-wide sink for llama.cpp's log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self.path: Path | None = None
        self.offloaded: tuple[int, int] | None = None
        self.kv_mib: float = 0.0
        # ctypes must keep the callback object alive for as long as C may call it.
        self._callback: Any = llama_cpp.llama_log_callback(self._on_log)

    def install(self, path: Path) -> None:
        """Send llama.cpp's log to `path` (appending), from now on."""
        with self._lock:
            if self.path == path and self._file is not None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            if self._file is not None:
                self._file.close()
            self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process
            self.path = path
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    def start_load(self) -> None:
        """Forget the facts of the previous load (loads are serialised by the engine)."""
        self.offloaded = None
        self.kv_mib = 0.0

    def new_context(self) -> None:
        """A load makes a second context (several sequences): its KV figure, not both."""
        self.kv_mib = 0.0

    def write(self, data: bytes) -> None:
        handle = self._file
        if handle is not None:
            # At interpreter exit the file may close before the last model is freed, and an
            # exception must not cross back into C.
            with contextlib.suppress(ValueError, OSError):
                handle.write(data)

    def _on_log(self, level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if match := _OFFLOADED.search(text):
            self.offloaded = (int(match[1]), int(match[2]))
        elif match := _KV_SIZE.search(text):
            self.kv_mib += float(match[1])
        self.write(text)


LOG = LlamaLog()
