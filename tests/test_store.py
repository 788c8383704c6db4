"""Kept conversations: the SQLite store, export and import, bad files, crashes and two
writers at once (on a scripted engine; test_cli_chat.py kills a real `llmtui run`)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scripted import ScriptedEngine

from llmtui import library
from llmtui.chat import ChatSession, Outcome
from llmtui.chat import commands as c
from llmtui.chat.export import from_json, to_json, to_markdown
from llmtui.chat.store import SCHEMA, ConversationStore, StoreError

TESTS = Path(__file__).parent


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    store = ConversationStore(tmp_path / "conversations.db")
    yield store  # type: ignore[misc]
    store.close()


def chat(store: ConversationStore, engine: ScriptedEngine | None = None) -> ChatSession:
    session = ChatSession(engine or ScriptedEngine(), library.find("smollm2:135m"))
    store.attach(session)
    return session


def test_a_conversation_is_kept_turn_by_turn(store: ConversationStore) -> None:
    session = chat(store)
    session.run(c.parse("/set system Be brief."))
    session.run(c.parse("/set parameter temperature 0.3"))
    for text in ("Hi", "How are you?"):
        session.send(text).wait(5)
    assert store.flush()
    [summary] = store.conversations()
    assert (summary.title, summary.model, summary.turns) == ("Hi", "smollm2:135m", 2)
    kept = store.load(summary.id)
    assert kept.system == "Be brief." and kept.options == {"temperature": 0.3}
    assert [(t.prompt, t.reply, t.outcome) for t in kept.turns] == [
        ("Hi", "You said: Hi", Outcome.DONE),
        ("How are you?", "You said: How are you?", Outcome.DONE),
    ]
    assert kept.turns[0].done == session.turns[0].done  # every statistic


def test_edits_follow_and_clear_starts_a_new_one(store: ConversationStore) -> None:
    session = chat(store)
    for text in ("a", "b", "c"):
        session.send(text).wait(5)
    session.edit(1, "B").wait(5)
    session.delete(0)
    store.flush()
    [summary] = store.conversations()
    assert [t.prompt for t in store.load(summary.id).turns] == ["B"]
    session.clear()
    session.send("new").wait(5)
    store.flush()
    assert [s.title for s in store.conversations()] == ["new", "a"]
    session.truncate(0)  # all of it taken back: nothing left to keep
    store.flush()
    assert [s.title for s in store.conversations()] == ["a"]


def test_continuing_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    first = ConversationStore(path)
    chat(first).send("Remember the word plum.").wait(5)
    first.close()
    second = ConversationStore(path)
    try:
        latest = second.latest()
        assert latest is not None
        engine = ScriptedEngine()
        session = chat(second, engine)
        session.restore(second.load(latest.id))
        session.send("Which word?").wait(5)
        sent = engine.requests[-1].messages
        assert sent is not None and sent[0].content == "Remember the word plum."
        second.flush()
        assert [s.turns for s in second.conversations()] == [2]
    finally:
        second.close()


def test_a_reply_in_progress_is_written_within_a_second(store: ConversationStore) -> None:
    engine = ScriptedEngine(lambda messages: " ".join(["word"] * 60), delay=0.05)
    session = chat(store, engine)
    handle = session.send("Talk")
    time.sleep(1.2)
    db = sqlite3.connect(store.path)
    reply, outcome = db.execute("SELECT reply, outcome FROM turns").fetchone()
    assert outcome == "streaming" and reply.startswith("word word")
    handle.cancel()
    handle.wait(5)
    store.flush()
    assert db.execute("SELECT outcome FROM turns").fetchone() == ("stopped",)


def test_search_finds_words_in_prompts_and_replies(store: ConversationStore) -> None:
    for text in ("Tell me about plums", "Tell me about pears", "Café au lait?"):
        session = chat(store)
        session.send(text).wait(5)
    store.flush()
    assert [s.title for s in store.search("plums")] == ["Tell me about plums"]
    assert len(store.search("tell about")) == 2
    assert [s.title for s in store.search("café")] == ["Café au lait?"]
    assert store.search('"; DROP TABLE turns; --') == []


def test_export_delete_import_gives_the_same_conversation(store: ConversationStore) -> None:
    session = chat(store)
    session.run(c.parse("/set system Be brief."))
    session.send("One").wait(5)
    session.send("Two").wait(5)
    store.flush()
    [summary] = store.conversations()
    before = store.load(summary.id)
    exported = json.dumps(to_json(before))
    markdown = to_markdown(before)
    assert "## You\n\nOne" in markdown and "tok/s" in markdown and "> Be brief." in markdown
    store.delete(summary.id)
    assert store.conversations() == []
    after = store.load(store.add(from_json(exported)))
    assert to_json(after) == to_json(before)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json at all", "not JSON"),
        ('{"turns": []}', 'no "format"'),
        ('{"format": "llmtui-conversation", "version": 99}', "version 99"),
        ('{"format": "llmtui-conversation", "version": 1, "uid": "x"}', "no field"),
        ('{"format": "llmtui-conversation", "version": 1, "uid": 3, "title": "", "model": "m",'
         ' "system": null, "options": {}, "created": 0, "updated": 0, "turns": []}',
         "is not text"),
    ],
)  # fmt: skip
def test_an_import_that_is_not_an_export_is_one_line(text: str, said: str) -> None:
    with pytest.raises(StoreError) as raised:
        from_json(text)
    assert said in str(raised.value) and "\n" not in str(raised.value)


def test_a_database_from_a_newer_llmtui_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA + 1}")
    db.execute("CREATE TABLE theirs (x)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer llmtui"):
        ConversationStore(path)
    assert path.read_bytes() == before


def test_a_corrupt_database_is_set_aside_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    path.write_bytes(b"this is not SQLite" * 100)
    store = ConversationStore(path)
    try:
        assert store.problem is not None and "set aside" in store.problem
        [aside] = tmp_path.glob("conversations.db.damaged-*")
        assert aside.read_bytes() == b"this is not SQLite" * 100
        chat(store).send("Hi").wait(5)
        store.flush()
        assert len(store.conversations()) == 1
    finally:
        store.close()


WRITER = """
import sys
sys.path.insert(0, {tests!r})
from scripted import ScriptedEngine
from llmtui import library
from llmtui.chat import ChatSession
from llmtui.chat.store import ConversationStore
store = ConversationStore(__import__("pathlib").Path({path!r}))
for n in range(15):
    session = ChatSession(ScriptedEngine(), library.find("smollm2:135m"))
    store.attach(session)
    for turn in range(4):
        session.send(f"{{sys.argv[1]}} conversation {{n}} turn {{turn}}").wait(5)
