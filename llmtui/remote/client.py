"""Speaking to a remote: its models, and its answers to a request, over its own API.

Two APIs: Ollama's native one (`/api/tags`, `/api/chat`, `/api/generate`: NDJSON lines) and
OpenAI's (`/models`, `/chat/completions`, `/completions` under a base URL ending in /v1:
server-sent events). Every failure is one sentence naming the remote: unreachable, a key
refused, a model it does not have, an answer that is not its API's.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from llmtui.engine.errors import EngineError
from llmtui.remote.config import Remote

CONNECT_TIMEOUT = 3.0  # seconds to reach a server
LIST_TIMEOUT = 2.0  # seconds a listing may take in all: a remote that is down stays quick
READ_TIMEOUT = 300.0  # between two lines of an answer (a big model's prompt can take long)


DONE: dict[str, Any] = {}  # what `lines` yields at OpenAI's `data: [DONE]`, the stream's end


class RemoteFailure(EngineError):
    """A remote that could not answer as asked: one sentence naming it."""


@dataclass(frozen=True)
class RemoteModel:
    name: str  # as the server names it
    size: int = 0  # bytes, 0 where the server does not say
    parameters: str = ""  # "8.0B", where the server says
    quantization: str = ""  # "Q4_K_M", where the server says

    @property
    def details(self) -> str:
        return " ".join(part for part in (self.parameters, self.quantization) if part)


def headers(remote: Remote, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    if remote.key_env is None:
        return {}
    key = environ.get(remote.key_env, "")
    if not key:
        raise RemoteFailure(f"{remote.name} needs its key in ${remote.key_env}, which is not set")
    return {"Authorization": f"Bearer {key}"}


def _path(remote: Remote, ollama: str, openai: str) -> str:
    return f"{remote.url}{ollama if remote.kind == 'ollama' else openai}"


def refused(remote: Remote, reply: httpx.Response, model: str | None = None) -> RemoteFailure:
    """The sentence for an answer that is not a 200."""
    said: Any = ""
    try:
        reply.read()
        body = reply.json()
        said = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(said, dict):
            said = said.get("message", said)
    except ValueError:
        said = reply.text[:200]
    except httpx.HTTPError:
        pass
    said = str(said).strip()[:300]
    status = reply.status_code
    if status in (401, 403):
        where = f" in ${remote.key_env}" if remote.key_env else " (none was sent: --key-env)"
        return RemoteFailure(f"{remote.name} refused the key{where}: {status} {said}".rstrip())
    if status == 404 and model is not None:
        return RemoteFailure(f"{remote.name} has no model {model!r} ({status} {said}); "
                             f"`llmtui remote test {remote.name}` lists its models")  # fmt: skip
    return RemoteFailure(f"{remote.name} answered {status}: {said or reply.reason_phrase}")


def unreachable(remote: Remote, error: httpx.HTTPError) -> RemoteFailure:
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        reason = "no answer in time"
    return RemoteFailure(f"{remote.name} ({remote.url}) is unreachable: {reason}")


def list_models(
    remote: Remote, timeout: float = LIST_TIMEOUT, environ: Mapping[str, str] = os.environ
) -> list[RemoteModel]:
    """The models the remote serves (RemoteFailure if it cannot say)."""
    url = _path(remote, "/api/tags", "/models")
    try:
        limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        reply = httpx.get(url, headers=headers(remote, environ), timeout=limits)
    except httpx.HTTPError as error:
        raise unreachable(remote, error) from None
    if reply.status_code != 200:
        raise refused(remote, reply)
    try:
        body = reply.json()
        if remote.kind == "ollama":
            return [_ollama_model(m) for m in body["models"]]
        return [RemoteModel(str(m["id"])) for m in body["data"]]
    except (ValueError, KeyError, TypeError):
        raise RemoteFailure(f"{remote.name} answered {url} with something that is not "
                            f"{'Ollama' if remote.kind == 'ollama' else 'OpenAI'}'s "
                            "list of models") from None  # fmt: skip


def _ollama_model(entry: dict[str, Any]) -> RemoteModel:
    details = entry.get("details") or {}
    size = entry.get("size")
    return RemoteModel(
        str(entry["name"]),
        size if isinstance(size, int) else 0,
        str(details.get("parameter_size") or ""),
        str(details.get("quantization_level") or ""),
    )


def probe(remote: Remote) -> tuple[list[RemoteModel], float]:
    """Its models, and how long the listing took (seconds): `llmtui remote test`."""
    began = time.perf_counter()
    models = list_models(remote, timeout=CONNECT_TIMEOUT * 2)
    return models, time.perf_counter() - began


def lines(reply: httpx.Response, remote: Remote) -> Iterator[dict[str, Any]]:
    """The answer's JSON objects as they arrive: NDJSON lines (Ollama), or the data of
    server-sent events, then `DONE` at `[DONE]` (OpenAI)."""
    for line in reply.iter_lines():
        if remote.kind == "openai":
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alives
            line = line[5:].strip()
            if line == "[DONE]":
                yield DONE
                return
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise RemoteFailure(f"{remote.name} sent a line that is not JSON: "
                                f"{line[:80]!r}") from None  # fmt: skip
        if not isinstance(value, dict):
            raise RemoteFailure(f"{remote.name} sent {line[:80]!r}, not a JSON object")
        if "error" in value:
            said = value["error"]
            said = said.get("message", said) if isinstance(said, dict) else said
            raise RemoteFailure(f"{remote.name}: {said}")
        yield value
