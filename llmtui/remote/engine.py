"""Chats on models other servers run, behind the engine interface (chat/backend.py).

Each request streams on a thread of its own and reports the events the llama.cpp engine
does: text as it arrives, a `Notice` for what the server's API cannot take, then `Done` —
with the server's own counts and durations where it gives them (Ollama's `eval_count` and
`eval_duration`), else OpenAI's `usage` with durations measured here; `Done.figures` says
which. Cancelling closes the request, and so the server stops. A stream cut halfway fails
the request; what arrived has been reported already and stays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from llmtui.engine.events import Chunk, Done, LiveStats, Notice, Perf
from llmtui.engine.loaded import DEFAULT_KEEP_ALIVE, LoadedModel
from llmtui.engine.message import Message
from llmtui.engine.options import DEFAULTS, Options
from llmtui.engine.request import Job, RequestHandle
from llmtui.engine.spec import ModelSpec, ServedModel
from llmtui.remote.client import (
    CONNECT_TIMEOUT,
    DONE,
    READ_TIMEOUT,
    RemoteFailure,
    headers,
    lines,
    refused,
    unreachable,
)
from llmtui.remote.config import Remote

# Ollama's option names that OpenAI's API takes, under its names.
_OPENAI_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "num_predict": "max_tokens",
    "stop": "stop",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


class RemoteEngine:
    """Requests for served models; holds nothing loaded of its own."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._environ = environ

    def chat(
        self,
        spec: ModelSpec,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Any = None,
        watch: Any = None,
    ) -> RequestHandle:
        job = Job(spec, self.options_for(spec, options), messages=tuple(messages),
                  keep_alive=keep_alive)  # fmt: skip
        return self._start(job, dict(options or {}), on_event, watch)

    def generate(
        self,
        spec: ModelSpec,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        *,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        on_event: Any = None,
        watch: Any = None,
    ) -> RequestHandle:
        job = Job(spec, self.options_for(spec, options), prompt=prompt, keep_alive=keep_alive)
        return self._start(job, dict(options or {}), on_event, watch)

    def options_for(self, spec: ModelSpec, options: Mapping[str, Any] | None) -> Options:
        """As the request is asked: the server's own defaults stand for the rest."""
        return DEFAULTS.merged(spec.options).merged(options)

    def loaded(self) -> list[LoadedModel]:
        return []

    # -- one request, on its thread -----------------------------------------------------

    def _start(self, job: Job, given: dict[str, Any], on_event: Any, watch: Any) -> RequestHandle:
        handle = RequestHandle(job, on_event, watch)
        served = job.spec.served
        assert served is not None, "a remote engine runs served models only"
        thread = threading.Thread(target=self._run, args=(handle, served, given), daemon=True,
                                  name=f"llmtui-remote:{job.spec.name}")  # fmt: skip
        thread.start()
        return handle

    def _run(self, handle: RequestHandle, served: ServedModel, given: dict[str, Any]) -> None:
        remote = Remote(served.remote, served.kind, served.url, served.key_env)
        reader = _Reader(handle, remote, "" if served.local else remote.name)
        try:
            url, body, unsent = _request(handle.job, served, {**handle.job.spec.options, **given})
            if unsent:
                handle.emit(Notice(f"{remote.name} speaks OpenAI's API, which takes no "
                                   f"{', '.join(sorted(unsent))}: not sent"))  # fmt: skip
            timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
            with (
                httpx.Client(timeout=timeout) as http,
                http.stream(
                    "POST", url, json=body, headers=headers(remote, self._environ)
                ) as reply,
            ):
                if reply.status_code != 200:
                    raise refused(remote, reply, served.model)
                handle.on_cancel(lambda: _hang_up(reply))
                reader.follow(reply)
            done = reader.done()
            if (live := reader.live()) is not None:  # with the reply's own speed, as shown
                handle.emit(dataclasses.replace(live, tokens_per_second=done.eval_rate,
                                                eval_count=done.eval_count))  # fmt: skip
            handle.emit(done)
        except (RemoteFailure, httpx.HTTPError) as error:
            if handle.cancelled:  # hung up on a server that sent nothing more
                reader.reason = "cancel"
                handle.emit(reader.done())
            elif isinstance(error, RemoteFailure):
                handle.fail(reader.cut(error))
            else:
                handle.fail(reader.cut(unreachable(remote, error)))


def _hang_up(reply: httpx.Response) -> None:
    """Close the connection under a read that waits for the server (a stalled one would
    hold it until the read timeout): the read fails at once, and the server sees the
    client gone."""
    stream = reply.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _messages(job: Job) -> list[dict[str, Any]]:
    """The conversation as both APIs take it: a Modelfile's messages and system first."""
    spec = job.spec
    assert job.messages is not None
    messages = [*spec.messages, *job.messages]
    if spec.system and not any(m.role == "system" for m in messages):
        messages.insert(0, Message("system", spec.system))
    return [{"role": m.role, "content": m.content} for m in messages]


