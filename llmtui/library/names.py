"""Model names as Ollama writes them: `[host/][namespace/]model[:tag]`, checked here once.

A name becomes a path in the store (`models/<family>/<tag>.toml`), so a name that could
climb out of it (`a/../..`), name a folder (`a/.`), or be empty between slashes is refused
here, for every face: each part starts with a letter or digit and holds only letters,
digits, '.', '_' and '-', as in Ollama's grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_PART = 96  # Hugging Face allows repository names of 96 characters; Ollama 80
MAX_HOST = 350
MAX_PARTS = 3  # host/namespace/model, e.g. hf.co/owner/repo


class InvalidName(ValueError):
    """A model name that cannot be a model name."""


@dataclass(frozen=True, order=True)
class ModelName:
    family: str
    tag: str | None

    def __str__(self) -> str:
        return f"{self.family}:{self.tag}" if self.tag else self.family


def parse(text: str) -> ModelName:
    text = text.strip()
    shown = text if len(text) <= 60 else f"{text[:57]}..."
    family, colon, tag = text.partition(":")
    parts = family.split("/")
    problem = None
    if not family:
        problem = "it is empty" if not text else "it has no model before the ':'"
    elif len(parts) > MAX_PARTS:
        problem = f"it has {len(parts)} parts; at most host/namespace/model"
    elif any(not _PART.fullmatch(part) for part in parts) or (colon and not _PART.fullmatch(tag)):
        problem = (
            "use letters, digits, '.', '_' and '-', each part (between '/') and the tag "
            "starting with a letter or digit"
        )
    elif any(len(part) > MAX_PART for part in parts[-2:]) or len(parts[0]) > MAX_HOST:
        problem = f"a part is longer than {MAX_PART} characters"
    elif len(tag) > 80:
        problem = "its tag is longer than 80 characters"
    if problem:
        raise InvalidName(
            f"{shown!r} is not a model name: {problem} (for example smollm2:135m, "
            "user/model:tag, hf.co/owner/repo:Q4_K_M)"
        )
    return ModelName(family.lower(), tag.lower() or None)
