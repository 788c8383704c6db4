"""Ollama's native API (docs/api.md): its request and response fields, NDJSON streaming,
`"stream": false`, and `{"error": "..."}` with the status Ollama gives."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from llmtui import __version__
from llmtui.engine import Done, Engine, Message, ToolCall
from llmtui.engine.request import RequestHandle
from llmtui.library import LibraryModel, list_models
from llmtui.library.describe import capabilities, count, modelfile_of, parameter_lines
from llmtui.modelfile import serialise
from llmtui.modelfile.gotemplate import GoTemplate, TemplateError
from llmtui.server import requests as check
from llmtui.server.requests import ApiError
from llmtui.server.stream import Admission, EventQueue, Reply

NDJSON = "application/x-ndjson"


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def details(model: LibraryModel) -> dict[str, Any]:
    info = model.info
    family = info.architecture if info is not None else ""
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family] if family else None,
        "parameter_size": count(info.parameters) if info is not None else "",
        "quantization_level": info.quantization if info is not None else "",
    }


def _unable(data: dict[str, Any], name: str) -> None:
    """What no model here can do, said as Ollama says it for a model that cannot."""
    if data.get("images"):
        raise ApiError(400, f"{name} has no vision: images need a vision model", "images")
    if data.get("think") not in (None, False):
        raise ApiError(400, f'"{name}" does not support thinking', "think")


def _template(given: Any) -> GoTemplate | None:
    """A request's own Go template (Ollama's `template`), checked as a Modelfile's is."""
    if given in (None, ""):
        return None
    if not isinstance(given, str):
        raise ApiError(400, "template must be a string", "template")
    try:
        return GoTemplate(given)
    except TemplateError as error:
        raise ApiError(400, f"template: {error.reason} (at character {error.offset})",
                       "template") from None  # fmt: skip


def _context(given: Any) -> tuple[int, ...]:
    """Ollama's `context`: the tokens an earlier /api/generate answer gave back."""
    if given is None:
        return ()
    if not isinstance(given, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in given
    ):
        raise ApiError(400, "context must be a list of token ids, as an earlier answer gave it",
                       "context")  # fmt: skip
    return tuple(given)


def _machine(reply: Reply) -> dict[str, Any]:
    """The model's state on this server (memory, context, threads), in an answer's last
    line under a key of llmtui's own, which Ollama's clients pass over: a workbench on this
    server (a remote, a web tab) shows it in its stats pane as a local model's."""
    if reply.live is None:
        return {}
    return {"llmtui": dataclasses.asdict(reply.live)}


def _statistics(done: Done) -> dict[str, Any]:
    return {
        "done_reason": "stop" if done.done_reason == "cancel" else done.done_reason,
        "total_duration": done.total_duration,
        "load_duration": done.load_duration,
        "prompt_eval_count": done.prompt_eval_count,
        "prompt_eval_duration": done.prompt_eval_duration,
        "eval_count": done.eval_count,
        "eval_duration": done.eval_duration,
    }


