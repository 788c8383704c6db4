"""`llmtui web`: the workbench in a real browser (Debian's Chromium, driven by Playwright),
its tabs sharing one engine; the address's token and origin checks; the shared engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import aiohttp
import httpx
import psutil
import pytest
from browser import Tab, Web, browser, need_chromium
from conftest import GREEDY
from serving import Server, free_port

from llmtui.engine import Done, Event, Failed, LiveStats, Message
from llmtui.library import find
from llmtui.library.create import draft_spec
from llmtui.modelfile import parse
from llmtui.remote.shared import SharedEngine

SHOTS = os.environ.get("LLMTUI_SCREENSHOTS")
UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
FRUIT = [Message("user", "Name a fruit.")]


@pytest.fixture
def web_home(short_home: Path) -> Path:
    """Short greedy replies; no kept chats (a tab would offer the last one at start)."""
    (short_home / "config" / "settings.toml").write_text(
        "keep_chats = false\n[parameters]\nnum_predict = 64\ntemperature = 0\n"
    )
    return short_home


def _chat_text(row: str) -> str:
    """The chat pane's part of a screen row (the middle of the three panes), stripped."""
    parts = [part.strip() for part in row.split("│") if part.strip()]
    return parts[1] if len(parts) == 3 else ""


def _maps(process: psutil.Process) -> str:
    return Path(f"/proc/{process.pid}/maps").read_text()


def test_the_workbench_in_a_browser_two_tabs_one_model(web_home: Path) -> None:
    need_chromium()
    web = Web(web_home)
    try:
        for chromium in browser():
            first = Tab(chromium.new_page(viewport={"width": 1400, "height": 900}),
                        web.address)  # fmt: skip
            shown = first.wait_for("smollm2:135m", 90)
            for area in ("Library", "Chat", "Editor", "Stats"):  # the four areas
                assert f"─ {area} ─" in shown, shown
            # Nothing is fetched from elsewhere (textual-serve's page asks Google for its font).
            assert first.requests and all(
                url.startswith((f"{web.url}/", f"ws://127.0.0.1:{web.port}/"))
                for url in first.requests
            ), first.requests
            assert f"{web.url}/static/fonts/RobotoMono-VariableFont_wght.ttf" in first.requests
            before = len(first.received)
            first.type("Name a fruit.")
            shown = first.wait_for("tok/s · first token", 120)
            # The reply streamed: its first words were on screen before its end was.
            rows = shown.splitlines()
            asked = next(i for i, row in enumerate(rows) if "Name a fruit." in row)
            begins = next(text for row in rows[asked + 1 :] if (text := _chat_text(row)))
            assert any(begins in screen and "tok/s · first token" not in screen
                       for screen in first.screens(before)), begins  # fmt: skip
            if SHOTS:
                first.page.screenshot(path=str(Path(SHOTS) / "web-workbench.png"))
            second = Tab(chromium.new_page(viewport={"width": 1000, "height": 700}),
                         web.address)  # fmt: skip
            second.wait_for("smollm2:135m", 90)
            # A paste of two lines fills the prompt; its newline does not send it.
            second.paste("Name a colour.\nIn one word.")
            second.wait_for("In one word.", 30)
            second.page.wait_for_timeout(1000)
            assert "█ Name a colour." not in second.screen()  # not in the transcript
            second.page.keyboard.press("Enter")
            second.wait_for("█ Name a colour.", 30)
            first.type("Name a tree.")  # both tabs at once, on the one engine
            second.wait_for("Name a colour.", 60)
            second.wait_for("tok/s · first token", 120)
            first.wait_for("tok/s · first token", 120, count=2)
            # One model loaded, by the shared engine; the tabs' processes hold no copy.
            assert [m["name"] for m in web.loaded()] == ["smollm2:135m"]
            family = psutil.Process(web.process.pid).children(recursive=True)
            engines = [p for p in family if "serve" in p.cmdline()]
            tabs = [p for p in family if "--shared" in p.cmdline()]
            assert len(engines) == 1 and len(tabs) == 2
            assert ".gguf" in _maps(engines[0])
            for tab in tabs:
                assert "libllama" not in _maps(tab) and ".gguf" not in _maps(tab)
                assert tab.memory_info().rss < engines[0].memory_info().rss
    finally:
        said = web.stop()
    assert "Traceback" not in said, said
    # The engine it started stops with it.
    assert not engines[0].is_running() or engines[0].status() == psutil.STATUS_ZOMBIE


