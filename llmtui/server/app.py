"""`llmtui serve`'s ASGI app: Ollama's API and OpenAI's on one engine, behind a guard.

Starlette (routing, requests, streaming responses, CORS) run by uvicorn: a small, well-kept
pair, the same FastAPI stands on, without a validation layer that would answer bad
requests in FastAPI's shape instead of Ollama's or OpenAI's.
"""

from __future__ import annotations

import hmac
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmtui.engine import ContextOverflow, Engine, EngineError, OptionError
from llmtui.engine.options import AUTO_PARALLEL
from llmtui.engine.tools import ToolError
from llmtui.server.models_api import ModelsApi
from llmtui.server.ollama_api import OllamaApi
from llmtui.server.openai_api import OpenAIApi, error_response
from llmtui.server.openapi import document
from llmtui.server.requests import ApiError
from llmtui.server.stream import Admission

DEFAULT_QUEUE = 64  # requests waiting per model, beyond the one it answers
MAX_BODY = 16 * 1024 * 1024  # bytes: a long conversation fits; a runaway upload does not
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
# Browsers' pages may call the API only from these origins (Ollama's defaults: local pages).
LOCAL_ORIGINS = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$"


def _api_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, ApiError):
        error = _as_api_error(error)
    assert isinstance(error, ApiError)
    if request.url.path.startswith("/v1/"):
        return error_response(error)
    return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)


def _as_api_error(error: Exception) -> ApiError:
    if isinstance(error, HTTPException):  # its headers too: a 405's Allow names the methods
        return ApiError(error.status_code, str(error.detail), headers=dict(error.headers or {}))
    if isinstance(error, OptionError | ContextOverflow):
        return ApiError(400, str(error))
    if isinstance(error, ToolError):
        return ApiError(400, str(error), "tools")
    return ApiError(500, str(error))


class Guard:
    """Before any route: the Host header (a page on another site reaching a loopback
    server by DNS rebinding names its own host), the token, the body's size; after: one
    log line per request."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, loopback: bool, max_body: int = MAX_BODY,
        log: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self.app, self.token, self.loopback, self.max_body = app, token, loopback, max_body
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope["headers"]}  # fmt: skip
        status = [0]
        state = scope.setdefault("state", {})

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self._log(scope, state, status[0], started)

        refused = self._refused(headers)
        if refused is not None:
            code, text = refused
            response = JSONResponse({"error": text}, status_code=code)
            await response(scope, receive, sending)
            return
        received = [0]

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body:
                    raise ApiError(413, f"the body is over {self.max_body:,} bytes")
            return message

        await self.app(scope, receiving, sending)

    def _refused(self, headers: dict[str, str]) -> tuple[int, str] | None:
        if self.loopback:
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in LOOPBACK_NAMES:
                return 403, f"host {host!r} is not this server's (it listens on loopback)"
        if self.token is not None:
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return 401, "unauthorized: send Authorization: Bearer TOKEN"
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_body:
            return 413, f"the body is over {self.max_body:,} bytes"
        return None

    def _log(self, scope: Scope, state: dict[str, Any], status: int, started: float) -> None:
        took = (time.perf_counter() - started) * 1000
        model, tokens = state.get("model", "-"), state.get("tokens")
        said = f" {tokens} tokens" if tokens is not None else ""
        self.log(f"{time.strftime('%H:%M:%S')} {scope['method']} {scope['path']} {model} "
                 f"{status}{said} {took:.0f} ms")  # fmt: skip


def build_app(
    engine: Engine, *, token: str | None = None, loopback: bool = True,
    origins: list[str] | None = None, log: Callable[[str], None] | None = None,
    own_engine: bool = True, queue: int = DEFAULT_QUEUE,
) -> Starlette:  # fmt: skip
    """The app on `engine` (closed when the app shuts down, if it is the app's own)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if own_engine:
            engine.close()

    # Auto (0) answers up to AUTO_PARALLEL at once where memory allows, else one.
    admission = Admission(queue, engine.parallel or AUTO_PARALLEL)
    described = document()

    async def openapi(request: Request) -> Response:
        return JSONResponse(described)

    routes = [*OllamaApi(engine, admission).routes(), *ModelsApi(loopback).routes(),
              *OpenAIApi(engine, admission).routes(),
              Route("/openapi.json", openapi, methods=["GET"])]  # fmt: skip
    cors = Middleware(CORSMiddleware, allow_origins=origins or [],
                      allow_origin_regex=LOCAL_ORIGINS, allow_methods=["*"],
                      allow_headers=["*"])  # fmt: skip
    middleware = [cors, Middleware(Guard, token=token, loopback=loopback, log=log)]
    handlers: dict[Any, Any] = {ApiError: _api_error, EngineError: _api_error,
                                HTTPException: _api_error}  # fmt: skip
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers,
                     lifespan=lifespan)  # fmt: skip
