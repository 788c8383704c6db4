"""Turning a conversation into the text a model is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

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


class TemplatePrompt:
    """A Hugging Face (Jinja) chat template, as stored in a GGUF's `tokenizer.chat_template`."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos_token, bos_token=bos_token
        )

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        plain: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        result = self._formatter(messages=plain)
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return RenderedPrompt(result.prompt, tuple(stop), bool(result.added_special))


class TranscriptPrompt:
    """For completion models, which have no chat template: the conversation as a plain
    transcript that the model continues after 'Assistant:'. Guessing a chat template instead
    (llama-cpp-python falls back to llama-2's) makes such models answer with nothing."""

    USER, ASSISTANT = "User:", "Assistant:"

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        lines: list[str] = []
        for message in messages:
            if message.role == "system":
                lines.append(message.content.strip() + "\n")
            else:
                speaker = self.USER if message.role == "user" else self.ASSISTANT
                lines.append(f"{speaker} {message.content.strip()}")
        lines.append(self.ASSISTANT)
        return RenderedPrompt("\n".join(lines), (f"\n{self.USER}",), False)
