"""The part of Go's text/template that Ollama's model templates use.

    {{- range .Messages }}<|im_start|>{{ .Role }}
    {{ .Content }}<|im_end|>
    {{ end }}<|im_start|>assistant

Supported: text, `{{ pipeline }}` output, `{{- ... -}}` trimming, comments, `if` / `else if` /
`else` / `end`, `range` (with `$i, $m :=`), `with`, variables (`$x := ...`, `$`, `$.Field`),
fields (`.System`, `.Prompt`, `.Response`, `.Messages`, `.Role`, `.Content`), tools (`.Tools`,
each `.Function` with `.Name`, `.Description`, `.Parameters`; a message's `.ToolCalls`, each
`.Function.Name` and `.Function.Arguments`; a tool message's `.ToolName`), string and number
literals, parentheses, and the functions `eq ne lt le gt ge and or not len slice index json`.
A tool, a call or its arguments print as JSON, as Ollama prints them; a range over an object
goes through its keys in order, as Go ranges over a map.
Anything else is a `TemplateError` when the template is parsed, never when it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmtui.engine.message import Message, RenderedPrompt, Tool, ToolCall


class TemplateError(Exception):
    """A template problem at character `offset` of the template."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


# -- expressions ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<open>\() | (?P<close>\)) | (?P<pipe>\|) | (?P<assign>:=) | (?P<comma>,)
    )""",
    re.VERBOSE,
)

Expr = Callable[["_Scope"], Any]


def _truth(value: Any) -> bool:
    return bool(value) if value is not None else False


def _compare(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def apply(a: Any, *others: Any) -> bool:
        return any(op(a, b) for b in others) if op is _eq else op(a, others[0])

    return apply


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _slice(value: Any, *bounds: int) -> Any:
    return value[bounds[0] : bounds[1]] if len(bounds) == 2 else value[bounds[0] :]


def _and(*values: Any) -> Any:
    for value in values:
        if not _truth(value):
            return value
    return values[-1]


def _or(*values: Any) -> Any:
    for value in values:
        if _truth(value):
            return value
    return values[-1]


FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "eq": (_compare(_eq), 2, 99),
    "ne": (_compare(lambda a, b: a != b), 2, 2),
    "lt": (_compare(lambda a, b: a < b), 2, 2),
    "le": (_compare(lambda a, b: a <= b), 2, 2),
    "gt": (_compare(lambda a, b: a > b), 2, 2),
    "ge": (_compare(lambda a, b: a >= b), 2, 2),
    "and": (_and, 1, 99),
    "or": (_or, 1, 99),
    "not": (lambda v: not _truth(v), 1, 1),
    "len": (len, 1, 1),
    "slice": (_slice, 2, 3),
    "index": (lambda v, i: v[i], 2, 2),
    "json": (lambda v: json.dumps(v, ensure_ascii=False), 1, 1),
}


@dataclass
class _Scope:
    dot: Any
    variables: dict[str, Any]

    def child(self, dot: Any) -> _Scope:
        return _Scope(dot, dict(self.variables))


def _get(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        # A tool is JSON ({"function": {"name": ...}}) read as Go reads Ollama's structs:
        # `.Function.Name`.
        lower = name[:1].lower() + name[1:]
        if lower in value:
            return value[lower]
    raise KeyError(name)


class _ExprParser:
    def __init__(self, text: str, offset: int) -> None:
        self.offset = offset
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise TemplateError(offset + pos, f"cannot read {text[pos:].strip()!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), offset + match.start(kind)))
            pos = match.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise TemplateError(self.offset, "expected more in this action")
        self.i += 1
        return token

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def pipeline(self) -> Expr:
        expr = self.command()
        if not self.done():
            kind, text, at = self.take()
            if kind == "pipe":
                raise TemplateError(at, "pipelines with | are not supported; call the function")
            raise TemplateError(at, f"unexpected {text!r}")
        return expr

    def command(self) -> Expr:
        kind, text, at = self.take()
        if kind == "ident":
            if text in ("true", "false"):
                truth = text == "true"
                return lambda s: truth
            if text == "nil":
                return lambda s: None
            if text not in FUNCTIONS:
                raise TemplateError(at, f"function {text!r} is not supported")
            function, low, high = FUNCTIONS[text]
            args: list[Expr] = []
            while (token := self.peek()) and token[0] not in ("close", "pipe"):
                args.append(self.operand())
            if not low <= len(args) <= high:
                raise TemplateError(at, f"{text} takes {low} to {high} arguments, not {len(args)}")
            return lambda s: function(*(a(s) for a in args))
        self.i -= 1
        return self.operand()

    def operand(self) -> Expr:
        kind, text, at = self.take()
        if kind == "string":
            value = bytes(text[1:-1], "utf-8").decode("unicode_escape")
            return lambda s: value
        if kind == "raw":
            return lambda s: text[1:-1]
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda s: number
        if kind == "open":
            inner = self.command()
            if self.take()[0] != "close":
                raise TemplateError(at, "missing ) after this (")
            return inner
        if kind == "field":
            names = [n for n in text.split(".") if n]
            return lambda s: _fields(s.dot, names, at)
        if kind == "var":
            head, *names = text.split(".")
            return lambda s: _fields(_variable(s, head, at), names, at)
        if kind == "ident":
            self.i -= 1
            return self.command()
        raise TemplateError(at, f"unexpected {text!r}")


def _variable(scope: _Scope, name: str, at: int) -> Any:
    if name not in scope.variables:
        raise TemplateError(at, f"undefined variable {name}")
    return scope.variables[name]


def _fields(value: Any, names: list[str], at: int) -> Any:
    for name in names:
        try:
            value = _get(value, name)
        except KeyError:
            raise TemplateError(at, f"there is no field .{name} here") from None
    return value


# -- the template tree ------------------------------------------------------------------


class _ResponseReached(Exception):
    """Rendering stops where the model's answer goes (the last turn of a legacy template)."""


