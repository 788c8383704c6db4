"""Library speed and memory estimates, measured against baselines in the same run.

1. Listing: 50 GGUF files in a settings folder, listed cold (no metadata cache) and warm,
   against reading the same 50 headers with llama.cpp's vocab-only load.
2. Memory: for each starter model, the estimate the fit column and the engine's refusal use,
   against the process's RSS growth after loading it and generating a few tokens.

    python bench/library.py
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def listing(count: int = 50) -> None:
    from llama_cpp import Llama

    from llmtui import library
    from llmtui.library.metadata import MetadataCache

    source = library.find("smollm2:135m").spec().path
    folder = Path(os.environ["LLMTUI_HOME"]) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        # Same bytes, distinct files: the listing reads each header (no dedupe by inode).
        shutil.copyfile(source, folder / f"model-{i:02d}.Q4_1.gguf")
    config = Path(os.environ["LLMTUI_HOME"]) / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(f'model_folders = ["{folder}"]\n')

    cache = MetadataCache()
    cold = []
    for _ in range(3):
        cache.path.unlink(missing_ok=True)
        start = time.perf_counter()
        models = library.list_models()
        cold.append(time.perf_counter() - start)
    warm = []
    for _ in range(5):
        start = time.perf_counter()
        library.list_models()
        warm.append(time.perf_counter() - start)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        for path in sorted(folder.glob("*.gguf"))[:10]:
            Llama(str(path), vocab_only=True, verbose=True).close()
    vocab_only = (time.perf_counter() - start) / 10 * count
    print(f"listing {len(models)} models ({count} in a folder):")
    print(f"  cold (headers read)     {statistics.median(cold) * 1000:8.1f} ms")
    print(f"  warm (metadata cache)   {statistics.median(warm) * 1000:8.1f} ms")
    print(f"  llama.cpp vocab-only    {vocab_only * 1000:8.1f} ms for the same {count} files")
    print(f"  cold / vocab-only       {statistics.median(cold) / vocab_only:8.3f}")


def memory() -> None:
    from llmtui import library
    from llmtui.engine import Engine, Message
    from llmtui.engine.system import rss_bytes

    print("\nmemory estimate (num_ctx 4096) against RSS growth, after a short prompt and after")
    print("a 3,000-token one (the KV cache's pages are only resident once written):")
    long_prompt = "The quick brown fox jumps over the lazy dog. " * 300
    for name in ("smollm2:135m", "gemma3:270m"):
        model = library.find(name)
        estimate = model.estimate(4096)
        assert estimate is not None
        engine = Engine()
        before = rss_bytes()
        engine.chat(model.spec(), [Message("user", "Hello")], {"num_predict": 16}).wait()
        short = rss_bytes() - before
        done = engine.generate(model.spec(), long_prompt, {"num_predict": 16}).wait()
        full = rss_bytes() - before
        engine.close()
        print(f"  {name:14} estimate {estimate.total / 1e6:6.0f} MB   short +{short / 1e6:5.0f} MB "
              f"({(estimate.total - short) / short:+.0%})   {done.context_used} tokens "
              f"+{full / 1e6:5.0f} MB ({(estimate.total - full) / full:+.0%})")  # fmt: skip


def main() -> int:
    # A home of its own unless told one, removed when main() returns: each run fills its
    # cache with a model (~240 MB), and leftovers filled this machine's disk.
    home = tempfile.TemporaryDirectory(prefix="llmtui-bench-", ignore_cleanup_errors=True)
    os.environ.setdefault("LLMTUI_HOME", home.name)
    listing()
    memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
