"""Remote engines: models other servers run, beside local ones (`llmtui remote`, REMOTE/MODEL).

Against real servers on loopback — llmtui's own `llmtui serve` in its Ollama and OpenAI faces
— and, for the faults a real server rarely shows on cue, a small stand-in that stalls, cuts a
stream halfway, refuses a key, fails, or sends lines that are not JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from conftest import GREEDY, CancelAfter
from serving import Server

from llmtui.engine import Chunk, Done, Event, LiveStats, Message
from llmtui.library import find
from llmtui.remote import config
from llmtui.remote.client import RemoteFailure, list_models
from llmtui.remote.config import Remote, RemoteError
from llmtui.remote.engine import RemoteEngine

FRUIT = [Message("user", "Name a fruit.")]
GARBLED = (
    "odd sent a line that is not JSON: '<html>proxy error</html>' (after 5 characters, which stay)"
)


@pytest.fixture(scope="module")
def served() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


@pytest.fixture
def home_here(short_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own, for this process too: remotes are written there."""
    monkeypatch.setenv("LLMTUI_HOME", str(short_home))
    return short_home


@pytest.fixture
def remotes(served: Server, home_here: Path) -> Iterator[None]:
    config.add(Remote("here", "ollama", served.url))
    config.add(Remote("here-v1", "openai", f"{served.url}/v1"))
    yield


def llmtui(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMTUI_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "llmtui", *args], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip


def test_remotes_are_added_listed_tested_and_removed(served: Server, home_here: Path) -> None:
    short_home = home_here
    said = llmtui("remote", "add", "team", served.url, home=short_home)
    assert said.returncode == 0 and "its models are team/MODEL" in said.stdout
    said = llmtui("remote", "add", "oa", f"{served.url}/v1/", "--key-env", "OA_KEY",
                  home=short_home)  # fmt: skip
    assert said.returncode == 0 and "openai at" in said.stdout  # /v1: OpenAI's API
    listed = llmtui("remote", "list", "--json", home=short_home)
    assert json.loads(listed.stdout) == [
        {"name": "team", "kind": "ollama", "url": served.url, "key_env": None},
        {"name": "oa", "kind": "openai", "url": f"{served.url}/v1", "key_env": "OA_KEY"},
    ]
    # The file holds the variable's name, never a key.
    assert "OA_KEY" in (short_home / "config" / "remotes.toml").read_text()
    tested = llmtui("remote", "test", "team", home=short_home)
    assert tested.returncode == 0, tested.stderr
    assert "team/smollm2:135m" in tested.stdout and "Q4_1" in tested.stdout
    assert " ms, " in tested.stdout
    keyless = llmtui("remote", "test", "oa", home=short_home)
    assert keyless.returncode == 1
    assert keyless.stderr.strip() == "Error: oa needs its key in $OA_KEY, which is not set"
    gone = llmtui("remote", "rm", "oa", home=short_home)
    assert gone.returncode == 0 and "Removed oa" in gone.stdout
    assert [r.name for r in config.load()[0]] == ["team"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["add", "../x", "http://h"], "a remote's name is lower-case letters"),
        (["add", "Team", "http://h"], "a remote's name is lower-case letters"),
        (["add", "t", "ftp://h"], "a remote's URL is http://HOST"),
        (["add", "t", "http://h", "--key-env", "sk-123"], "--key-env names an environment"),
        (["rm", "nobody"], "no remote named 'nobody'"),
        (["test", "nobody"], "no remote named 'nobody'"),
    ],
)
def test_mistakes_in_remote_commands_are_one_line(
    args: list[str], error: str, short_home: Path
) -> None:
    said = llmtui("remote", *args, home=short_home)
    assert said.returncode == 1 and said.stdout == ""
    assert said.stderr.startswith("Error: ") and error in said.stderr
    assert len(said.stderr.strip().splitlines()) == 1


def test_a_hand_edited_file_with_a_mistake_is_not_written_over(home_here: Path) -> None:
    short_home = home_here
    path = short_home / "config" / "remotes.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = '# mine\n[[remote]]\nname = "ok"\nurl = "http://h:1"\n\n[[remote]]\nname = 5\n'
    path.write_text(text)
    remotes, problems = config.load()
    assert [r.name for r in remotes] == ["ok"] and "remote 2 ignored" in problems[0]
    with pytest.raises(RemoteError, match="fix it by hand first"):
        config.add(Remote("new", "ollama", "http://h:2"))
    assert path.read_text() == text


