"""`llmtui web`: the workbench in a browser, on 127.0.0.1:11435 (beside `serve`'s 11434)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from urllib.parse import urlsplit

from llmtui.cli.serve import ServeError, address, bind, is_loopback

DEFAULT_PORT = 11435


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    web = commands.add_parser("web", help="Serve the workbench to a browser (a tab each)")
    web.add_argument(
        "--host",
        metavar="HOST[:PORT]",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1:11435); beyond loopback, the "
        "page asks for a token (--token, or one made up and printed)",
    )
    web.add_argument("--port", type=int, help=f"the port (default {DEFAULT_PORT})")
    web.add_argument(
        "--token",
        default=os.environ.get("LLMTUI_WEB_TOKEN"),
        help="the token the page asks for (default: LLMTUI_WEB_TOKEN; beyond loopback, "
        "one made up)",
    )
    web.add_argument(
        "--engine",
        metavar="URL",
        help="the `llmtui serve` whose models the tabs share (default: one already at "
        "serve's address, else one started for them on loopback and stopped with this "
        "command)",
    )
    web.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="requests the started engine answers at once for each model (as serve's)",
    )


def web_command(args: argparse.Namespace) -> int:
    # Imported here: only this command needs the web stack.
    from llmtui.web.engine import SharedEngineError, shared_engine
    from llmtui.web.server import WebServer, end_tabs

    host, port = address(args.host, args.port)
    text = args.host if "//" in args.host else f"//{args.host}"
    if args.port is None and urlsplit(text).port is None:
        port = DEFAULT_PORT
    token = args.token
    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(16)
    bind(host, port).close()  # a taken port is said now, before an engine is started
    try:
        with shared_engine(args.engine, args.parallel) as engine:
            tab = [sys.executable, "-m", "llmtui", "tui", "--shared", engine]
            query = f"/?token={token}" if token else "/"
            print(f"llmtui: the workbench on http://{host}:{port}{query}\n"
                  f"llmtui: models run once, for every tab, by the engine at {engine}",
                  file=sys.stderr, flush=True)  # fmt: skip
            try:
                WebServer(tab, host, port, token).serve()
            finally:
                end_tabs(tab)
    except SharedEngineError as error:
        raise ServeError(str(error)) from None
    return 0
