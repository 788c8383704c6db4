"""Ollama's model management: create, copy, delete, pull — the library's own operations,
as `llmtui create`, `cp`, `rm` and `pull` do them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from tqdm import tqdm

from llmtui.library import hfcache, list_models
from llmtui.library.create import create, looks_like_path
from llmtui.library.hub import HubError, pull
from llmtui.library.manage import ManageError, copy_model, remove_model
from llmtui.modelfile import Modelfile, ModelfileError, parse
from llmtui.server import requests as check
from llmtui.server.requests import ApiError

NDJSON = "application/x-ndjson"


def _status_lines(lines: list[dict[str, Any]], stream: bool) -> Response:
    if not stream:
        return JSONResponse(lines[-1])
    body = "".join(json.dumps(line) + "\n" for line in lines)
    return Response(body, media_type=NDJSON)


class ModelsApi:
    def __init__(self, loopback: bool, base_dir: Path | None = None) -> None:
        # Beyond loopback, a client must not make the server read its files (FROM /etc/...).
        self.loopback = loopback
        self.base_dir = base_dir or Path.cwd()

    def routes(self) -> list[Route]:
        return [
            Route("/api/create", self.create, methods=["POST"]),
            Route("/api/copy", self.copy, methods=["POST"]),
            Route("/api/delete", self.delete, methods=["DELETE"]),
            Route("/api/pull", self.pull, methods=["POST"]),
        ]

    async def create(self, request: Request) -> Response:
        data = await check.body_of(request)
        name = check.text(data, "model", data.get("name"))
        request.state.model = name
        for field in ("files", "adapters", "quantize"):
            if data.get(field):
                raise ApiError(400, f"{field} is not supported: FROM a model in the library, "
                                    "or (on loopback) a GGUF path", field)  # fmt: skip
        modelfile = self._modelfile(data)
        named = [modelfile.from_, *([modelfile.adapter] if modelfile.adapter else [])]
        if not self.loopback and any(looks_like_path(value) for value in named):
            raise ApiError(403, "a Modelfile may name a file only while the server listens on "
                                "loopback: FROM a model in the library", "modelfile")  # fmt: skip
        try:
            manifest = await asyncio.to_thread(create, name, modelfile, self.base_dir)
        except ModelfileError as error:
            raise ApiError(400, error.located("modelfile"), "modelfile") from None
        except ValueError as error:
            raise ApiError(400, str(error), "model") from None
        request.state.model = manifest.name
        lines = [{"status": "parsing modelfile"}, {"status": f"creating {manifest.name}"},
                 {"status": "success"}]  # fmt: skip
        return _status_lines(lines, check.flag(data, "stream", True))

    def _modelfile(self, data: dict[str, Any]) -> Modelfile:
        """Ollama's older `modelfile` text, or its newer fields."""
        if data.get("modelfile") is not None:
            try:
                return parse(check.text(data, "modelfile"))
            except ModelfileError as error:
                raise ApiError(400, error.located("modelfile"), "modelfile") from None
        license_ = data.get("license") or ()
        licenses = (license_,) if isinstance(license_, str) else license_
        if not isinstance(licenses, list | tuple) or not all(isinstance(t, str) for t in licenses):
            raise ApiError(400, "license must be a string or a list of strings", "license")
        messages = check.messages_of(data.get("messages") or [])
        if any(m.role == "tool" for m in messages):
            raise ApiError(400, "messages: a model's messages are system, user or assistant",
                           "messages")  # fmt: skip
        system, template = data.get("system"), data.get("template")
        for field, value in (("system", system), ("template", template)):
            if value is not None and not isinstance(value, str):
                raise ApiError(400, f"{field} must be a string", field)
        return Modelfile(
            from_=check.text(data, "from"),
            parameters=Modelfile.parameters_from(check.options_of(data.get("parameters"),
                                                                  "parameters")),
            system=system, template=template, license=tuple(licenses),
            messages=tuple((m.role, m.content) for m in messages if m.role != "tool"),
        )  # fmt: skip

    async def copy(self, request: Request) -> Response:
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "source"))
        request.state.model = model.name
        try:
            await asyncio.to_thread(copy_model, model, check.text(data, "destination"))
        except (ManageError, ValueError) as error:
            raise ApiError(400, str(error), "destination") from None
        return Response(status_code=200)

    async def delete(self, request: Request) -> Response:
        data = await check.body_of(request)
        model = await check.model_named(check.text(data, "model", data.get("name")))
        request.state.model = model.name
        try:
            await asyncio.to_thread(remove_model, model)
        except ManageError as error:
            raise ApiError(400, str(error), "model") from None
        return Response(status_code=200)

    async def pull(self, request: Request) -> Response:
        data = await check.body_of(request)
        reference = check.text(data, "model", data.get("name"))
        request.state.model = reference
        if not hfcache.is_reference(reference):
            raise ApiError(400, f"{reference!r}: llmtui pulls GGUF models from Hugging Face: "
                                "hf.co/OWNER/REPO[:QUANT]", "model")  # fmt: skip
        stream = check.flag(data, "stream", True)
        progress = _Progress()
        job = asyncio.get_running_loop().run_in_executor(None, self._pull, reference, progress)
        if stream:
            return StreamingResponse(progress.lines(), media_type=NDJSON)
        problem = await job
        if problem is not None:
            raise ApiError(400, problem, "model")
        return JSONResponse({"status": "success"})

    def _pull(self, reference: str, progress: _Progress) -> str | None:
        """On a thread of its own: the download, and its end (None, or what went wrong)."""
        problem = None
        try:
            pull(reference, progress=progress.tqdm_class(), cancel=progress.cancel)
            list_models()  # listed from now on (and its metadata read once, here)
        except HubError as error:
            problem = str(error)
        progress.report({"error": problem} if problem else {"status": "success"})
        progress.report(None)
        return problem


class _Progress:
    """tqdm's reports from the download thread, as Ollama's pull statuses."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.cancel = threading.Event()

    def tqdm_class(self) -> type[Any]:
        report = self.report

        class Reporting(tqdm):  # type: ignore[type-arg]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["disable"] = False
                kwargs["file"] = _Nowhere()
                super().__init__(*args, **kwargs)

            def update(self, n: float | None = 1) -> bool | None:
                shown = super().update(n)
                report({"status": f"pulling {self.desc or 'model'}", "total": int(self.total or 0),
                        "completed": int(self.n)})  # fmt: skip
                return shown

        return Reporting

    def report(self, line: dict[str, Any] | None) -> None:
        """From the download's thread; None: the last."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, line)

    async def lines(self) -> AsyncIterator[bytes]:
        try:
            while (line := await self.queue.get()) is not None:
                yield (json.dumps(line) + "\n").encode()
        finally:
            self.cancel.set()  # the client went away: the download stops (pulling resumes)


class _Nowhere:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass
