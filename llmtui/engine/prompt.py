"""Turning a conversation into the text a model is sent."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import jinja2
import jinja2.ext
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from llmtui.engine.message import Message, RenderedPrompt, Tool


class TemplateTooCostly(ValueError):
    """A chat template that loops or recurses past what any real one needs."""


# What one render of a Jinja chat template may take. A real one loops over the messages and
# takes milliseconds; a template that nests range(100000) loops would take minutes, one
# that recurses would end in Python's RecursionError.
RENDER_SECONDS = 2.0
RANGE_ITEMS = 1_000_000  # items all the template's range() calls may yield, together
SEQUENCE_ITEMS = 10_000_000  # the longest string or list '*' may make


class _Budget:
    def __init__(self) -> None:
        self.deadline = 0.0
        self.items = 0

    def start(self) -> None:
        self.deadline = time.monotonic() + RENDER_SECONDS
        self.items = RANGE_ITEMS

    def spend(self, count: int) -> None:
        self.items -= count
        if self.items < 0:
            raise TemplateTooCostly(f"the template loops more than {RANGE_ITEMS:,} times")
        if time.monotonic() > self.deadline:
            raise TemplateTooCostly(f"the template took more than {RENDER_SECONDS:g} s")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's sandbox, with range() counted and '*' kept to sane sizes."""

    intercepted_binops = frozenset(["*", "**"])

    def __init__(self, budget: _Budget, **options: Any) -> None:
        super().__init__(**options)
        self.budget = budget
        self.globals["range"] = self._range

    def _range(self, *args: int) -> Iterator[int]:
        numbers = range(*args)
        budget = self.budget
        budget.spend(0)  # a template that calls range() in a loop runs out of time here
        for start in range(0, len(numbers), 1000):
            chunk = numbers[start : start + 1000]
            budget.spend(len(chunk))
            yield from chunk

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise TemplateTooCostly("the template raises a number to a power over 100")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > SEQUENCE_ITEMS
                ):
                    raise TemplateTooCostly("the template repeats a string or list too often")
        return super().call_binop(context, operator, left, right)


class BoundedJinjaFormatter(Jinja2ChatFormatter):
    """llama-cpp-python's chat template formatter, each render bounded in time and loops."""

    def __init__(self, template: str, eos_token: str, bos_token: str) -> None:
        # Not the parent's __init__: it compiles the template in an unbounded sandbox, whose
        # constant folding would evaluate `"x" * 10**9` there and then. These are the
        # attributes it sets; the rest is its own code.
        self.template, self.eos_token, self.bos_token = template, eos_token, bos_token
        self.add_generation_prompt = True
        self.stop_token_ids = None
        self._budget = _Budget()
        environment = _BoundedEnvironment(
            self._budget,
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, jinja2.ext.loopcontrols],
        )
        environment.filters["tojson"] = self.tojson
        self._environment = environment.from_string(template)
        self.variables = jinja2.meta.find_undeclared_variables(environment.parse(template))

    def __call__(self, **kwargs: Any) -> Any:
        self._budget.start()
        try:
            return super().__call__(**kwargs)
        except RecursionError:
            raise TemplateTooCostly("the template recurses too deeply") from None


def jinja_shows_tools(template: str) -> bool:
    """Whether a Jinja chat template reads `tools` (without rendering it)."""
    environment = jinja2.Environment(
        extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, jinja2.ext.loopcontrols]
    )
    try:
        return "tools" in jinja2.meta.find_undeclared_variables(environment.parse(template))
    except jinja2.TemplateError:
        return False


class TemplatePrompt:
    """A Hugging Face (Jinja) chat template, as stored in a GGUF's `tokenizer.chat_template`."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        self._formatter = BoundedJinjaFormatter(template, eos_token=eos_token, bos_token=bos_token)
        self.supports_tools = "tools" in self._formatter.variables

    def render(self, messages: Sequence[Message], tools: Sequence[Tool] = ()) -> RenderedPrompt:
        plain: list[Any] = [_plain(m) for m in messages]
        result = self._formatter(messages=plain, tools=[t.as_json() for t in tools] or None)
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return RenderedPrompt(result.prompt, tuple(stop), bool(result.added_special))


def _plain(message: Message) -> dict[str, Any]:
    """A message as Hugging Face templates read it: calls under `tool_calls`, arguments as
    an object; a tool's answer with its function's `name`."""
    plain: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        plain["tool_calls"] = [
            {"type": "function", "function": {"name": c.name, "arguments": dict(c.arguments)}}
            for c in message.tool_calls
        ]
    if message.tool_name:
        plain["name"] = message.tool_name
    return plain


class TranscriptPrompt:
    """For completion models, which have no chat template: the conversation as a plain
    transcript that the model continues after 'Assistant:'. Guessing a chat template instead
    (llama-cpp-python falls back to llama-2's) makes such models answer with nothing."""

    USER, ASSISTANT = "User:", "Assistant:"
    SPEAKERS: ClassVar[dict[str, str]] = {"user": USER, "assistant": ASSISTANT, "tool": "Tool:"}
    supports_tools = False

    def render(self, messages: Sequence[Message], tools: Sequence[Tool] = ()) -> RenderedPrompt:
        lines: list[str] = []
        for message in messages:
            if message.role == "system":
                lines.append(message.content.strip() + "\n")
            else:
                lines.append(f"{self.SPEAKERS[message.role]} {message.content.strip()}")
        lines.append(self.ASSISTANT)
        return RenderedPrompt("\n".join(lines), (f"\n{self.USER}",), False)