def test_a_token_guards_the_page_and_the_socket_refuses_other_sites(web_home: Path) -> None:
    web = Web(web_home, "--token", "s3cret")
    try:
        refused = httpx.get(web.url)
        assert refused.status_code == 403 and "needs its token" in refused.text
        page = httpx.get(f"{web.url}/?token=s3cret")
        assert page.status_code == 200 and "llmtui_token" in page.headers["set-cookie"]
        assert f'data-session-websocket-url="ws://127.0.0.1:{web.port}/ws"' in page.text
        again = httpx.get(web.url, cookies={"llmtui_token": "s3cret"})
        assert again.status_code == 200
        assert httpx.get(web.url, cookies={"llmtui_token": "s3creT"}).status_code == 403
        assert httpx.get(f"{web.url}/static/js/textual.js").status_code == 200
        assert httpx.get(f"{web.url}/ws", headers=UPGRADE).status_code == 403
        evil = httpx.get(f"{web.url}/ws?token=s3cret",
                         headers={**UPGRADE, "Origin": "http://evil.example"})  # fmt: skip
        assert evil.status_code == 403 and "evil.example may not open" in evil.text
        own = httpx.get(f"{web.url}/ws?token=s3cret",
                        headers={**UPGRADE, "Origin": f"http://127.0.0.1:{web.port}"})  # fmt: skip
        assert own.status_code == 101
    finally:
        web.stop()


async def _until_closed(socket: aiohttp.ClientWebSocketResponse) -> bool:
    """Whether the server closes `socket` (what the app drew first is read past)."""
    while True:
        try:
            message = await socket.receive(timeout=10)
        except TimeoutError:
            return False
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return True


async def test_what_a_client_sends_wrong_ends_its_own_socket_at_most(web_home: Path) -> None:
    web = Web(web_home)
    where = f"ws://127.0.0.1:{web.port}/ws"
    try:
        async with aiohttp.ClientSession() as session:
            # Not textual-serve's protocol: that socket (that tab) ends, quietly.
            for junk in ("not json", "[]", '{"a": 1}', "[1, 2]"):
                socket = await session.ws_connect(where)
                await socket.send_str(junk)
                assert await _until_closed(socket), junk
            # Sizes no screen has are ignored (10^9 rows once had a tab lay out forever),
            # and text that is not valid Unicode is sent as UTF-8 all the same.
            socket = await session.ws_connect(f"{where}?width=100&height=30")
            for mistake in (["resize", {"width": -5, "height": 10**9}],
                            ["resize", {"width": 100.5, "height": True}], ["resize", "big"],
                            ["stdin", 7], ["stdin", "\udcff\ud800"], ["ping", {"x": 1}]):  # fmt: skip
                await socket.send_str(json.dumps(mistake))
            await socket.send_str(json.dumps(["stdin", "\x11"]))  # Ctrl+Q: quit
            assert await _until_closed(socket)  # the app read it: it was not stuck
            for query in ("?height=1000000000", "?width=0", "?width=-3"):
                refused = httpx.get(f"{web.url}/ws{query}", headers=UPGRADE)
                assert refused.status_code == 400 and "must be 1-2000" in refused.text
        assert httpx.get(web.url).status_code == 200  # the server goes on
        family = psutil.Process(web.process.pid).children(recursive=True)
    finally:
        said = web.stop()
    assert "Traceback" not in said, said  # the error log has them
    # Nothing it started outlives it.
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_beyond_loopback_a_token_is_made_up_and_asked_for(web_home: Path) -> None:
    web = Web(web_home, "--host", "0.0.0.0")
    port = web.port
    try:
        assert web.address.startswith(f"http://0.0.0.0:{port}/?token=")
        token = web.address.split("token=")[1]
        assert len(token) >= 16
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 403
        page = httpx.get(f"http://127.0.0.1:{port}/?token={token}")
        # The page's socket is where the browser came from, not the address bound.
        assert page.status_code == 200 and f"ws://127.0.0.1:{port}/ws" in page.text
    finally:
        web.stop()