class OllamaApi:
    def __init__(self, engine: Engine, admission: Admission) -> None:
        self.engine, self.admission = engine, admission

    def routes(self) -> list[Route]:
        return [
            Route("/", self.root, methods=["GET", "HEAD"]),
            Route("/api/version", self.version, methods=["GET"]),
            Route("/api/tags", self.tags, methods=["GET"]),
            Route("/api/ps", self.ps, methods=["GET"]),
            Route("/api/show", self.show, methods=["POST"]),
            Route("/api/chat", self.chat, methods=["POST"]),
            Route("/api/generate", self.generate, methods=["POST"]),
            Route("/api/embed", self.embed, methods=["POST"]),
            Route("/api/embeddings", self.embeddings, methods=["POST"]),
        ]

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")  # what clients probe for

    async def version(self, request: Request) -> Response:
        # `server` tells llmtui's from Ollama's (`llmtui web` looks for one to share).
        return JSONResponse({"version": __version__, "server": "llmtui"})

    async def tags(self, request: Request) -> Response:
        models = await asyncio.to_thread(list_models)
        return JSONResponse({"models": [
            {"name": m.name, "model": m.name, "modified_at": iso(m.modified), "size": m.size,
             "digest": m.id, "details": details(m)}
            for m in models if not m.hidden
        ]})  # fmt: skip

    async def ps(self, request: Request) -> Response:
        loaded = self.engine.loaded()
        models = []
        for item in loaded:
            left = item.expires_at - time.monotonic() if item.expires_at is not None else None
            expires = time.time() + left if left is not None else None
            models.append({
                "name": item.name, "model": item.name, "size": item.size, "digest": "",
                "details": {"format": "gguf"}, "size_vram": 0,
                "context_length": item.context_size,
                "expires_at": iso(expires) if expires else None,
            })  # fmt: skip
        return JSONResponse({"models": models})

    async def show(self, request: Request) -> Response:
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "model", data.get("name")))
        request.state.model = model.name
        modelfile = await asyncio.to_thread(modelfile_of, model)
        abilities = await asyncio.to_thread(capabilities, model)
        info = model.info
        arch = info.architecture if info is not None else ""
        model_info = {} if info is None else {
            "general.architecture": arch,
            "general.parameter_count": info.parameters,
            f"{arch}.context_length": info.context_length,
            f"{arch}.embedding_length": info.embedding_length,
            f"{arch}.block_count": info.layers,
        }  # fmt: skip
        return JSONResponse({
            "modelfile": serialise(modelfile),
            "parameters": "\n".join(parameter_lines(modelfile.options().items())),
            "template": modelfile.template or "",
            "system": modelfile.system or "",
            "details": details(model),
            "model_info": model_info,
            "capabilities": abilities,
            "modified_at": iso(model.modified),
        })  # fmt: skip

    # -- generating -----------------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        _unable(data, model.name)
        messages = check.messages_of(data.get("messages", []))
        tools = check.tools_of(data.get("tools"))
        # Not Ollama's: OpenAI's tool_choice, which a small model needs to call reliably.
        choice = check.tool_choice_of(data.get("tool_choice"), tools)
        options = check.options_of(data.get("options"))
        keep_alive = check.keep_alive_of(data.get("keep_alive"))
        stream = check.flag(data, "stream", True)
        shape = check.ollama_format(data.get("format"))
        spec = await asyncio.to_thread(model.spec)
        if not messages:  # Ollama's way to load (or, with keep_alive 0, unload) a model
            return await self._load(request, model.name, spec, options, keep_alive, "message")
        grammar = shape.grammar if shape else None

        def start(events: EventQueue) -> RequestHandle:
            return self.engine.chat(spec, messages, options, keep_alive=keep_alive,
                                    on_event=events, grammar=grammar, tools=tools,
                                    tool_choice=choice)  # fmt: skip

        return await self._answer(request, model.name, start, stream, "message", shape)

    async def generate(self, request: Request) -> Response:
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        _unable(data, model.name)
        prompt = check.text(data, "prompt", "")
        system = data.get("system")
        if system is not None and not isinstance(system, str):
            raise ApiError(400, "system must be a string", "system")
        raw = check.flag(data, "raw", False)
        options = check.options_of(data.get("options"))
        keep_alive = check.keep_alive_of(data.get("keep_alive"))
        stream = check.flag(data, "stream", True)
        shape = check.ollama_format(data.get("format"))
        grammar = shape.grammar if shape else None
        template = _template(data.get("template"))
        context = _context(data.get("context"))
        suffix = data.get("suffix") or ""
        if not isinstance(suffix, str):
            raise ApiError(400, "suffix must be a string", "suffix")
        spec = await asyncio.to_thread(model.spec)
        if suffix:  # fill in the middle: the template lays prompt and suffix out
            inserting = template or spec.template
            if not isinstance(inserting, GoTemplate) or not inserting.supports_insert:
                raise ApiError(400, f'"{model.name}" does not support insert: its template does '
                                    "not place a .Suffix", "suffix")  # fmt: skip
            prompt, raw = inserting.insert(prompt, suffix, system or ""), True
        if not prompt:
            return await self._load(request, model.name, spec, options, keep_alive, "response")
        chat = not raw and bool(model.info is None or model.info.has_chat_template
                                or spec.template or template)  # fmt: skip

        def start(events: EventQueue) -> RequestHandle:
            if chat:  # through the model's template (or this one), as Ollama does unless `raw`
                messages = [Message("system", system)] if system is not None else []
                return self.engine.chat(spec, [*messages, Message("user", prompt)], options,
                                        keep_alive=keep_alive, on_event=events,
                                        grammar=grammar, template=template,
                                        context=context)  # fmt: skip
            return self.engine.generate(spec, prompt, options, keep_alive=keep_alive,
                                        on_event=events, grammar=grammar,
                                        context=context)  # fmt: skip

        return await self._answer(request, model.name, start, stream, "response", shape)

    async def embed(self, request: Request) -> Response:
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        texts = check.inputs_of(data.get("input"))
        done = await self._embedded(request, model, texts, data)
        return JSONResponse({
            "model": model.name, "embeddings": [list(v) for v in done.embeddings],
            "total_duration": done.total_duration, "load_duration": done.load_duration,
            "prompt_eval_count": done.prompt_eval_count,
        })  # fmt: skip

    async def embeddings(self, request: Request) -> Response:
        """The older endpoint: one `prompt`, one `embedding`."""
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "model"))
        request.state.model = model.name
        done = await self._embedded(request, model, [check.text(data, "prompt")], data)
        return JSONResponse({"embedding": list(done.embeddings[0])})

    async def _embedded(
        self, request: Request, model: LibraryModel, texts: list[str], data: dict[str, Any]
    ) -> Done:
        options = check.options_of(data.get("options"))
        keep_alive = check.keep_alive_of(data.get("keep_alive"))
        truncate = check.flag(data, "truncate", True)
        spec = await asyncio.to_thread(model.spec)

        def start(events: EventQueue) -> RequestHandle:
            return self.engine.embed(spec, texts, options, keep_alive=keep_alive,
                                     truncate=truncate, on_event=events)  # fmt: skip

        reply = await self.admission.begin(model.name, start)
        done = await reply.done()
        request.state.tokens = done.prompt_eval_count
        return done

    async def _load(
        self, request: Request, name: str, spec: Any, options: dict[str, Any],
        keep_alive: float, field: str,
    ) -> Response:  # fmt: skip
        if keep_alive == 0:
            await asyncio.to_thread(self._unload, name)
            reason = "unload"
        else:

            def start(events: EventQueue) -> RequestHandle:
                return self.engine.load(spec, options, keep_alive=keep_alive, on_event=events)

            await (await self.admission.begin(name, start)).done()
            reason = "load"
        return JSONResponse({"model": name, "created_at": now(), **_said(field, ""),
                             "done": True, "done_reason": reason})  # fmt: skip

    def _unload(self, name: str) -> None:
        if self.engine.unload(name):
            self.engine.wait_unloaded(name)

    async def _answer(
        self, request: Request, name: str, start: Callable[[EventQueue], RequestHandle],
        stream: bool, field: str, shape: check.Shape | None = None,
    ) -> Response:  # fmt: skip
        reply = await self.admission.begin(name, start)
        if not stream:
            done = await reply.done()
            request.state.tokens = done.eval_count
            if shape is not None:
                shape.check(done.text)
            said = _said(field, done.text, done.tool_calls)
            return JSONResponse({"model": name, "created_at": now(), **said, "done": True,
                                 **_statistics(done), **_context_of(done),
                                 **_machine(reply)})  # fmt: skip
        lines = self._lines(request, name, reply, field, shape)
        return StreamingResponse(lines, media_type=NDJSON)

    async def _lines(
        self, request: Request, name: str, reply: Reply, field: str, shape: check.Shape | None
    ) -> AsyncIterator[bytes]:
        try:
            async for event in reply.pieces():
                if isinstance(event, Done):
                    request.state.tokens = event.eval_count
                    if shape is not None:
                        shape.check(event.text)
                    if event.tool_calls:  # as Ollama streams them: a message of their own
                        yield _ndjson({"model": name, "created_at": now(), "done": False,
                                       **_said(field, "", event.tool_calls)})  # fmt: skip
                    line = {"model": name, "created_at": now(), **_said(field, ""),
                            "done": True, **_statistics(event), **_context_of(event),
                            **_machine(reply)}  # fmt: skip
                else:
                    line = {"model": name, "created_at": now(), **_said(field, event.text),
                            "done": False}  # fmt: skip
                yield _ndjson(line)
        except ApiError as error:
            yield _ndjson({"error": error.message})
        except Exception as error:
            yield _ndjson({"error": str(error)})


def _said(field: str, text: str, calls: tuple[ToolCall, ...] = ()) -> dict[str, Any]:
    """A piece of the reply as /api/chat (a message) or /api/generate (text) gives it."""
    if field == "message":
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = [
                {"function": {"index": number, "name": call.name,
                              "arguments": dict(call.arguments)}}
                for number, call in enumerate(calls)
            ]  # fmt: skip
        return {"message": message}
    return {"response": text}


def _context_of(done: Done) -> dict[str, Any]:
    """/api/generate's answers end with their tokens, to continue from (`context`)."""
    return {"context": list(done.context)} if done.context else {}


def _ndjson(line: dict[str, Any]) -> bytes:
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()
