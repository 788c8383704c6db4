"""Kept conversations in the workbench and in `llmtui run`, each test in a home of its own
(the other workbench tests run without them: the last conversation would be offered at
every start)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scripted import ScriptedEngine
from test_cli_chat import Terminal
from textual.widgets import DataTable, Input
from workbench import ask, history, notes, say, wait_for

from llmtui.chat import Outcome
from llmtui.chat.session import Turn
from llmtui.chat.store import Conversation, ConversationStore
from llmtui.engine import Engine
from llmtui.settings import Settings
from llmtui.tui.app import Workbench
from llmtui.tui.chat import Note, Reply, UserTurn
from llmtui.tui.conversations import Conversations
from llmtui.tui.dialogs import Confirm

SIZE = (160, 45)
GREEDY = {"temperature": 0, "num_predict": 24}


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMTUI_HOME", str(tmp_path))
    return tmp_path


def workbench(engine: Engine | ScriptedEngine) -> Workbench:
    return Workbench("smollm2:135m", engine=engine,  # type: ignore[arg-type]
                     settings=Settings(parameters=GREEDY))  # fmt: skip


async def test_a_conversation_survives_a_restart_and_goes_on(
    engine: Engine, own_home: Path
) -> None:
    first = workbench(engine)
    async with first.run_test(size=SIZE) as pilot:
        await wait_for(lambda: first.chat.store is not None)
        await ask(pilot, first, "Say one word.")
        said = first.session.turns[0].reply
        await pilot.press("ctrl+q")
    second = workbench(engine)
    async with second.run_test(size=SIZE) as pilot:
        # Offered at the start, and continued from the list.
        await wait_for(lambda: second.query(Note))
        assert "“Say one word.”" in second.query_one(Note).text
        await pilot.press("ctrl+l")
        await wait_for(lambda: isinstance(second.screen, Conversations))
        await wait_for(lambda: second.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await wait_for(lambda: len(second.query(UserTurn)) == 1)
        await pilot.pause()
        assert second.query_one(Reply).text == said
        assert "tok/s" in str(second.query_one(Reply).stats.render())  # its stats, restored
        await ask(pilot, second, "And another.")
        assert [m.content for m in history(second)][:2] == ["Say one word.", said]
    store = ConversationStore()
    try:
        [summary] = store.conversations()
        assert summary.turns == 2
    finally:
        store.close()


async def test_search_rename_and_delete_in_the_list(own_home: Path) -> None:
    app = workbench(ScriptedEngine())  # the list is the point, not the model
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.chat.store is not None)
        await ask(pilot, app, "Name a fruit.")
        await say(pilot, "/clear")
        await ask(pilot, app, "Name a colour.")
        await pilot.press("ctrl+l")
        await wait_for(lambda: isinstance(app.screen, Conversations))
        table = app.screen.query_one(DataTable)
        await wait_for(lambda: table.row_count == 2)
        app.screen.query_one(Input).value = "fruit"
        await wait_for(lambda: table.row_count == 1)
        await pilot.press("down", "ctrl+n")
        await wait_for(
            lambda: app.screen.query(Input) and not isinstance(app.screen, Conversations)
        )
        app.screen.query_one(Input).value = "Fruits"
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, Conversations))
        app.screen.query_one(Input).value = ""
        await wait_for(lambda: table.row_count == 2 and "Fruits" in [
            table.get_row_at(i)[0] for i in range(2)
        ])  # fmt: skip
        await pilot.press("down", "ctrl+d")
        await wait_for(lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, Conversations) and table.row_count == 1)
        assert app.is_running


async def test_a_conversation_whose_model_is_gone_is_still_readable(own_home: Path) -> None:
    store = ConversationStore()
    turn = Turn("Hello?", "gone-model:latest", outcome=Outcome.STOPPED, parts=["Hi th"])
    store.add(Conversation(0, "abc", "Old chat", "gone-model:latest", None, {}, 1.0, 2.0,
                           [turn]))  # fmt: skip
    store.close()
    app = workbench(ScriptedEngine())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.chat.store is not None)
        await pilot.press("ctrl+l")
        await wait_for(lambda: isinstance(app.screen, Conversations))
        await wait_for(lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await wait_for(lambda: app.query(UserTurn))
        await pilot.pause()
        assert any("gone-model:latest is not in the library any more" in n for n in notes(app))
        assert app.query_one(Reply).text == "Hi th"
        assert app.session.origin == "smollm2:135m"  # the chat goes on with the model it had


def test_llmtui_run_keeps_its_chats_and_a_kill_mid_reply_loses_little(own_home: Path) -> None:
    term = Terminal(own_home, "run", "smollm2:135m")
    try:
        term.expect(">>> ")
        term.type("/set parameter temperature 0\n")
        term.expect("Set parameter")
        term.type("/set parameter num_predict 8\n")
        term.expect(r"Set parameter 'num_predict'")
        mark = len(term.screen)
        term.type("Say hello.\n")
        term.expect(rf"(.|\n){{{mark + 40},}}>>> ")
        term.type("/set parameter num_predict 3000\n")
        term.expect("'3000'")
        mark = len(term.screen)
        term.type("Write a very long story about a dragon and a knight.\n")
        term.expect(rf"(.|\n){{{mark + 600},}}")
        time.sleep(1.0)  # past a write of the reply in progress
        os.kill(term.proc.pid, signal.SIGKILL)
        term.proc.wait(timeout=30)
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
        os.close(term.master)
    listed = subprocess.run(
        [sys.executable, "-m", "llmtui", "chats", "--json"], capture_output=True, text=True,
        env={**os.environ, "LLMTUI_HOME": str(own_home)}, check=True,
    )  # fmt: skip
    assert '"turns": 2' in listed.stdout and "Say hello." in listed.stdout
    store = ConversationStore()
    try:
        [summary] = store.conversations()
        first, second = store.load(summary.id).turns
        assert first.outcome is Outcome.DONE and first.done is not None
        assert first.done.eval_count == 8
        assert second.outcome is Outcome.STOPPED and len(second.reply) > 200
    finally:
        store.close()


def test_llmtui_run_no_save_keeps_nothing(own_home: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "llmtui", "run", "--no-save", "smollm2:135m", "Hi"],
        capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "LLMTUI_HOME": str(own_home)},
    )  # fmt: skip
    store = ConversationStore()
    try:
        assert store.conversations() == []
    finally:
        store.close()


def test_llmtui_chats_export_import_and_a_bad_file(own_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LLMTUI_HOME": str(own_home)}

    def llmtui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "llmtui", *args], capture_output=True,
                              text=True, env=env, stdin=subprocess.DEVNULL)  # fmt: skip

    store = ConversationStore()
    turn = Turn("Hello?", "smollm2:135m", outcome=Outcome.STOPPED, parts=["Hi there."])
    store.add(Conversation(0, "u1", "Greeting", "smollm2:135m", "Be kind.", {}, 1.0, 2.0,
                           [turn]))  # fmt: skip
    store.close()
    exported = tmp_path / "greeting.json"
    assert llmtui("chats", "export", "1", "--format", "json", "-o", str(exported)).returncode == 0
    markdown = llmtui("chats", "export", "1").stdout
    assert markdown.startswith("# Greeting") and "Hi there." in markdown
    assert llmtui("chats", "rm", "1").returncode == 0
    imported = llmtui("chats", "import", str(exported)).stdout
    assert imported.startswith("imported as conversation ")
    shown = llmtui("chats", "show", imported.split()[-1])
    assert "Hi there." in shown.stdout and "Greeting" in shown.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"some": "thing"}')
    for path in (bad, tmp_path / "missing.json", tmp_path):
        result = llmtui("chats", "import", str(path))
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert llmtui("chats", "show", "99").stderr.startswith("Error: no conversation 99")


async def test_the_list_waits_for_the_reply_that_streams(own_home: Path) -> None:
    engine = ScriptedEngine(lambda messages: " ".join(["word"] * 200), delay=0.02)
    app = workbench(engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.chat.store is not None)
        await say(pilot, "Talk.")
        await wait_for(lambda: app.streaming)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not isinstance(app.screen, Conversations)
        assert any("still streaming" in n for n in notes(app))
        await pilot.press("escape")
        await wait_for(lambda: not app.streaming)
        await pilot.press("ctrl+l")
        await wait_for(lambda: isinstance(app.screen, Conversations))
