"""Conversations that are kept: every chat session, saved as it happens, in SQLite.

One file under the data dir (`conversations.db`, WAL: readers never wait for the writer,
and two llmtui processes write safely, each in its own transactions). The schema's
version is `PRAGMA user_version`; older files are migrated, newer ones refused (never
rewritten), and a file that is not a database is set aside and a new one started.

Writes happen on the store's own thread, never on a face's: a session tells the store
what changed (`attach`), the store queues it, and its thread writes. A reply in progress
is written every half second, so a crash loses at most the last half second of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmtui import paths
from llmtui.chat.leaderboard import Vote
from llmtui.chat.session import Outcome, Turn
from llmtui.engine.events import Done, Perf

SCHEMA = 2
FLUSH = 0.5  # seconds between writes of a reply in progress

_SCHEMA_1 = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    model TEXT NOT NULL,
    system TEXT,
    options TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX conversations_by_update ON conversations(updated);
CREATE TABLE turns (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reply TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    stats TEXT,
    started REAL NOT NULL,
    ended REAL
);
CREATE INDEX turns_by_conversation ON turns(conversation, position);
CREATE VIRTUAL TABLE turns_text USING fts5(
    prompt, reply, content='turns', content_rowid='id', tokenize='unicode61'
);
CREATE TRIGGER turns_text_insert AFTER INSERT ON turns BEGIN
    INSERT INTO turns_text(rowid, prompt, reply) VALUES (new.id, new.prompt, new.reply);
END;
CREATE TRIGGER turns_text_delete AFTER DELETE ON turns BEGIN
    INSERT INTO turns_text(turns_text, rowid, prompt, reply)
    VALUES ('delete', old.id, old.prompt, old.reply);
END;
CREATE TRIGGER turns_text_update AFTER UPDATE OF prompt, reply ON turns BEGIN
    INSERT INTO turns_text(turns_text, rowid, prompt, reply)
    VALUES ('delete', old.id, old.prompt, old.reply);
    INSERT INTO turns_text(rowid, prompt, reply) VALUES (new.id, new.prompt, new.reply);
END;
"""
# 2: comparisons are kept as conversations of their own kind, and blind votes are kept
# apart from them: deleting a comparison keeps its vote on the leaderboard.
_SCHEMA_2 = """
ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    prompt TEXT NOT NULL,
    columns TEXT NOT NULL,
    choice TEXT NOT NULL,
    created REAL NOT NULL
);
"""
# Each entry takes the file from the version before it to its own (index + 1).
MIGRATIONS = [_SCHEMA_1, _SCHEMA_2]


class StoreError(Exception):
    """The conversation store cannot be used, or an import is not an export: one line."""


@dataclass(frozen=True)
class Summary:
    """A conversation in a list: enough to choose one."""

    id: int
    title: str
    model: str
    created: float
    updated: float
    turns: int
    kind: str = "chat"


@dataclass(frozen=True)
class Conversation:
    """A whole conversation, to read, export or continue."""

    id: int
    uid: str
    title: str
    model: str
    system: str | None
    options: dict[str, Any]
    created: float
    updated: float
    turns: list[Turn]
    kind: str = "chat"  # or "compare": the turns round by round, column by column