@pytest.mark.parametrize("remote", ["here", "here-v1"])
def test_a_served_model_chats_as_a_local_one_does(
    remotes: None, served: Server, remote: str
) -> None:
    model = find(f"{remote}/smollm2:135m")
    assert model.path is None and model.source == f"remote {remote}"
    engine = RemoteEngine()
    events: list[Event] = []
    done = engine.chat(model.spec(), FRUIT, GREEDY, on_event=events.append).wait(120)
    assert done.text == "".join(e.text for e in events if isinstance(e, Chunk))
    # The very answer the server gives its own clients.
    direct = httpx.post(f"{served.url}/api/chat", timeout=120, json={
        "model": "smollm2:135m", "messages": [{"role": "user", "content": "Name a fruit."}],
        "options": GREEDY, "stream": False})  # fmt: skip
    assert done.text == direct.json()["message"]["content"]
    assert done.served_by == remote and done.eval_count == direct.json()["eval_count"]
    # Ollama's figures are the server's own; OpenAI's usage counts, timed here.
    assert done.figures == ("server" if remote == "here" else "measured")
    assert done.eval_rate > 0 and done.done_reason == direct.json()["done_reason"]
    completion = engine.generate(model.spec(), "The capital of France is", GREEDY).wait(120)
    assert "Paris" in completion.text


