"""textual-serve's server, with what it lacks to face more than one's own browser.

- A token (textual-serve has no authentication): asked for beyond loopback. The page takes
  it once as `?token=` and keeps it in a cookie, which the websocket then carries.
- The websocket refuses other origins: any web page a user visits could otherwise open
  `ws://127.0.0.1:PORT/ws` and type into a workbench (cross-site WebSocket hijacking).
- The page's addresses follow the address the browser used, not the one bound: bound to
  0.0.0.0, textual-serve would send the browser to ws://0.0.0.0.
- The page (templates/app_index.html, textual-serve's own but for this) takes its font
  from textual-serve's files, not from Google's servers.

- The browser's messages are checked (`_process_messages`, the one private method
  replaced): textual-serve 1.1.3 trusted them, so a frame that was not JSON ended the
  socket with a traceback, text with a lone surrogate did too, and a resize to 10^9 rows
  (or a page opened with ?height=1000000000) had the tab's process lay out a screen that
  tall forever — at full CPU, and past the server's own end (found by hand).

The other overrides are public handlers of textual-serve's `Server` that check, then call
it; `llmtui web` ends the tabs' processes that outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import shlex
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import psutil
from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from llmtui import errorlog

COOKIE = "llmtui_token"
MOST_CELLS = 2000  # columns or rows: a 16K screen at a 4-pixel font is under 2,000
TEMPLATES = Path(__file__).parent / "templates"


class WebServer(Server):
    def __init__(self, tab: list[str], host: str, port: int, token: str | None) -> None:
        super().__init__(shlex.join(tab), host=host, port=port, title="llmtui",
                         templates_path=TEMPLATES)  # fmt: skip
        self.tab, self.token = tab, token

    def initialize_logging(self) -> None:
        """textual-serve's log goes to llmtui's error log, not to the server's output
        (where a client sending frames that are not its protocol printed tracebacks)."""
        served = logging.getLogger("textual-serve")
        for handler in errorlog.install().handlers:
            served.addHandler(handler)
        served.propagate = False

    async def on_startup(self, app: web.Application) -> None:
        """Instead of textual-serve's banner: `llmtui web` prints its own address."""

    async def on_shutdown(self, app: web.Application) -> None:
        """The tabs' processes end while the event loop still runs: ended after it, their
        pipes' transports were collected on a closed loop, and Python printed a traceback
        for each ("Event loop is closed") as `llmtui web` stopped."""
        await asyncio.to_thread(end_tabs, self.tab)

    def _allowed(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token") or request.cookies.get(COOKIE, "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _refuse(self) -> web.HTTPForbidden:
        return web.HTTPForbidden(text="llmtui web: this address needs its token: open the URL "
                                      "`llmtui web` printed, with ?token=...\n")  # fmt: skip

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            raise self._refuse()
        origin = f"{request.scheme}://{request.host}"
        socket = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
        context: dict[str, Any] = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": socket,
            "config": {"static": {"url": f"{origin}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        if self.token is not None and request.query.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if not self._allowed(request):
            raise self._refuse()
        for name in ("width", "height"):
            if name in request.query and _size(to_int(request.query[name], 0)) is None:
                raise web.HTTPBadRequest(text=f"llmtui web: {name} must be 1-{MOST_CELLS}\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text=f"llmtui web: a page from {origin} may not open "
                                         "this workbench\n")  # fmt: skip
        return await super().handle_websocket(request)

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            raise self._refuse()
        return await super().handle_download(request)

    async def _process_messages(
        self, websocket: web.WebSocketResponse, app_service: AppService
    ) -> None:
        """textual-serve's loop over the browser's messages, each checked (see above): a
        frame that is not the protocol ends this socket (this tab) alone, a size out of
        bounds is ignored, and text is sent as UTF-8 whatever it holds."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                envelope = None
            if not (isinstance(envelope, list) and envelope and isinstance(envelope[0], str)):
                await websocket.close(code=WSCloseCode.UNSUPPORTED_DATA)
                return
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                width, height = _size(data.get("width")), _size(data.get("height"))
                if width is not None and height is not None:
                    await app_service.set_terminal_size(width, height)
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()


def _size(value: object) -> int | None:
    """A terminal's width or height in cells, if it is one."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MOST_CELLS:
        return value
    return None


def end_tabs(argv: list[str]) -> None:
    """End the tabs' processes still running (`argv`'s, and the shell's that runs it):
    textual-serve asks each to quit as its socket closes, and a process too busy to read
    that would outlive the server."""
    shell = ["/bin/sh", "-c", shlex.join(argv)]
    tabs = [child for child in psutil.Process().children(recursive=True)
            if child.cmdline() in (argv, shell)]  # fmt: skip
    for tab in tabs:
        with contextlib.suppress(psutil.Error):
            tab.terminate()
    _, alive = psutil.wait_procs(tabs, timeout=5)
    for tab in alive:
        with contextlib.suppress(psutil.Error):
            tab.kill()