class Kept(Protocol):
    """What the store keeps: a chat session, or a comparison of several."""

    @property
    def kind(self) -> str: ...
    @property
    def conversation(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def origin(self) -> str: ...
    @property
    def system(self) -> str | None: ...
    @property
    def options(self) -> dict[str, Any]: ...
    @property
    def turns(self) -> list[Turn]: ...
    @property
    def observers(self) -> list[Any]: ...


@dataclass(frozen=True)
class _Snapshot:
    """A session's state when it changed, taken on the face's thread."""

    conversation: str
    kind: str
    title: str
    model: str
    system: str | None
    options: str
    turns: tuple[Turn, ...]


def database_path() -> Path:
    return paths.data_dir() / "conversations.db"


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def open_database(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """The database at `path`, created or migrated; and what was done to a bad file, said
    in a sentence (None if nothing). StoreError for a file from a newer llmtui."""
    path.parent.mkdir(parents=True, exist_ok=True)
    said = None
    try:
        db = _prepare_waiting(path)
    except sqlite3.DatabaseError as error:
        if _locked(error):
            raise StoreError(f"{path} is locked by another program ({error})") from None
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(Path(f"{aside}{suffix}"))
        said = (
            f"{path} could not be read ({error}): it was set aside as {aside.name}, "
            "and a new one started"
        )
        db = _prepare(path)
    return db, said


def _locked(error: sqlite3.DatabaseError) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _prepare_waiting(path: Path, seconds: float = 10.0) -> sqlite3.Connection:
    """`_prepare`, again while another process holds the file: two llmtui processes that
    start at once both create it, and switching a new file to WAL does not wait for the
    other's lock as other statements do (seen: "database is locked")."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return _prepare(path)
        except sqlite3.OperationalError as error:
            if not _locked(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _prepare(path: Path) -> sqlite3.Connection:
    db = _connect(path)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA:  # checked first: even switching it to WAL would change it
            raise StoreError(
                f"{path} was written by a newer llmtui (schema {version}; this one knows "
                f"{SCHEMA}): left as it is, and conversations are not kept in this one"
            )
        db.execute("PRAGMA journal_mode = WAL")
        if version < SCHEMA:
            db.execute("BEGIN IMMEDIATE")
            # Another process may have migrated it while this one waited for the lock.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for script in MIGRATIONS[version:]:
                for statement in _statements(script):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA}")
            db.execute("COMMIT")
        db.execute("SELECT count(*) FROM conversations").fetchone()  # a readable file
    except BaseException:
        db.close()
        raise
    return db


def _statements(script: str) -> Iterator[str]:
    """The statements of `script` (executescript would commit the open transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""


class ConversationStore:
    """Where conversations are kept. Reads answer at once (on any thread); writes go
    through the store's thread."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or database_path()
        self._db, self.problem = open_database(self.path)
        self._lock = threading.Lock()  # the read connection, shared by threads
        self._queue: list[_Snapshot] = []
        self._dirty: dict[str, Turn] = {}  # replies that changed since the last write
        self._due = 0.0  # when they are written (time.monotonic())
        self._wake = threading.Condition()
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._write_loop, name="store", daemon=True)
        self._thread.start()

    # -- from sessions --------------------------------------------------------------------

    def attach(self, session: Kept, now: bool = True) -> None:
        """Keep `session`'s conversation from now on, and what it holds already (unless
        `now` is False: a kept one reopened is written when it changes)."""
        session.observers.append(self._changed)
        if session.turns and now:
            self._changed(session, None)

    def detach(self, session: Kept) -> None:
        session.observers.remove(self._changed)

    def _changed(self, session: Kept, turn: Turn | None) -> None:
        with self._wake:
            if turn is None:
                self._queue.append(
                    _Snapshot(
                        session.conversation, session.kind, session.title, session.origin,
                        session.system, json.dumps(session.options), tuple(session.turns),
                    )
                )  # fmt: skip
            else:
                if not self._dirty:
                    self._due = time.monotonic() + FLUSH
                self._dirty[turn.uid] = turn
                if turn.outcome is Outcome.STREAMING:
                    if len(self._dirty) == 1:
                        self._idle.clear()
                        self._wake.notify()  # the writer now waits until the flush is due
                    return
                self._due = 0.0  # the reply ended: written at once
            self._idle.clear()
            self._wake.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything told so far is written."""
        with self._wake:
            if self._queue or self._dirty:
                self._due = 0.0
                self._idle.clear()
                self._wake.notify()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.flush()
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join(10)
        self._db.close()

    def _write_loop(self) -> None:
        writer = _connect(self.path)
        try:
            while True:
                with self._wake:
                    while not (self._queue or self._closing):
                        if self._dirty and time.monotonic() >= self._due:
                            break
                        wait = max(0.0, self._due - time.monotonic()) if self._dirty else None
                        self._wake.wait(wait)
                    queue, self._queue = self._queue, []
                    dirty, self._dirty = list(self._dirty.values()), {}
                    closing = self._closing
                if queue or dirty:
                    self._write(writer, queue, dirty)
                with self._wake:
                    if not self._queue and not self._dirty:
                        self._idle.set()
                if closing:
                    return
        finally:
            writer.close()

    def _write(self, db: sqlite3.Connection, queue: list[_Snapshot], dirty: list[Turn]) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
            for snapshot in queue:
                self._write_session(db, snapshot)
            for turn in dirty:
                db.execute(
                    "UPDATE turns SET reply = ?, outcome = ?, error = ?, stats = ?, ended = ? "
                    "WHERE uid = ?",
                    (turn.reply, turn.outcome.value, turn.error, _stats(turn.done), turn.ended,
                     turn.uid),
                )  # fmt: skip
            db.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            self.problem = f"conversations could not be saved: {error}"

    def _write_session(self, db: sqlite3.Connection, snap: _Snapshot) -> None:
        row = db.execute("SELECT id FROM conversations WHERE uid = ?", (snap.conversation,))
        found = row.fetchone()
        if not snap.turns:
            if found:  # every turn was taken back: nothing left to keep
                db.execute("DELETE FROM conversations WHERE id = ?", (found[0],))
            return
        now = time.time()
        if found:
            key = found[0]
            db.execute(
                "UPDATE conversations SET title = ?, model = ?, system = ?, options = ?, "
                "updated = ? WHERE id = ?",
                (snap.title, snap.model, snap.system, snap.options, now, key),
            )
        else:
            key = db.execute(
                "INSERT INTO conversations (uid, kind, title, model, system, options, "
                "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (snap.conversation, snap.kind, snap.title, snap.model, snap.system,
                 snap.options, snap.turns[0].started, now),
            ).lastrowid  # fmt: skip
        uids = [turn.uid for turn in snap.turns]
        marks = ",".join("?" * len(uids))
        db.execute(f"DELETE FROM turns WHERE conversation = ? AND uid NOT IN ({marks})",
                   (key, *uids))  # fmt: skip
        for position, turn in enumerate(snap.turns):
            _upsert_turn(db, key, position, turn)

    # -- reading --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def conversations(self, limit: int = 200, offset: int = 0) -> list[Summary]:
        """The latest first."""
        with self._reading() as db:
            rows = db.execute(
                f"{_SUMMARY} ORDER BY c.updated DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [Summary(*row) for row in rows]

    def search(self, text: str, limit: int = 200) -> list[Summary]:
        """Conversations whose prompts or replies hold every word of `text` (or whose
        title does), the latest first."""
        words = [f'"{word.replace(chr(34), chr(34) * 2)}"' for word in text.split()]
        if not words:
            return self.conversations(limit)
        query = " ".join(words)
        with self._reading() as db:
            rows = db.execute(
                f"{_SUMMARY} WHERE c.id IN (SELECT t2.conversation FROM turns_text "
                "JOIN turns t2 ON t2.id = turns_text.rowid WHERE turns_text MATCH ?) "
                "OR c.title LIKE ? ESCAPE '\\' ORDER BY c.updated DESC LIMIT ?",
                (query, f"%{_like(text.strip())}%", limit),
            ).fetchall()
        return [Summary(*row) for row in rows]

    def latest(self) -> Summary | None:
        found = self.conversations(limit=1)
        return found[0] if found else None

    def load(self, key: int) -> Conversation:
        with self._reading() as db:
            row = db.execute(
                "SELECT id, uid, title, model, system, options, created, updated, kind "
                "FROM conversations WHERE id = ?",
                (key,),
            ).fetchone()
            if row is None:
                raise StoreError(f"no conversation {key} (`llmtui chats` lists them)")
            turns = db.execute(
                "SELECT uid, model, prompt, reply, outcome, error, stats, started, ended "
                "FROM turns WHERE conversation = ? ORDER BY position",
                (key,),
            ).fetchall()
        return Conversation(
            row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7],
            [_turn(*turn) for turn in turns], row[8],
        )  # fmt: skip

    def delete(self, key: int) -> None:
        with self._reading() as db:
            gone = db.execute("DELETE FROM conversations WHERE id = ?", (key,)).rowcount
        if not gone:
            raise StoreError(f"no conversation {key} (`llmtui chats` lists them)")

    def rename(self, key: int, title: str) -> None:
        with self._reading() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, key))

    def add(self, conversation: Conversation) -> int:
        """Keep a conversation from elsewhere (an import); its new id."""
        uid = conversation.uid
        with self._reading() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM conversations WHERE uid = ?", (uid,)).fetchone():
                    uid = _new_uid()  # already here: the import is a copy
                key = db.execute(
                    "INSERT INTO conversations (uid, kind, title, model, system, options, "
                    "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (uid, conversation.kind, conversation.title, conversation.model,
                     conversation.system, json.dumps(conversation.options),
                     conversation.created, conversation.updated),
                ).lastrowid  # fmt: skip
                assert key is not None
                for position, turn in enumerate(conversation.turns):
                    if db.execute("SELECT 1 FROM turns WHERE uid = ?", (turn.uid,)).fetchone():
                        turn = dataclasses.replace(turn, uid=_new_uid())
                    _upsert_turn(db, key, position, turn)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return key

    # -- votes ----------------------------------------------------------------------------

    def add_vote(self, vote: Vote) -> None:
        with self._reading() as db:
            db.execute(
                "INSERT INTO votes (conversation, prompt, columns, choice, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (vote.conversation, vote.prompt, json.dumps(vote.columns), vote.choice,
                 vote.created),
            )  # fmt: skip

    def votes(self) -> list[Vote]:
        """Every vote, the oldest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT columns, choice, prompt, conversation, created FROM votes ORDER BY id"
            ).fetchall()
        return [Vote(tuple(json.loads(row[0])), *row[1:]) for row in rows]


# The count per conversation as a subquery: a join grouped over every turn took the whole
# table before the LIMIT.
_SUMMARY = (
    "SELECT c.id, c.title, c.model, c.created, c.updated, "
    "(SELECT count(*) FROM turns t WHERE t.conversation = c.id), c.kind FROM conversations c "
)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _new_uid() -> str:
    return Turn("", "").uid  # the same kind of id a session makes


def _upsert_turn(db: sqlite3.Connection, key: int, position: int, turn: Turn) -> None:
    db.execute(
        "INSERT INTO turns (uid, conversation, position, model, prompt, reply, outcome, "
        "error, stats, started, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(uid) DO UPDATE SET position = excluded.position, "
        "reply = excluded.reply, outcome = excluded.outcome, error = excluded.error, "
        "stats = excluded.stats, ended = excluded.ended",
        (turn.uid, key, position, turn.model, turn.prompt, turn.reply, turn.outcome.value,
         turn.error, _stats(turn.done), turn.started, turn.ended),
    )  # fmt: skip


def stats_of(done: Done | None) -> dict[str, Any] | None:
    """A reply's statistics as plain numbers (its text is kept apart)."""
    if done is None:
        return None
    numbers = dataclasses.asdict(done)
    for kept_apart in ("text", "embeddings", "tool_calls", "context"):
        del numbers[kept_apart]
    return numbers


def done_of(numbers: dict[str, Any], text: str) -> Done:
    return Done(text=text, **{**numbers, "perf": Perf(**numbers["perf"])})


def _stats(done: Done | None) -> str | None:
    numbers = stats_of(done)
    return None if numbers is None else json.dumps(numbers)


def _turn(
    uid: str, model: str, prompt: str, reply: str, outcome: str, error: str | None,
    stats: str | None, started: float, ended: float | None,
) -> Turn:  # fmt: skip
    done = None if stats is None else done_of(json.loads(stats), reply)
    # A reply that was streaming when its process ended stays as far as it got.
    kind = Outcome(outcome)
    if kind is Outcome.STREAMING:
        kind = Outcome.STOPPED
    return Turn(
        prompt, model, started, kind, done, error, ended, [reply] if done is None else [], uid
    )
