"""`llmtui serve`: Ollama's API and OpenAI's on 127.0.0.1:11434 (Ollama's address, so that
tools made for Ollama find it)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 11434


class ServeError(ValueError):
    """An address that cannot be served on: one line."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="Serve Ollama's API and OpenAI's on this engine")
    serve.add_argument(
        "--host",
        metavar="HOST[:PORT]",
        help="the address to listen on (default 127.0.0.1:11434, or LLMTUI_HOST, or "
        "OLLAMA_HOST); beyond loopback needs --token (or says why not)",
    )
    serve.add_argument("--port", type=int, help="the port (default 11434)")
    ps = commands.add_parser("ps", help="The models a running `llmtui serve` has loaded")
    ps.add_argument("--host", metavar="HOST[:PORT]", help="the server (default as serve's)")
    serve.add_argument(
        "--max-queue",
        type=int,
        default=None,
        metavar="N",
        help="requests that may wait for each model; one more is told 503, try again "
        "(default 64, or OLLAMA_MAX_QUEUE)",
    )
    serve.add_argument(
        "--parallel",
        type=int,
        default=None,
        metavar="N",
        help="requests each model answers at once, in one context (default: as many as "
        "memory allows, up to 4; or OLLAMA_NUM_PARALLEL); each holds a KV cache of num_ctx",
    )
    serve.add_argument(
        "--token",
        default=os.environ.get("LLMTUI_API_TOKEN"),
        help="require Authorization: Bearer TOKEN (default: LLMTUI_API_TOKEN)",
    )


def address(given: str | None, port: int | None) -> tuple[str, int]:
    """HOST and PORT from --host (or LLMTUI_HOST, or Ollama's OLLAMA_HOST: `host:port`,
    `:port`, `http://host:port`) and --port."""
    text = given or os.environ.get("LLMTUI_HOST") or os.environ.get("OLLAMA_HOST") or ""
    host, found = DEFAULT_HOST, DEFAULT_PORT
    if text:
        parts = urlsplit(text if "//" in text else f"//{text}")
        try:
            host, found = parts.hostname or DEFAULT_HOST, parts.port or DEFAULT_PORT
        except ValueError:
            raise ServeError(f"not a host[:port]: {text!r}") from None
    chosen = port if port is not None else found
    if not 0 < chosen < 65536:
        raise ServeError(f"not a port: {chosen}")
    return host, chosen


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a taken port is one line naming it and the flag."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port} ({error.strerror}): another server (Ollama?) "
            "may have it; --port PORT or --host HOST:PORT"
        ) from None
    return sock


def serve_command(args: argparse.Namespace) -> int:
    # Imported here: only this command needs the web stack.
    import uvicorn

    from llmtui.engine import Engine
    from llmtui.engine.options import check_parallel, environment_parallel
    from llmtui.server.app import build_app

    host, port = address(args.host, args.port)
    loopback = is_loopback(host)
    if not loopback and not args.token:
        print(f"llmtui: listening on {host}, beyond this machine, without a token: anyone who "
              "can reach it can use its models (--token or LLMTUI_API_TOKEN)",
              file=sys.stderr)  # fmt: skip
    sock = bind(host, port)
    origins = [o.strip() for o in os.environ.get("OLLAMA_ORIGINS", "").split(",") if o.strip()]
    queue = args.max_queue
    if queue is None:
        given = os.environ.get("OLLAMA_MAX_QUEUE", "64")
        if not given.strip().isdigit():
            raise ServeError(f"OLLAMA_MAX_QUEUE must be a number, not {given!r}")
        queue = int(given)
    if queue < 0:
        raise ServeError(f"--max-queue must be 0 or more, not {queue}")
    parallel = args.parallel
    if parallel is None:
        parallel = environment_parallel(os.environ)
    engine = Engine(parallel=0 if parallel is None else check_parallel(parallel, "--parallel"))
    app = build_app(engine, token=args.token, loopback=loopback, origins=origins,
                    queue=queue)  # fmt: skip
    print(f"llmtui: serving Ollama's API and OpenAI's (/v1) on http://{host}:{port}",
          file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def ps_command(host: str | None) -> int:
    """`llmtui ps`: the models a running `llmtui serve` (or Ollama) has loaded. Without a
    server, each llmtui process loads its own models, and none outlives it."""
    import json
    import urllib.error
    import urllib.request

    server, port = address(host, None)
    url = f"http://{server}:{port}/api/ps"
    request = urllib.request.Request(url)
    if token := os.environ.get("LLMTUI_API_TOKEN"):
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            models = json.load(reply)["models"]
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        reason = getattr(error, "reason", error)
        raise ServeError(f"no server answers on {server}:{port} ({reason}): `llmtui serve` "
                         "keeps models loaded; `llmtui run` loads its own") from None  # fmt: skip
    from llmtui.cli import format as fmt
    from llmtui.engine.memory import human_bytes

    rows = [[m["name"], human_bytes(int(m.get("size", 0))), str(m.get("context_length", "")),
             m.get("expires_at") or "while it answers"] for m in models]  # fmt: skip
    print(fmt.table(["NAME", "SIZE", "CONTEXT", "UNTIL"], rows))
    return 0