@dataclass
class _Node:
    kind: str  # text, output, assign, if, range, with
    at: int = 0
    text: str = ""
    expr: Expr | None = None
    variables: tuple[str, ...] = ()
    branches: list[tuple[Expr | None, list[_Node]]] = field(default_factory=list)
    is_response: bool = False


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def _lex(source: str) -> list[tuple[str, str, int]]:
    """[(kind, text, offset)] with kind 'text' or 'action', trim markers applied."""
    items: list[tuple[str, str, int]] = []
    pos = 0
    for match in _ACTION.finditer(source):
        text = source[pos : match.start()]
        if match.group(1):
            text = text.rstrip()
        items.append(("text", text, pos))
        items.append(("action", match.group(2), match.start(2)))
        pos = match.end()
        if match.group(3):
            while pos < len(source) and source[pos].isspace():
                pos += 1
    if "{{" in source[pos:]:
        raise TemplateError(source.index("{{", pos), "unclosed action: no }} after this {{")
    items.append(("text", source[pos:], pos))
    return [item for item in items if item[0] == "action" or item[1]]


MAX_DEPTH = 50


class _TreeParser:
    def __init__(self, source: str) -> None:
        self.items = _lex(source)
        self.i = 0
        self.uses_messages = False
        self.uses_tools = False
        self.uses_suffix = False
        self.has_response = False
        self.depth = 0  # if/range/with blocks open around the parser

    def parse(self) -> list[_Node]:
        body, end = self.block(())
        if end is not None:
            raise TemplateError(end[1], f"{{{{ {end[0]} }}}} without an opening if, range or with")
        return body

    def block(self, closers: tuple[str, ...]) -> tuple[list[_Node], tuple[str, int] | None]:
        nodes: list[_Node] = []
        while self.i < len(self.items):
            kind, text, at = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(_Node("text", at, text=text))
                continue
            action = text.strip()
            at += len(text) - len(text.lstrip())  # errors point at the action's first word
            if action.startswith("/*"):
                continue
            word = action.split(maxsplit=1)[0] if action else ""
            if word in ("end", "else"):
                return nodes, (action, at)
            if word in ("if", "range", "with"):
                nodes.append(self.control(word, action[len(word) :], at))
            else:
                nodes.append(self.simple(action, at))
        return nodes, None  # the end of the template: the caller says what was left open

    def control(self, word: str, rest: str, at: int) -> _Node:
        # Parsing and rendering recurse once a level: a template nested hundreds deep
        # (never a real one) would end in Python's RecursionError instead of a sentence.
        if self.depth >= MAX_DEPTH:
            raise TemplateError(at, f"blocks nested more than {MAX_DEPTH} deep")
        self.depth += 1
        try:
            return self._control(word, rest, at)
        finally:
            self.depth -= 1

    def _control(self, word: str, rest: str, at: int) -> _Node:
        node = _Node(word, at)
        if word == "range" and ":=" in rest:
            names, _, rest = rest.partition(":=")
            node.variables = tuple(n.strip() for n in names.split(","))
            if not all(re.fullmatch(r"\$[A-Za-z0-9_]+", n) for n in node.variables):
                raise TemplateError(at, f"cannot read the range variables {names.strip()!r}")
        condition = self.expression(rest, at + len(word))
        while True:
            body, end = self.block((word,))
            node.branches.append((condition, body))
            if end is None:
                raise TemplateError(at, f"{{{{ {word} }}}} has no {{{{ end }}}}")
            closing, closing_at = end
            if closing == "end":
                return node
            if closing == "else":
                body, end = self.block((word,))
                node.branches.append((None, body))
                if end is None or end[0] != "end":
                    raise TemplateError(closing_at, "{{ else }} must be followed by {{ end }}")
                return node
            if closing.startswith("else if ") and word == "if":
                condition = self.expression(closing[len("else if") :], closing_at)
                continue
            raise TemplateError(closing_at, f"cannot read {{{{ {closing} }}}}")

    def simple(self, action: str, at: int) -> _Node:
        match = re.fullmatch(r"(\$[A-Za-z0-9_]+)\s*:?=\s*(.+)", action, re.DOTALL)
        if match:
            node = _Node("assign", at, variables=(match.group(1),))
            node.expr = self.expression(match.group(2), at + match.start(2))
            return node
        node = _Node("output", at, expr=self.expression(action, at))
        if action in (".Response", "$.Response"):
            node.is_response = True
            self.has_response = True
        return node

    def expression(self, text: str, at: int) -> Expr:
        if re.search(r"\.Messages\b", text):
            self.uses_messages = True
        if re.search(r"\.Tools\b", text):
            self.uses_tools = True
        if re.search(r"\.Suffix\b", text):
            self.uses_suffix = True
        parser = _ExprParser(text, at)
        if parser.done():
            raise TemplateError(at, "empty action")
        return parser.pipeline()


