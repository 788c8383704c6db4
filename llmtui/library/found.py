"""A model file found on disk by one of the library's sources."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Quantization tags as they end GGUF file names: Q4_K_M, IQ3_XXS, Q8_0, BF16...
QUANT = re.compile(
    r"(?i)(?:^|[-_.])((?:I?Q[1-8](?:_[0-9A-Z]+)*)|BF16|F16|F32|TQ[12]_0|MXFP4(?:_MOE)?)$"
)
SPLIT = re.compile(r"-(\d{5})-of-(\d{5})$")
_NAME_CHARS = re.compile(r"[^a-z0-9._/-]+")


@dataclass(frozen=True)
class Found:
    name: str
    path: Path
    source: str  # "hf-cache", "ollama", "lmstudio", "folder"
    digest: str | None = None  # sha256 when the source names files by it
    size: int | None = None  # all parts of a split GGUF; None = the file's size
    options: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    template: str | None = None  # an Ollama Go template
    has_projector: bool = False


def quant_of(stem: str) -> str | None:
    """The quantization tag that ends a GGUF's file name, upper-cased."""
    stem = SPLIT.sub("", stem)
    match = QUANT.search(stem)
    return match.group(1).upper() if match else None


def split_parts(path: Path) -> list[Path] | None:
    """All parts of a split GGUF given its first (`-00001-of-0000N`); None if not split."""
    match = SPLIT.search(path.stem)
    if not match:
        return None
    total = int(match.group(2))
    prefix = path.stem[: match.start()]
    return [path.with_name(f"{prefix}-{i:05d}-of-{total:05d}.gguf") for i in range(1, total + 1)]


def is_later_split_part(path: Path) -> bool:
    match = SPLIT.search(path.stem)
    return match is not None and int(match.group(1)) > 1


def is_projector(path: Path) -> bool:
    """Vision projectors ship beside their model as mmproj*.gguf; they are not models."""
    return "mmproj" in path.name.lower()


def name_from_stem(stem: str) -> str:
    """`Mistral-7B-Instruct-v0.2.Q4_K_M` -> `mistral-7b-instruct-v0.2:q4_k_m`."""
    stem = SPLIT.sub("", stem)
    match = QUANT.search(stem)
    quant = match.group(1).upper() if match else None
    family = stem[: match.start()] if match else stem
    family = _NAME_CHARS.sub("-", family.lower()).strip("-._/") or "model"
    return f"{family}:{quant.lower() if quant else 'latest'}"