def test_a_llmtui_serve_already_running_is_shared(web_home: Path, served: Server) -> None:
    web = Web(web_home, env={"LLMTUI_HOST": f"127.0.0.1:{served.port}"})
    try:
        assert web.engine == served.url
        family = psutil.Process(web.process.pid).children(recursive=True)
        assert not [p for p in family if "serve" in p.cmdline()]  # none started
    finally:
        web.stop()
    assert served.process.poll() is None  # and left running


class _NotLlmtui(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"version": "0.12.0"}')  # Ollama's own answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def ollama_itself() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotLlmtui)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_web_mistakes_are_one_line(web_home: Path, ollama_itself: str) -> None:
    def web(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LLMTUI_HOME": str(web_home)}
        return subprocess.run([sys.executable, "-m", "llmtui", "web", *args],
                              capture_output=True, text=True, env=env, timeout=60)  # fmt: skip

    other = web("--port", str(free_port()), "--engine", ollama_itself)
    assert other.returncode == 1
    assert other.stderr == (f"Error: no `llmtui serve` answers at {ollama_itself} (--engine); "
                            "start one there, or leave --engine out\n")  # fmt: skip
    taken = ollama_itself.rsplit(":", 1)[1]
    busy = web("--port", taken)
    assert busy.returncode == 1 and busy.stderr.startswith(
        f"Error: cannot listen on 127.0.0.1:{taken}"
    )
    assert web("--port", "70000").stderr == "Error: not a port: 70000\n"


@pytest.fixture(scope="module")
def served() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


def test_the_shared_engine_runs_library_models_and_the_buffer_by_name(
    served: Server, tmp_path: Path
) -> None:
    engine = SharedEngine(served.url)
    seen: list[Event] = []
    done = engine.chat(find("smollm2:135m").spec(), FRUIT, GREEDY, on_event=seen.append).wait(120)
    direct = httpx.post(f"{served.url}/api/chat", timeout=120, json={
        "model": "smollm2:135m", "messages": [{"role": "user", "content": "Name a fruit."}],
        "options": GREEDY, "stream": False}).json()  # fmt: skip
    # The server's own answer and figures, shown as this machine's (no "on REMOTE").
    assert done.text == direct["message"]["content"] and done.figures == "server"
    assert done.served_by == "" and done.place == ""
    # The stats pane's figures: the model's state on the server, from its last line.
    live = [e for e in seen if isinstance(e, LiveStats)]
    assert len(live) == 1 and live[0].model == "smollm2:135m"
    assert live[0].model_size > 50e6 and live[0].rss > live[0].model_size
    assert live[0].context_size >= 4096 and live[0].kv_cache_size > 0
    # The editor's buffer: its base by name, its own lines with each request.
    buffer = parse("FROM smollm2:135m\nSYSTEM You only ever answer in French.\n")
    spec = draft_spec(buffer, tmp_path)
    done = engine.chat(spec, FRUIT, GREEDY).wait(120)
    direct = httpx.post(f"{served.url}/api/chat", timeout=120, json={
        "model": "smollm2:135m", "options": GREEDY, "stream": False, "messages": [
            {"role": "system", "content": "You only ever answer in French."},
            {"role": "user", "content": "Name a fruit."}]}).json()  # fmt: skip
    assert done.text == direct["message"]["content"]


@pytest.mark.parametrize(
    ("modelfile", "unsent"),
    [("FROM smollm2:135m\nTEMPLATE {{ .Prompt }}\n", "TEMPLATE"),
     ("FROM {gguf}\n", "FROM a file")],
)  # fmt: skip
def test_what_cannot_reach_the_shared_engine_is_said(
    modelfile: str, unsent: str, tmp_path: Path
) -> None:
    gguf = find("smollm2:135m").spec().path
    spec = draft_spec(parse(modelfile.format(gguf=gguf)), tmp_path)
    events: list[Any] = []
    handle = SharedEngine("http://127.0.0.1:9").chat(spec, FRUIT, on_event=events.append)
    with pytest.raises(Exception, match=f"the buffer's {unsent} cannot reach") as error:
        handle.wait(10)
    assert "create the model (F9)" in str(error.value)
    assert isinstance(events[-1], Failed) and not any(isinstance(e, Done) for e in events)
