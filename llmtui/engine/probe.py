"""A model file's first load happens in a child process, so that llama.cpp dying on it (an
abort or a segfault: C code, no exception to catch) ends the child, not the workbench.

The header checks in gguf.py refuse what they can see will fail; a probe covers what they
cannot, once per file version (path, size, mtime, and the adapter's), remembered in the
cache dir. It loads the model on the CPU with a small context and evaluates one token.
Measured on the 2-core VM (`llmtui run --verbose`, load duration): smollm2:135m's first load
795 ms instead of 223 ms, gemma3:270m's 1.65 s instead of 0.62 s; once per file version,
later loads cost a stat() and a small JSON read.

    python -m llmtui.engine.probe MODEL.gguf [ADAPTER.gguf]
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from llmtui import atomic, paths
from llmtui.engine.errors import ModelLoadError

TIMEOUT = 600.0  # seconds: a large model's first load from a slow disk


def _cache_path() -> Path:
    return paths.cache_dir() / "probed.json"


def _key(path: Path, adapter: Path | None) -> str:
    parts = []
    for file in (path, adapter):
        if file is not None:
            stat = file.stat()
            parts.append(f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _probed() -> dict[str, bool]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ensure_loadable(path: Path, adapter: Path | None = None) -> None:
    """Return once llama.cpp has loaded `path` (with `adapter`) in a child process, now or
    earlier; raise `ModelLoadError` with what the child said if it could not, or died."""
    key = _key(path, adapter)
    seen = _probed()
    if seen.get(key):
        return
    command = [sys.executable, "-m", "llmtui.engine.probe", str(path)]
    if adapter is not None:
        command.append(str(adapter))
    # GGML_NO_BACKTRACE: an abort would otherwise attach gdb to print a backtrace (seconds).
    env = {**os.environ, "GGML_NO_BACKTRACE": "1"}
    try:
        child = subprocess.run(command, capture_output=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise ModelLoadError(
            f"llama.cpp did not finish loading {path} in {TIMEOUT:.0f} s (in a test load)"
        ) from None
    if child.returncode != 0:
        said = _last_words(child.stderr.decode("utf-8", errors="replace"))
        how = (
            f"crashed ({signal.Signals(-child.returncode).name})"
            if child.returncode < 0
            else "failed"
        )
        raise ModelLoadError(
            f"llama.cpp {how} loading {path} in a test load, so it is not loaded here"
            f"{': ' + said if said else ''}"
        )
    seen[key] = True
    with contextlib.suppress(OSError):  # an unwritable cache: the next load probes again
        atomic.write_text(_cache_path(), json.dumps(seen))


def _last_words(log: str) -> str:
    """The line of llama.cpp's log that says what went wrong, if one does."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for marker in ("GGML_ASSERT", "error", "failed", "Error"):
        found = [line for line in lines if marker in line]
        if found:
            return found[-1][:300]
    return lines[-1][:300] if lines else ""


def _main(arguments: list[str]) -> int:
    from llama_cpp import Llama, llama_batch_get_one, llama_decode, llama_token

    llm = Llama(
        model_path=arguments[0],
        lora_path=arguments[1] if len(arguments) > 1 else None,
        n_ctx=256,
        n_batch=32,
        n_gpu_layers=0,
        n_threads=1,
        verbose=True,  # its log goes to stderr, which the parent reads
    )
    one = (llama_token * 1)(max(0, llm.token_bos()))
    status = llama_decode(llm.ctx, llama_batch_get_one(one, 1))
    llm.close()
    if status != 0:
        print(f"error: llama_decode returned {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