store.close()
print(store.problem or "ok")
"""


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    code = WRITER.format(tests=str(TESTS), path=str(path))
    writers = [
        subprocess.Popen([sys.executable, "-c", code, name], stdout=subprocess.PIPE, text=True)
        for name in ("left", "right")
    ]
    outputs = [writer.communicate(timeout=120)[0].strip() for writer in writers]
    assert outputs == ["ok", "ok"]
    store = ConversationStore(path)
    try:
        found = store.conversations()
        assert len(found) == 30 and {s.turns for s in found} == {4}
    finally:
        store.close()


KILLED = """
import sys, time
sys.path.insert(0, {tests!r})
from scripted import ScriptedEngine
from llmtui import library
from llmtui.chat import ChatSession
from llmtui.chat.store import ConversationStore
store = ConversationStore(__import__("pathlib").Path({path!r}))
engine = ScriptedEngine(lambda messages: "one two three four five six seven eight nine ten "
                        * (1 if len(messages) == 1 else 50), delay=0.02)
session = ChatSession(engine, library.find("smollm2:135m"))
store.attach(session)
session.send("First").wait(5)
session.send("Second")
print("streaming", flush=True)
time.sleep(60)
"""


def test_kill_9_mid_reply_loses_at_most_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    code = KILLED.format(tests=str(TESTS), path=str(path))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "streaming"
    time.sleep(1.5)
    os.kill(process.pid, 9)
    process.wait()
    store = ConversationStore(path)
    try:
        [summary] = store.conversations()
        first, second = store.load(summary.id).turns
        assert first.outcome is Outcome.DONE and first.reply.startswith("one two")
        # Read back as stopped where it got to: 1.5 s at 50 words a second, written every
        # half second.
        assert second.outcome is Outcome.STOPPED
        assert len(second.reply.split()) >= 40
    finally:
        store.close()