# -- executing ----------------------------------------------------------------------------


def _render(nodes: list[_Node], scope: _Scope, out: list[str], cut: bool) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "output":
            if cut and node.is_response:
                raise _ResponseReached
            assert node.expr is not None
            out.append(_show(node.expr(scope)))
        elif node.kind == "assign":
            assert node.expr is not None
            scope.variables[node.variables[0]] = node.expr(scope)
        elif node.kind == "if":
            for condition, body in node.branches:
                if condition is None or _truth(condition(scope)):
                    _render(body, scope, out, cut)
                    break
        elif node.kind == "with":
            value = node.branches[0][0](scope)  # type: ignore[misc]
            if _truth(value):
                _render(node.branches[0][1], scope.child(value), out, cut)
            elif len(node.branches) > 1:
                _render(node.branches[1][1], scope, out, cut)
        elif node.kind == "range":
            items = node.branches[0][0](scope)  # type: ignore[misc]
            if not items and len(node.branches) > 1:
                _render(node.branches[1][1], scope, out, cut)
            pairs = sorted(items.items()) if isinstance(items, dict) else enumerate(items or ())
            for index, item in pairs:
                inner = scope.child(item)
                if len(node.variables) == 2:
                    inner.variables[node.variables[0]] = index
                    inner.variables[node.variables[1]] = item
                elif node.variables:
                    inner.variables[node.variables[0]] = item
                _render(node.branches[0][1], inner, out, cut)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_SAMPLE_TOOL = Tool("sample", "", {"type": "object", "properties": {"x": {"type": "string"}},
                                    "required": ["x"]})  # fmt: skip


