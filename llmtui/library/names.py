"""Model names as Ollama writes them: `family:tag`, the tag optional."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*(:[A-Za-z0-9][A-Za-z0-9._-]*)?$")


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
    if not _NAME.match(text):
        raise InvalidName(
            f"{text!r} is not a model name: use letters, digits, '.', '_', '-' and '/', "
            "with an optional ':tag' (for example smollm2:135m)"
        )
    family, _, tag = text.partition(":")
    return ModelName(family.lower(), tag.lower() or None)
