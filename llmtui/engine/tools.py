"""Tools (function calling): where a model's calls begin in its text, reading them back as it
streams, and the grammar that makes it call one.

Ollama's way, which model templates assume: the tools go into the prompt through the chat
template (`.Tools` in a Go template, `tools` in a Jinja one), the model writes its calls as
the template shows past calls (Qwen's `<tool_call>{"name": ..., "arguments": ...}`,
Mistral's `[TOOL_CALLS] [...]`, Llama 3.1's bare JSON), and the calls are parsed out of its
text. Where a call begins is learned from the template itself: it renders a past call
once, and what stands before the call's JSON is the prefix to watch for.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from llmtui.engine import structured
from llmtui.engine.errors import EngineError
from llmtui.engine.message import Message, PromptTemplate, Tool, ToolCall


class ToolError(EngineError):
    """Tools asked of a model whose template cannot show them, or a call forced to a tool
    that was not offered: the request's mistake (a 400 from the server)."""


_PROBE = Tool("llmtui_probe", "", {"type": "object", "properties": {}})


def call_prefix(template: PromptTemplate) -> str:
    """What the template writes before a call's JSON ('' if nothing, or if it cannot be
    told): rendered once with a plain answer and once with a call, after what both share."""
    question = Message("user", "Hi")
    try:
        said = template.render([question, Message("assistant", "\x00")], (_PROBE,)).text
        called = template.render(
            [question, Message("assistant", "", (ToolCall(_PROBE.name, {}),))], (_PROBE,)
        ).text
    except Exception:  # a template that cannot show a past call: bare JSON is what is read
        return ""
    shared = next((i for i, (a, b) in enumerate(zip(said, called, strict=False)) if a != b),
                  min(len(said), len(called)))  # fmt: skip
    at = called.find(_PROBE.name, shared)
    start = called.rfind("{", shared, at) if at >= 0 else -1
    if start < 0:
        return ""
    # Mistral's '[TOOL_CALLS] [' opens a list of calls: the list is part of what is read.
    return called[shared:start].strip().removesuffix("[").strip()


class CallReader:
    """A reply read as it streams, when tools were offered. Text that cannot be a call goes
    out at once; from where one may begin (the prefix, or a reply that opens with `{` or
    `[`), the text is held, and at the end it is either calls or, after all, the answer."""

    def __init__(self, prefix: str, names: Collection[str], forced: bool = False) -> None:
        self.prefix, self.names = prefix, names
        self._held = ""
        self._calling = forced  # a call may have begun: hold the rest
        self._plain = False  # the reply began as prose: only the prefix can start a call

    def feed(self, text: str) -> str:
        """What of the text so far can be shown now."""
        self._held += text
        if self._calling:
            return ""
        if not self._plain:
            opening = self._held.lstrip()
            if not opening:
                return ""
            if opening[0] in "{[" or (self.prefix and opening.startswith(self.prefix)):
                self._calling = True
                return ""
            if self.prefix.startswith(opening):
                return ""  # the prefix, perhaps: wait for more
            self._plain = True
        if not self.prefix:
            out, self._held = self._held, ""
            return out
        at = self._held.find(self.prefix)
        if at >= 0:
            out, self._held = self._held[:at], self._held[at:]
            self._calling = True
            return out
        keep = _partial(self._held, self.prefix)
        cut = len(self._held) - keep
        out, self._held = self._held[:cut], self._held[cut:]
        return out

    def finish(self) -> tuple[str, tuple[ToolCall, ...]]:
        """The rest of the answer's text, and the calls (none: the held text was prose)."""
        held, self._held = self._held, ""
        if not self._calling:
            return held, ()
        calls = parse_calls(held, self.prefix, self.names)
        return ("", calls) if calls else (held, ())


def _partial(text: str, prefix: str) -> int:
    """How many of the text's last characters begin `prefix`."""
    for size in range(min(len(prefix) - 1, len(text)), 0, -1):
        if prefix.startswith(text[-size:]):
            return size
    return 0


def parse_calls(text: str, prefix: str, names: Collection[str]) -> tuple[ToolCall, ...]:
    """The calls in `text` (which begins where a call may): one JSON value after each
    prefix, or at the start; each a call, or a list of calls, naming an offered tool. Any
    value that is not a call means the text is not calls at all: ()."""
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    at = 0
    while True:
        rest = text[at:].lstrip()
        if prefix and rest.startswith(prefix):
            rest = rest[len(prefix) :].lstrip()
        elif calls and rest[:1] not in ("{", "["):
            # After a call: the next one behind its own prefix (past a closing tag such as
            # </tool_call>), or the end.
            at = text.find(prefix, at) if prefix else -1
            if at < 0:
                break
            continue
        try:
            value, used = decoder.raw_decode(rest)
        except (json.JSONDecodeError, RecursionError):
            return ()
        found = _calls_in(value, names)
        if not found:
            return ()
        calls += found
        at = len(text) - len(rest) + used
    return tuple(calls)


def _calls_in(value: Any, names: Collection[str]) -> list[ToolCall]:
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("function"), dict):
            item = item["function"]  # OpenAI's {"type": "function", "function": {...}}
        if not isinstance(item, dict) or item.get("name") not in names:
            return []
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):  # some models write the arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except (json.JSONDecodeError, RecursionError):
                return []
        if not isinstance(arguments, dict):
            return []
        calls.append(ToolCall(item["name"], arguments))
    return calls


def call_grammar(tools: Sequence[Tool], name: str | None = None) -> str:
    """A grammar under which the model's whole answer is one call, to `name` or to any of
    `tools`, its arguments fitting that tool's parameters: `tool_choice` "required" or a
    named function. (Bare JSON: `parse_calls` reads it with or without a prefix.)"""
    chosen = [tool for tool in tools if name is None or tool.name == name]
    if not chosen:
        offered = ", ".join(tool.name for tool in tools) or "none"
        raise ToolError(f"tool_choice names {name!r}, which is not among the tools ({offered})")
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": dict(tool.parameters) or {"type": "object"},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in chosen
    ]
    schema = variants[0] if len(variants) == 1 else {"anyOf": variants}
    try:
        return structured.schema_grammar(schema)
    except structured.SchemaError as error:
        raise ToolError(f"the tools' parameters: {error}") from None
