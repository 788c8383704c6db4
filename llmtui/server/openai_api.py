"""OpenAI's API, the part local servers implement: chat completions, completions, models.
Its error object; parameters mapped to the engine's options; a parameter llmtui does not
do is a 400 naming it, never ignored."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from llmtui.engine import Done, Engine
from llmtui.engine.request import RequestHandle
from llmtui.library import list_models
from llmtui.server import requests as check
from llmtui.server.requests import ApiError
from llmtui.server.stream import Admission, EventQueue, Reply

# The request fields each endpoint takes; any other is refused by name.
COMMON = {"model", "stream", "stream_options", "max_tokens", "temperature", "top_p", "stop",
          "seed", "presence_penalty", "frequency_penalty", "n", "user"}  # fmt: skip
CHAT = COMMON | {"messages", "max_completion_tokens", "response_format", "tools", "tool_choice",
                 "parallel_tool_calls"}  # fmt: skip
COMPLETION = COMMON | {"prompt"}
# Engine options from OpenAI's names.
OPTIONS = {"max_tokens": "num_predict", "max_completion_tokens": "num_predict",
           "temperature": "temperature", "top_p": "top_p", "stop": "stop", "seed": "seed",
           "presence_penalty": "presence_penalty",
           "frequency_penalty": "frequency_penalty"}  # fmt: skip


def error_response(error: ApiError) -> JSONResponse:
    kind = "not_found_error" if error.status == 404 else "invalid_request_error"
    code = "model_not_found" if error.status == 404 and error.param == "model" else None
    return JSONResponse(
        {"error": {"message": error.message, "type": kind, "param": error.param, "code": code}},
        status_code=error.status,
        headers=error.headers,
    )


def _finish(done: Done) -> str:
    if done.tool_calls:
        return "tool_calls"
    return "length" if done.done_reason == "length" else "stop"


def _tool_calls(done: Done, streamed: bool = False) -> list[dict[str, Any]]:
    """OpenAI's calls: each with an id of its own, the arguments as a JSON string (and,
    in a stream, its index)."""
    return [
        {**({"index": number} if streamed else {}), "id": f"call_{uuid.uuid4().hex[:24]}",
         "type": "function",
         "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))}}
        for number, call in enumerate(done.tool_calls)
    ]  # fmt: skip


def _usage(done: Done) -> dict[str, int]:
    # The whole prompt: the engine evaluates only what its cache does not already hold.
    prompt = max(done.prompt_eval_count, done.context_used - done.eval_count)
    return {"prompt_tokens": prompt, "completion_tokens": done.eval_count,
            "total_tokens": prompt + done.eval_count}  # fmt: skip


def _options(data: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, f"unsupported parameter(s): {', '.join(unknown)}", unknown[0])
    if data.get("n", 1) != 1:
        raise ApiError(400, "n: only one choice per request is supported", "n")
    options = {OPTIONS[name]: data[name] for name in OPTIONS if data.get(name) is not None}
    return check.options_of(options, "parameters")


def _include_usage(data: Mapping[str, Any]) -> bool:
    given = data.get("stream_options")
    if given is None:
        return False
    if not isinstance(given, dict) or set(given) - {"include_usage"}:
        raise ApiError(400, "stream_options takes include_usage only", "stream_options")
    return bool(given.get("include_usage", False))


class OpenAIApi:
    def __init__(self, engine: Engine, admission: Admission) -> None:
        self.engine, self.admission = engine, admission

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{name:path}", self.model, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ]

    async def models(self, request: Request) -> Response:
        models = await asyncio.to_thread(list_models)
        return JSONResponse({"object": "list", "data": [
            {"id": m.name, "object": "model", "created": int(m.modified), "owned_by": "library"}
            for m in models if not m.hidden
        ]})  # fmt: skip

    async def model(self, request: Request) -> Response:
        model = await check.model_named(request.path_params["name"])
        return JSONResponse({"id": model.name, "object": "model",
                             "created": int(model.modified), "owned_by": "library"})  # fmt: skip

    async def chat(self, request: Request) -> Response:
        data = await check.body_of(request)
        options = _options(data, CHAT)
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        messages = check.messages_of(data.get("messages"))
        if not messages:
            raise ApiError(400, "messages must not be empty", "messages")
        stream = check.flag(data, "stream", False)
        usage = _include_usage(data)
        shape = check.openai_format(data.get("response_format"))
        grammar = shape.grammar if shape else None
        tools = check.tools_of(data.get("tools"))
        choice = check.tool_choice_of(data.get("tool_choice"), tools)
        check.flag(data, "parallel_tool_calls", True)  # several calls are read either way
        spec = await asyncio.to_thread(model.spec)

        def start(events: EventQueue) -> RequestHandle:
            return self.engine.chat(spec, messages, options, on_event=events, grammar=grammar,
                                    tools=tools, tool_choice=choice)  # fmt: skip

        return await self._answer(request, model.name, start, stream, usage, True, shape)

    async def completions(self, request: Request) -> Response:
        data = await check.body_of(request)
        options = _options(data, COMPLETION)
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        prompt = check.text(data, "prompt")
        stream = check.flag(data, "stream", False)
        usage = _include_usage(data)
        spec = await asyncio.to_thread(model.spec)

        def start(events: EventQueue) -> RequestHandle:
            return self.engine.generate(spec, prompt, options, on_event=events)

        return await self._answer(request, model.name, start, stream, usage, False)

    async def embeddings(self, request: Request) -> Response:
        data = await check.body_of(request)
        unknown = sorted(set(data) - {"model", "input", "encoding_format", "user"})
        if unknown:
            raise ApiError(400, f"unsupported parameter(s): {', '.join(unknown)}", unknown[0])
        encoding = data.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise ApiError(400, "encoding_format must be float or base64", "encoding_format")
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        texts = check.inputs_of(data.get("input"))
        spec = await asyncio.to_thread(model.spec)
        reply = await self.admission.begin(
            model.name, lambda events: self.engine.embed(spec, texts, on_event=events)
        )
        done = await reply.done()
        request.state.tokens = done.prompt_eval_count
        return JSONResponse({
            "object": "list", "model": model.name,
            "data": [{"object": "embedding", "index": number,
                      "embedding": _base64(vector) if encoding == "base64" else list(vector)}
                     for number, vector in enumerate(done.embeddings)],
            "usage": {"prompt_tokens": done.prompt_eval_count,
                      "total_tokens": done.prompt_eval_count},
        })  # fmt: skip

    async def _answer(
        self, request: Request, name: str, start: Callable[[EventQueue], RequestHandle],
        stream: bool, usage: bool, chat: bool, shape: check.Shape | None = None,
    ) -> Response:  # fmt: skip
        reply = await self.admission.begin(name, start)
        ident = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if stream:
            chunks = self._chunks(request, reply, ident, created, name, usage, chat, shape)
            return StreamingResponse(chunks, media_type="text/event-stream")
        done = await reply.done()
        request.state.tokens = done.eval_count
        if shape is not None:
            shape.check(done.text)
        choice: dict[str, Any] = {"index": 0, "finish_reason": _finish(done)}
        if chat:
            choice["message"] = {"role": "assistant", "content": done.text}
            if done.tool_calls:
                choice["message"] |= {"content": done.text or None,
                                      "tool_calls": _tool_calls(done)}  # fmt: skip
        else:
            choice |= {"text": done.text, "logprobs": None}
        return JSONResponse({
            "id": ident, "object": "chat.completion" if chat else "text_completion",
            "created": created, "model": name, "system_fingerprint": "llmtui",
            "choices": [choice], "usage": _usage(done),
        })  # fmt: skip

    async def _chunks(
        self, request: Request, reply: Reply, ident: str, created: int, name: str,
        usage: bool, chat: bool, shape: check.Shape | None,
    ) -> AsyncIterator[bytes]:  # fmt: skip
        kind = "chat.completion.chunk" if chat else "text_completion"

        def chunk(choices: list[dict[str, Any]], **more: Any) -> bytes:
            body = {"id": ident, "object": kind, "created": created, "model": name,
                    "system_fingerprint": "llmtui", "choices": choices, **more}  # fmt: skip
            return _event(body)

        def choice(text: str | None, finish: str | None, role: bool = False) -> dict[str, Any]:
            if not chat:
                return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
            delta: dict[str, Any] = {"role": "assistant"} if role else {}
            if text is not None:
                delta["content"] = text
            return {"index": 0, "delta": delta, "finish_reason": finish}

        try:
            if chat:
                yield chunk([choice("", None, role=True)])
            async for event in reply.pieces():
                if isinstance(event, Done):
                    request.state.tokens = event.eval_count
                    if shape is not None:
                        shape.check(event.text)
                    if event.tool_calls:
                        calls = {"tool_calls": _tool_calls(event, streamed=True)}
                        yield chunk([{"index": 0, "delta": calls, "finish_reason": None}])
                    yield chunk([choice(None, _finish(event))])
                    if usage:
                        yield chunk([], usage=_usage(event))
                elif event.text:
                    yield chunk([choice(event.text, None)])
        except Exception as error:
            yield _event({"error": {"message": str(error), "type": "server_error",
                                    "param": None, "code": None}})  # fmt: skip
        yield b"data: [DONE]\n\n"


def _base64(vector: tuple[float, ...]) -> str:
    """As OpenAI sends it (and its SDK asks by default): little-endian float32s."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _event(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()
