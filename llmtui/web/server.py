"""textual-serve's server, with what it lacks to face more than one's own browser.

- A token (textual-serve has no authentication): asked for beyond loopback. The page takes
  it once as `?token=` and keeps it in a cookie, which the websocket then carries.
- The websocket refuses other origins: any web page a user visits could otherwise open
  `ws://127.0.0.1:PORT/ws` and type into a workbench (cross-site WebSocket hijacking).
- The page's addresses follow the address the browser used, not the one bound: bound to
  0.0.0.0, textual-serve would send the browser to ws://0.0.0.0.
- The page (templates/app_index.html, textual-serve's own but for this) takes its font
  from textual-serve's files, not from Google's servers.

Each override is a public handler of textual-serve's `Server` that checks, then calls it.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

COOKIE = "llmtui_token"
TEMPLATES = Path(__file__).parent / "templates"


class WebServer(Server):
    def __init__(self, command: str, host: str, port: int, token: str | None) -> None:
        super().__init__(command, host=host, port=port, title="llmtui", templates_path=TEMPLATES)
        self.token = token

    def initialize_logging(self) -> None:
        """Keep textual-serve's own logging (its rich handler) off the server's output:
        `llmtui web` says what matters itself."""

    async def on_startup(self, app: web.Application) -> None:
        """Instead of textual-serve's banner: `llmtui web` prints its own address."""

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
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text=f"llmtui web: a page from {origin} may not open "
                                         "this workbench\n")  # fmt: skip
        return await super().handle_websocket(request)

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            raise self._refuse()
        return await super().handle_download(request)
