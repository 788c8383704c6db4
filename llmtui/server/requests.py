"""What a client sends, checked once for both APIs: a JSON object, a model that exists,
options the engine knows, messages that are messages, a keep_alive Ollama would take.
Every mistake is an `ApiError` with a status and one line naming the field."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from llmtui.engine import Message, OptionError, Tool, ToolCall, structured
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE
from llmtui.engine.options import coerce, parse_keep_alive
from llmtui.library import LibraryModel, UnknownModel, find, names

ROLES = ("system", "user", "assistant", "tool")


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.headers = headers or {}


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the body is not JSON: {error}") from None
    except RecursionError:  # [[[[... a hundred thousand deep: Python's parser gives up
        raise ApiError(400, "the body's JSON nests too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def text(data: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if value is None:
        raise ApiError(400, f"{name} is required", name)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string, not {type(value).__name__}", name)
    return value


def flag(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false", name)
    return value


async def model_named(name: str) -> LibraryModel:
    """The library's model (names are checked as in the CLI: `a/../..` is not a name).
    Off the event loop: finding it reads the library's folders."""
    if not name.strip():
        raise ApiError(400, "model is required", "model")
    try:
        names.parse(name)
    except names.InvalidName as error:
        raise ApiError(400, str(error), "model") from None
    try:
        model = await asyncio.to_thread(find, name)
    except UnknownModel as error:
        raise ApiError(404, str(error), "model") from None
    if model.remote:  # a server in front of another would hide whose figures are whose
        raise ApiError(404, f"{model.name} runs on the remote {model.remote}: this server "
                            "serves the models of this machine", "model")  # fmt: skip
    return model


def options_of(given: Any, param: str = "options") -> dict[str, Any]:
    """Ollama's `options`, each checked and coerced as a Modelfile's PARAMETER is."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise ApiError(400, f"{param} must be an object", param)
    options = {}
    for name, value in given.items():
        try:
            options[name] = coerce(name, value)
        except (OptionError, ValueError, TypeError) as error:
            raise ApiError(400, f"{param}.{name}: {error}", param) from None
    return options


def messages_of(given: Any) -> list[Message]:
    """Ollama's (and OpenAI's) `messages`: role and content; content may be OpenAI's list
    of parts, of which only text is understood here. An assistant's `tool_calls` (Ollama's
    arguments an object, OpenAI's a JSON string with an `id`), and a tool's answer naming
    its function (Ollama's `tool_name`) or the call it answers (OpenAI's `tool_call_id`)."""
    if not isinstance(given, list):
        raise ApiError(400, "messages must be a list", "messages")
    messages = []
    called: dict[str, str] = {}  # OpenAI's call ids, to the functions they called
    for number, item in enumerate(given):
        where = f"messages[{number}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"{where} must be an object", "messages")
        role = item.get("role")
        if role not in ROLES:
            raise ApiError(400, f"{where}.role must be one of {', '.join(ROLES)}", "messages")
        if item.get("images"):
            raise ApiError(400, f"{where}.images: llmtui's models here have no vision",
                           "messages")  # fmt: skip
        calls = _calls(item.get("tool_calls"), f"{where}.tool_calls", called)
        answers = item.get("tool_call_id")
        name = (item.get("tool_name") or item.get("name")
                or (called.get(answers, "") if isinstance(answers, str) else ""))  # fmt: skip
        if not isinstance(name, str):
            raise ApiError(400, f"{where}.tool_name must be a string", "messages")
        content = _content(item.get("content", ""), where)
        messages.append(Message(role, content, calls, name if role == "tool" else ""))
    return messages


def _calls(given: Any, where: str, called: dict[str, str]) -> tuple[ToolCall, ...]:
    if given is None:
        return ()
    if not isinstance(given, list):
        raise ApiError(400, f"{where} must be a list", "messages")
    calls = []
    for number, item in enumerate(given):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ApiError(400, f"{where}[{number}].function.name is required", "messages")
        arguments = function.get("arguments") or {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except (json.JSONDecodeError, RecursionError):
                arguments = None
        if not isinstance(arguments, dict):
            raise ApiError(400, f"{where}[{number}].function.arguments must be a JSON object",
                           "messages")  # fmt: skip
        if isinstance(item.get("id"), str):
            called[item["id"]] = function["name"]
        calls.append(ToolCall(function["name"], arguments))
    return tuple(calls)


def tools_of(given: Any) -> list[Tool]:
    """Both APIs' `tools`: functions, each a name, a description and a JSON schema of its
    parameters."""
    if given is None:
        return []
    if not isinstance(given, list):
        raise ApiError(400, "tools must be a list", "tools")
    tools = []
    for number, item in enumerate(given):
        where = f"tools[{number}]"
        if not isinstance(item, dict) or item.get("type", "function") != "function":
            raise ApiError(400, f'{where} must be {{"type": "function", "function": ...}}',
                           "tools")  # fmt: skip
        function = item.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ApiError(400, f"{where}.function.name is required", "tools")
        description = function.get("description") or ""
        parameters = function.get("parameters") or {}
        if not isinstance(description, str) or not isinstance(parameters, dict):
            raise ApiError(400, f"{where}.function: description is a string, parameters a "
                                "JSON schema", "tools")  # fmt: skip
        tools.append(Tool(function["name"], description, parameters))
    return tools


def tool_choice_of(given: Any, tools: list[Tool]) -> str:
    """OpenAI's `tool_choice`: "auto", "none", "required", or a function by name."""
    if given is None:
        return "auto"
    if given in ("auto", "none", "required"):
        choice = str(given)
    elif isinstance(given, dict) and isinstance(given.get("function"), dict):
        choice = given["function"].get("name")
        if not isinstance(choice, str) or choice not in {t.name for t in tools}:
            raise ApiError(400, f"tool_choice names {choice!r}, which is not among the tools",
                           "tool_choice")  # fmt: skip
    else:
        raise ApiError(400, 'tool_choice must be "auto", "none", "required" or {"type": '
                            '"function", "function": {"name": ...}}', "tool_choice")  # fmt: skip
    if choice != "auto" and choice != "none" and not tools:
        raise ApiError(400, "tool_choice asks for a call, but no tools were given", "tool_choice")
    return choice