def test_stopping_a_served_answer_stops_the_server_too(remotes: None, served: Server) -> None:
    stop = CancelAfter(3)
    story = [Message("user", "Write a long story about the sea.")]
    stop.handle = RemoteEngine().chat(find("here/smollm2:135m").spec(), story,
                                      {"num_predict": 2000, "temperature": 0}, on_event=stop)  # fmt: skip
    done = stop.handle.wait(60)
    assert done.done_reason == "cancel" and done.text
    deadline = time.monotonic() + 10  # the server's model is idle again: it stopped
    while not all(m["expires_at"] for m in httpx.get(f"{served.url}/api/ps").json()["models"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_served_model_in_llmtui_run(remotes: None, served: Server, short_home: Path) -> None:
    said = llmtui("run", "here/smollm2:135m", "--verbose", "Name a fruit.", home=short_home)
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip() and "ran on:               here (its own figures)" in said.stderr
    unknown = llmtui("run", "here/nope:1", "Hi", home=short_home)
    assert unknown.returncode == 1 and "here has no model 'nope:1'" in unknown.stderr


class _StandIn(BaseHTTPRequestHandler):
    """A server gone wrong, one way per model name."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._json(200, {"models": [{"name": "stall"}, {"name": "cut"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        model = json.loads(self.rfile.read(length))["model"]
        if model == "locked":
            return self._json(401, {"error": "unauthorized"})
        if model == "broken":
            return self._json(500, {"error": "out of memory"})
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        self._line({"message": {"content": "Hello"}, "done": False})
        if model == "lying":  # a llmtui server's model state, but not what it holds
            self._line({"done": True, "eval_count": 1, "eval_duration": 1000,
                        "llmtui": {"model": "x", "rss": "a lot", "tokens_per_second": 1e999}})  # fmt: skip
        elif model == "garbled":
            self.wfile.write(b"<html>proxy error</html>\n")
        elif model == "stall":
            time.sleep(30)  # until the client hangs up
        # "cut": the connection closes with no final line

    def _line(self, value: object) -> None:
        self.wfile.write(json.dumps(value).encode() + b"\n")
        self.wfile.flush()

    def _json(self, status: int, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def stand_in(home_here: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    config.add(Remote("odd", "ollama", url))
    yield url
    server.shutdown()


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("locked", "odd refused the key (none was sent: --key-env): 401 unauthorized"),
        ("broken", "odd answered 500: out of memory"),
        ("garbled", GARBLED),
        ("cut", "odd closed the stream halfway"),
    ],
)
def test_a_server_gone_wrong_is_one_sentence(stand_in: str, model: str, error: str) -> None:
    chunks: list[str] = []
    handle = RemoteEngine().chat(find(f"odd/{model}").spec(), FRUIT,
                                 on_event=lambda e: chunks.append(getattr(e, "text", "")))  # fmt: skip
    with pytest.raises(RemoteFailure) as failed:
        handle.wait(30)
    assert str(failed.value) == error
    if model in ("garbled", "cut"):
        assert "Hello" in chunks  # what arrived stays


def test_a_servers_model_state_is_taken_only_when_it_is_what_it_should_be(
    stand_in: str,
) -> None:
    seen: list[Event] = []
    done = RemoteEngine().chat(find("odd/lying").spec(), FRUIT, on_event=seen.append).wait(30)
    assert done.text == "Hello" and done.eval_count == 1
    assert not [e for e in seen if isinstance(e, LiveStats)]


def test_stop_hangs_up_on_a_stalled_server(stand_in: str) -> None:
    seen: list[Event] = []
    handle = RemoteEngine().chat(find("odd/stall").spec(), FRUIT, on_event=seen.append)
    deadline = time.monotonic() + 10
    while not any(isinstance(e, Chunk) for e in seen):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    began = time.monotonic()
    handle.cancel()
    done = handle.wait(5)
    assert isinstance(done, Done) and done.done_reason == "cancel" and done.text == "Hello"
    assert time.monotonic() - began < 2  # not the 30 s the server would stall


def test_an_unreachable_remote_is_one_sentence_and_quick(home_here: Path) -> None:
    config.add(Remote("gone", "ollama", "http://127.0.0.1:9"))
    began = time.monotonic()
    with pytest.raises(RemoteFailure, match=r"^gone \(http://127.0.0.1:9\) is unreachable"):
        list_models(config.find("gone"))  # type: ignore[arg-type]
    with pytest.raises(RemoteFailure, match="is unreachable"):
        RemoteEngine().chat(find("gone/x").spec(), FRUIT).wait(10)
    assert time.monotonic() - began < 5


def test_the_listing_shows_served_models_beside_local_ones_and_a_hung_remote_once(
    remotes: None, home_here: Path
) -> None:
    import socket

    hung = socket.socket()  # accepts connections into its backlog, never answers
    hung.bind(("127.0.0.1", 0))
    hung.listen(4)
    try:
        config.add(Remote("hung", "ollama", f"http://127.0.0.1:{hung.getsockname()[1]}"))
        said = llmtui("list", "--json", home=home_here)
        assert said.returncode == 0, said.stderr
        rows = {row["name"]: row for row in json.loads(said.stdout)}
        assert rows["smollm2:135m"]["remote"] is None  # the local models, all there
        served = rows["here/smollm2:135m"]
        assert served["remote"] == "here" and served["sources"] == ["remote here"]
        assert served["quantization"] == "Q4_1" and served["fit"] == "remote"
        assert "here-v1/smollm2:135m" in rows
        assert not any(name.startswith("hung/") for name in rows)
        warned = [line for line in said.stderr.splitlines() if "hung" in line]
        assert warned == [f"warning: hung (http://127.0.0.1:{hung.getsockname()[1]}) is "
                          "unreachable: no answer in 0.4 s (its models are not listed)"]  # fmt: skip
        # Remembered a short while: the next listing does not wait for it again.
        again = llmtui("list", home=home_here)
        assert "here/smollm2:135m" in again.stdout and "hung" in again.stderr
    finally:
        hung.close()


def test_a_comparison_mixes_local_and_served_columns(remotes: None, home_here: Path) -> None:
    fast = ["--options", "num_predict=12", "--options", "temperature=0", "--seed", "1"]
    said = llmtui("compare", "smollm2:135m", "here/smollm2:135m", "here-v1/smollm2:135m",
                  "--prompt", "Say hi in five words.", "--json", *fast, home=home_here)  # fmt: skip
    assert said.returncode == 0, said.stderr
    # The served columns take nothing here: they run beside the local one.
    assert "llmtui: columns run together (2 of 3 columns on other servers)" in said.stderr
    [round_] = json.loads(said.stdout)
    answers = {a["column"]: a for a in round_["answers"]}
    assert [a["ran"] for a in answers.values()] == [
        "here", "on here", "on here-v1, timed here"]  # fmt: skip
    # The same model, greedy, the same seed: the same answer wherever it ran.
    assert len({a["text"] for a in answers.values()}) == 1
    assert all(a["tokens"] == 12 and a["tokens_per_second"] > 0 for a in answers.values())


@pytest.fixture
def pirate(home_here: Path) -> Iterator[None]:
    """The model the test creates is removed after it: the store is the session's (a
    short home links to it), and another test counts its models."""
    yield
    llmtui("rm", "pirate", home=home_here)


def test_a_modelfile_from_a_served_model(
    remotes: None, served: Server, home_here: Path, pirate: None
) -> None:
    modelfile = home_here / "Modelfile"
    modelfile.write_text("FROM here/smollm2:135m\nSYSTEM You are a pirate.\n"
                         "PARAMETER temperature 0\nPARAMETER num_predict 16\n")  # fmt: skip
    made = llmtui("create", "pirate", "-f", str(modelfile), home=home_here)
    assert made.returncode == 0, made.stderr
    shown = llmtui("show", "pirate", home=home_here)
    assert (
        "runs on             here (ollama at" in shown.stdout
        and "You are a pirate." in shown.stdout
    )
    said = llmtui("run", "pirate", "--verbose", "Who are you?", home=home_here)
    assert said.returncode == 0, said.stderr
    assert "ran on:               here (its own figures)" in said.stderr
    # The Modelfile's lines went with the request: the server's own answer to the same.
    direct = httpx.post(f"{served.url}/api/chat", timeout=120, json={
        "model": "smollm2:135m", "stream": False,
        "options": {"temperature": 0, "num_predict": 16},
        "messages": [{"role": "system", "content": "You are a pirate."},
                     {"role": "user", "content": "Who are you?"}]})  # fmt: skip
    assert said.stdout.strip() == direct.json()["message"]["content"].strip()
    # A template or adapter cannot apply to weights another server holds.
    modelfile.write_text("FROM here/smollm2:135m\nTEMPLATE {{ .Prompt }}\n")
    refused = llmtui("create", "templated", "-f", str(modelfile), home=home_here)
    assert refused.returncode == 1
    assert "2:1" in refused.stderr and "TEMPLATE: here/smollm2:135m runs on a remote" in (
        refused.stderr
    )
    # llmtui serve serves this machine's models, not another server's.
    from llmtui.server.requests import ApiError, model_named

    with pytest.raises(ApiError, match="runs on the remote here: this server serves") as no:
        asyncio.run(model_named("here/smollm2:135m"))
    assert no.value.status == 404
    # Its remote gone, the model says what it needs.
    config.remove("here")
    orphan = llmtui("run", "pirate", "Hi", home=home_here)
    assert orphan.returncode == 1 and "there is no remote 'here' now" in orphan.stderr


async def test_screenshot_of_the_workbench_chatting_with_a_served_model(remotes: None) -> None:
    from textual.widgets import DataTable
    from workbench import SCREENSHOTS, ask, wait_for

    from llmtui.settings import Settings
    from llmtui.tui.app import Workbench
    from llmtui.tui.chat import Reply
    from llmtui.tui.library import LibraryPane

    settings = Settings(keep_chats=False, parameters={"num_predict": 16, "temperature": 0})
    app = Workbench("here/smollm2:135m", settings=settings)
    async with app.run_test(size=(160, 45)) as pilot:
        library = app.query_one(LibraryPane)
        await wait_for(lambda: any(m.name == "here/smollm2:135m" for m in library.models))
        row = library.query_one(DataTable).get_row("here/smollm2:135m")
        assert row[2] == "Q4_1" and row[4] == "remote" and row[5] == "remote here"
        await ask(pilot, app, "Name a fruit.")
        await pilot.pause(0.2)
        done = app.session.turns[-1].done
        assert done is not None and done.served_by == "here" and done.text
        assert str(app.query_one(Reply).stats.render()).endswith(" · on here")
        path = app.save_screenshot(filename="served-model.svg", path=str(SCREENSHOTS))
        assert "on&#160;here" in Path(path).read_text()  # the stats line, as drawn
        assert app.engine.loaded() == []  # llama.cpp's engine was never made


def test_a_remote_on_llama_cpp_pythons_own_server(home_here: Path) -> None:
    from serving import free_port

    port = free_port()
    gguf = find("smollm2:135m").spec().path
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
         "smollm2", "--port", str(port), "--n_ctx", "2048"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "it did not start"
            time.sleep(0.3)
        config.add(Remote("lcp", "openai", url))
        assert [m.name for m in list_models(config.find("lcp"))] == ["smollm2"]  # type: ignore[arg-type]
        events: list[Event] = []
        done = RemoteEngine().chat(find("lcp/smollm2").spec(), FRUIT, GREEDY,
                                   on_event=events.append).wait(120)  # fmt: skip
        said = "".join(e.text for e in events if isinstance(e, Chunk))
        assert done.text and done.text == said and done.served_by == "lcp"
        assert done.eval_count > 0 and done.figures == "measured"
    finally:
        server.terminate()
        server.wait(30)
