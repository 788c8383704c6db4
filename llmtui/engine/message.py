"""A conversation's messages and what renders them: data types that need no llama.cpp."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    stop: tuple[str, ...]
    # Whether the text already holds the model's special tokens (BOS), so none is added.
    has_special: bool


class PromptTemplate(Protocol):
    """Anything that renders a conversation into a prompt (a Modelfile's Go template...)."""

    def render(self, messages: Sequence[Message]) -> RenderedPrompt: ...