def _request(
    job: Job, served: ServedModel, given: dict[str, Any]
) -> tuple[str, dict[str, Any], set[str]]:
    """URL, body, and the options the server's API cannot take."""
    chat = job.messages is not None
    if served.kind == "ollama":
        body: dict[str, Any] = {"model": served.model, "stream": True, "options": given,
                                "keep_alive": job.keep_alive}  # fmt: skip
        if chat:
            return f"{served.url}/api/chat", {**body, "messages": _messages(job)}, set()
        return f"{served.url}/api/generate", {**body, "prompt": job.prompt, "raw": True}, set()
    body = {"model": served.model, "stream": True, "stream_options": {"include_usage": True}}
    unsent = set()
    for name, value in given.items():
        if name in _OPENAI_OPTIONS:
            body[_OPENAI_OPTIONS[name]] = value
        else:
            unsent.add(name)
    if body.get("max_tokens", 0) < 0:
        del body["max_tokens"]  # num_predict -1: as long as the model goes
    if chat:
        return f"{served.url}/chat/completions", {**body, "messages": _messages(job)}, unsent
    return f"{served.url}/completions", {**body, "prompt": job.prompt}, unsent


_KINDS: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "float": (int, float),
                                              "bool": bool}  # fmt: skip


class _Reader:
    """One answer as it streams: the text, the clocks, the server's figures."""

    def __init__(self, handle: RequestHandle, remote: Remote, served_by: str) -> None:
        self.handle = handle
        self.remote = remote
        self.served_by = served_by
        self.started = time.perf_counter_ns()
        self.first = self.last = 0
        self.pieces = 0
        self.parts: list[str] = []
        self.final: dict[str, Any] | None = None  # Ollama's last line, OpenAI's usage
        self.machine: Any = None  # a llmtui server's model state, in its last line
        self.reason = ""

    def follow(self, reply: httpx.Response) -> None:
        openai = self.remote.kind == "openai"
        for value in lines(reply, self.remote):
            if value is DONE:
                return
            text = self._openai(value) if openai else self._ollama(value)
            if text:
                now = time.perf_counter_ns()
                self.first = self.first or now
                self.last = now
                self.pieces += 1
                self.parts.append(text)
                self.handle.emit(Chunk(text))
            if self.handle.cancelled:
                self.reason = "cancel"
                return  # leaving the stream closes the request: the server stops
            if not openai and self.final is not None:
                return
        raise RemoteFailure(f"{self.remote.name} closed the stream halfway")

    def _ollama(self, value: dict[str, Any]) -> str:
        if value.get("done"):
            self.final = value
            self.machine = value.get("llmtui")
            self.reason = str(value.get("done_reason") or "stop")
        message = value.get("message")
        text = message.get("content") if isinstance(message, dict) else value.get("response")
        return text if isinstance(text, str) else ""

    def _openai(self, value: dict[str, Any]) -> str:
        usage = value.get("usage")
        if isinstance(usage, dict):
            self.final = usage
        choices = value.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            self.reason = "length" if choice["finish_reason"] == "length" else "stop"
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        return text if isinstance(text, str) else ""

    def live(self) -> LiveStats | None:
        """The model's state as a llmtui server reported it (None from other servers, or
        if any of it is not what LiveStats holds: what a server says is checked)."""
        if not isinstance(self.machine, dict):
            return None
        values: dict[str, Any] = {}
        for item in dataclasses.fields(LiveStats):
            value = self.machine.get(item.name)
            kind = _KINDS[str(item.type)]
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                return None
            values[item.name] = value
        return LiveStats(**values)

    def cut(self, error: RemoteFailure) -> RemoteFailure:
        if self.parts and "halfway" not in str(error):
            return RemoteFailure(f"{error} (after {len(''.join(self.parts))} characters, "
                                 "which stay)")  # fmt: skip
        return error

    def done(self) -> Done:
        finished = time.perf_counter_ns()
        final = self.final or {}
        sent_to_first = (self.first or finished) - self.started
        first_to_last = (self.last - self.first) if self.first else 0

        def number(key: str, otherwise: int) -> int:
            value = final.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else otherwise

        if self.remote.kind == "ollama" and "eval_count" in final:
            figures = "server"
            counts = (number("prompt_eval_count", 0), number("eval_count", self.pieces))
            durations = (number("prompt_eval_duration", sent_to_first),
                         number("eval_duration", first_to_last))  # fmt: skip
            load, total = (
                number("load_duration", 0),
                number("total_duration", finished - self.started),
            )
        else:
            figures = "measured"
            counts = (number("prompt_tokens", 0), number("completion_tokens", self.pieces))
            durations = (sent_to_first, first_to_last)
            load, total = 0, finished - self.started
        return Done(
            model=self.handle.job.spec.name,
            text="".join(self.parts),
            done_reason=self.reason if self.reason in ("stop", "length", "cancel") else "stop",
            total_duration=total,
            load_duration=load,
            prompt_eval_count=counts[0],
            prompt_eval_duration=durations[0],
            eval_count=counts[1],
            eval_duration=durations[1],
            time_to_first_token=sent_to_first if self.first else 0,
            context_used=counts[0] + counts[1],
            perf=Perf(durations[0] / 1e6, counts[0], durations[1] / 1e6, counts[1]),
            served_by=self.served_by,
            figures=figures,
        )