def _tool(tool: Tool) -> dict[str, Any]:
    """A tool as Ollama's structs hold it: parameters always with a type, `required` and
    `properties` (a template reads them whether the client sent them or not)."""
    value = tool.as_json()
    parameters = value["function"]["parameters"]  # the client's order kept, as it printed
    for key, empty in (("type", "object"), ("properties", {}), ("required", [])):
        parameters.setdefault(key, empty)
    return value


def _message(message: Message) -> dict[str, Any]:
    return {
        "Role": message.role, "Content": message.content, "ToolName": message.tool_name,
        "ToolCalls": [{"function": {"name": call.name, "arguments": dict(call.arguments)}}
                      for call in message.tool_calls],
    }  # fmt: skip


class GoTemplate:
    """A parsed template, ready to render a conversation as Ollama does."""

    def __init__(self, source: str) -> None:
        self.source = source
        parser = _TreeParser(source)
        self._nodes = parser.parse()
        self.uses_messages = parser.uses_messages
        self.supports_tools = parser.uses_tools
        # A template that places `.Suffix` can fill in the middle (/api/generate's suffix).
        self.supports_insert = parser.uses_suffix
        self._has_response = parser.has_response
        # Render once with sample values, so a field or variable that cannot exist fails now.
        sample = [Message("system", "s"), Message("user", "u"), Message("assistant", "a"),
                  Message("user", "u")]  # fmt: skip
        self.render(sample)
        if self.supports_tools:  # and with a tool, a call and its answer
            called = Message("assistant", "", (ToolCall("sample", {"x": "y"}),))
            self.render([*sample, called, Message("tool", "z", tool_name="sample")],
                        (_SAMPLE_TOOL,))  # fmt: skip

    def _execute(self, values: dict[str, Any], cut: bool) -> str:
        out: list[str] = []
        scope = _Scope(values, {"$": values})
        try:
            _render(self._nodes, scope, out, cut)
        except _ResponseReached:
            pass
        except TemplateError:
            raise
        except (TypeError, ValueError, IndexError, KeyError) as error:
            raise TemplateError(0, f"the template failed: {error}") from None
        return "".join(out)

    def render(self, messages: Sequence[Message], tools: Sequence[Tool] = ()) -> RenderedPrompt:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        offered = [_tool(tool) for tool in tools]
        if self.uses_messages:
            values = {
                "System": system,
                "Messages": [_message(m) for m in messages],
                "Prompt": "", "Response": "", "Suffix": "", "Tools": offered,
            }  # fmt: skip
            return RenderedPrompt(self._execute(values, cut=False), (), False)
        # A legacy template renders one turn at a time: System, Prompt and Response; the last
        # turn stops where the response would go.
        turns: list[tuple[str, str | None]] = []
        for message in messages:
            if message.role == "user":
                turns.append((message.content, None))
            elif message.role == "assistant":
                if turns and turns[-1][1] is None:
                    turns[-1] = (turns[-1][0], message.content)
                else:
                    turns.append(("", message.content))
        if not turns or turns[-1][1] is not None:
            turns.append(("", None))
        parts = []
        for number, (prompt, response) in enumerate(turns):
            values = {
                "System": system if number == 0 else "",
                "Prompt": prompt,
                "Response": response or "", "Suffix": "",
                "Messages": [], "Tools": offered,
            }  # fmt: skip
            parts.append(self._execute(values, cut=response is None and self._has_response))
        return RenderedPrompt("".join(parts), (), False)

    def insert(self, prompt: str, suffix: str, system: str = "") -> str:
        """The text that asks for what goes between `prompt` and `suffix` (a code model's
        fill-in-the-middle, as its template lays it out)."""
        values = {"System": system, "Prompt": prompt, "Suffix": suffix, "Response": "",
                  "Messages": [], "Tools": []}  # fmt: skip
        return self._execute(values, cut=self._has_response)
