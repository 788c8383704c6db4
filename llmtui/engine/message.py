"""A conversation's messages and what renders them: data types that need no llama.cpp."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: its name, what it does, and a JSON schema of its
    arguments (OpenAI's and Ollama's `tools[].function`)."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        """As chat templates and both APIs write a tool."""
        return {"type": "function", "function": {"name": self.name,
                "description": self.description, "parameters": dict(self.parameters)}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    # An assistant's calls; a tool message answers one, and names its function.
    tool_calls: tuple[ToolCall, ...] = ()
    tool_name: str = ""


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    stop: tuple[str, ...]
    # Whether the text already holds the model's special tokens (BOS), so none is added.
    has_special: bool


class PromptTemplate(Protocol):
    """Anything that renders a conversation into a prompt (a Modelfile's Go template...)."""

    # Whether the template shows the tools it is given (`.Tools`, Jinja's `tools`).
    supports_tools: bool

    def render(self, messages: Sequence[Message], tools: Sequence[Tool] = ()) -> RenderedPrompt: ...