def _content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(400, f"{where}.content: a {kind} part is not supported "
                                    "(text only)", "messages")  # fmt: skip
            parts.append(text(part, "text"))
        return "".join(parts)
    raise ApiError(400, f"{where}.content must be a string", "messages")


def keep_alive_of(given: Any) -> float:
    """Seconds, from Ollama's keep_alive (seconds, or "5m", "1h30m"; negative: for good;
    0: unload at once), parsed as `llmtui run --keepalive` parses it."""
    if given is None:
        return DEFAULT_KEEP_ALIVE
    if not isinstance(given, str | int | float) or isinstance(given, bool):
        raise ApiError(400, "keep_alive must be a number of seconds or a duration", "keep_alive")
    try:
        seconds = parse_keep_alive(given)
    except OptionError as error:
        raise ApiError(400, str(error), "keep_alive") from None
    return -1.0 if seconds < 0 else seconds


@dataclass(frozen=True)
class Shape:
    """What the answer must be: any JSON (schema None), or JSON that fits `schema`."""

    grammar: str
    schema: Any | None = None

    def check(self, text: str) -> None:
        """ApiError (500: the model's answer, not the request) if the answer does not fit."""
        try:
            structured.check(text, self.schema)
        except structured.SchemaError as error:
            raise ApiError(500, str(error)) from None


def _shape(schema: Any | None, param: str) -> Shape:
    try:
        if schema is None:
            return Shape(structured.json_grammar())
        return Shape(structured.schema_grammar(schema), schema)
    except structured.SchemaError as error:
        raise ApiError(400, f"{param}: {error}", param) from None


def ollama_format(given: Any) -> Shape | None:
    """Ollama's `format`: "json", or a JSON schema."""
    if given in (None, ""):
        return None
    if given == "json":
        return _shape(None, "format")
    if isinstance(given, dict):
        return _shape(given, "format")
    raise ApiError(400, 'format must be "json" or a JSON schema', "format")


def openai_format(given: Any) -> Shape | None:
    """OpenAI's `response_format`: text, json_object, or json_schema (strict or not: the
    grammar holds the answer to the schema either way)."""
    if given is None:
        return None
    kind = given.get("type") if isinstance(given, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return _shape(None, "response_format")
    if kind == "json_schema":
        described = given.get("json_schema")
        if not isinstance(described, dict) or not isinstance(described.get("schema"), dict):
            raise ApiError(400, "response_format.json_schema.schema must be a JSON schema",
                           "response_format")  # fmt: skip
        return _shape(described["schema"], "response_format")
    raise ApiError(400, "response_format.type must be text, json_object or json_schema",
                   "response_format")  # fmt: skip


def inputs_of(given: Any, param: str = "input") -> list[str]:
    """Texts to embed: one string or a list of them (token arrays are not taken)."""
    items = [given] if isinstance(given, str) else given
    if not isinstance(items, list) or not items:
        raise ApiError(400, f"{param} must be a string or a list of strings", param)
    for number, item in enumerate(items):
        if not isinstance(item, str):
            raise ApiError(400, f"{param}[{number}] must be a string (token arrays are not "
                                "supported)", param)  # fmt: skip
    return items
