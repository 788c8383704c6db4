"""Comparing models: the same prompts to several columns, each a chat session (a model, or
a Modelfile over one), with each answer's statistics. UI-free: `llmtui compare` prints
rounds; the workbench's compare view shows them, and keeps them as one conversation
(`Comparison`).

Two schedules: in turn (each column with all the threads the engine gives one generating
model) or together (each with its share of the cores: the engine splits them). On this
project's 2-core VM two models together made 156-164 tok/s between them against 118-122
for one alone at two threads (bench/busy.py): llama.cpp's second thread adds far less than
a second model does. So columns run together when each can have a core and all fit in
memory together (`choose_schedule`), else in turn; bench/compare.py measures both.
"""

from __future__ import annotations

import contextlib
import difflib
import random
import re
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmtui.chat.session import ChatSession, Outcome, SessionError, Turn
from llmtui.engine.errors import EngineError, OptionError
from llmtui.engine.memory import human_bytes
from llmtui.engine.options import coerce

if TYPE_CHECKING:
    from llmtui.chat.store import Conversation

TOGETHER = "together"
IN_TURN = "in turn"
FREE = 0.8  # of the memory available, what columns run together may take
LETTERS = "ABCD"  # blind columns' names
MAX_COLUMNS = len(LETTERS)


@dataclass(frozen=True)
class Column:
    label: str  # as the user named it: a model, or a Modelfile's path
    session: ChatSession


@dataclass(frozen=True)
class Cell:
    """One column's answer to one prompt."""

    column: str
    prompt: str
    text: str
    outcome: Outcome
    tokens: int = 0
    tokens_per_second: float = 0.0
    first_token_ms: float = 0.0
    load_ms: float = 0.0
    done_reason: str = ""
    error: str | None = None
    ran: str = "here"  # or the server that ran it, and whence the figures


def column_settings(items: Sequence[str]) -> tuple[dict[str, Any], str | None]:
    """`KEY=VALUE` items as a column's parameters (`system=TEXT`: its system prompt);
    ValueError, in one line, for an item that is not one."""
    options: dict[str, Any] = {}
    system = None
    for item in items:
        name, equals, value = item.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ValueError(f"takes KEY=VALUE, not {item!r}")
        if name == "system":
            system = value
            continue
        try:
            options[name] = coerce(name, value.strip())
        except (OptionError, ValueError) as error:
            raise ValueError(f"{item}: {error}") from None
    return options, system


def ask_all(columns: Sequence[Column], prompt: str, schedule: str = IN_TURN) -> list[Cell]:
    """`prompt` to every column, each in a fresh conversation; a column that fails says so
    in its cell, and the others still answer."""
    if schedule != TOGETHER or len(columns) < 2:
        return [_ask(column, prompt) for column in columns]
    with ThreadPoolExecutor(len(columns), thread_name_prefix="compare") as pool:
        return list(pool.map(lambda column: _ask(column, prompt), columns))


def choose_schedule(columns: Sequence[Column], cores: int, available: int) -> tuple[str, str]:
    """TOGETHER or IN_TURN for these columns, and why, in a few words."""
    if len(columns) < 2:
        return IN_TURN, "one column"
    # A model another server runs takes neither cores nor memory here.
    local = [c for c in columns if c.session.spec is None or c.session.spec.served is None]
    if len(local) < 2:
        served = len(columns) - len(local)
        return TOGETHER, f"{served} of {len(columns)} columns on other servers"
    # Columns on one model file share its loaded copy, which answers one at a time.
    models = {column.session.spec.path for column in local if column.session.spec}
    if len(models) < 2:
        return IN_TURN, "one model: its loaded copy answers one column at a time"
    if len(local) > cores:
        return IN_TURN, f"{len(local)} columns here, {cores} cores"
    needed = sum(_memory(column) for column in local)
    memory = f"{human_bytes(needed)} of {human_bytes(available)} free"
    if needed > available * FREE:
        return IN_TURN, f"together they need {memory}"
    return TOGETHER, f"{len(local)} columns on {cores} cores, {memory}"


def _memory(column: Column) -> int:
    """What the column's model needs loaded: its estimate at the context it would run
    with, or (a Modelfile's model, not in the library) its file and a quarter more."""
    session = column.session
    if session.spec is None:
        return 0
    options = session.engine.options_for(session.spec, session.request_options())
    model = session.model
    if model is not None and session.spec.name == model.name:
        estimate = model.estimate(options.num_ctx, options.kv_cache_type)
        if estimate is not None:
            return estimate.total
    return session.spec.path.stat().st_size * 5 // 4


def _ask(column: Column, prompt: str) -> Cell:
    session = column.session
    session.clear()
    try:
        chat = session.has_template()
        handle = session.send(prompt) if chat else session.complete(prompt)
        handle.wait()
    except (EngineError, SessionError, OSError) as error:
        turn = session.turns[-1] if session.turns else None
        return Cell(column.label, prompt, turn.reply if turn else "", Outcome.FAILED,
                    error=str(error))  # fmt: skip
    return cell_of(column.label, session.turns[-1])


def cell_of(label: str, turn: Turn) -> Cell:
    """A column's answer as a cell, from its turn (ended or not)."""
    done = turn.done
    if done is None:
        return Cell(label, turn.prompt, turn.reply, turn.outcome, error=turn.error)
    return Cell(
        label, turn.prompt, done.text, turn.outcome, tokens=done.eval_count,
        tokens_per_second=done.eval_rate, first_token_ms=done.time_to_first_token / 1e6,
        load_ms=done.load_duration / 1e6, done_reason=done.done_reason,
        ran=done.place or "here",
    )  # fmt: skip


def summary(cells: Sequence[Cell]) -> tuple[list[str], bool | None]:
    """A round in a few words (fastest, first token, shortest and longest, what failed),
    and whether the answers are identical (None with fewer than two answers)."""
    answered = [cell for cell in cells if cell.error is None and cell.tokens]
    said = []
    if answered:
        fast = max(answered, key=lambda cell: cell.tokens_per_second)
        first = min(answered, key=lambda cell: cell.first_token_ms)
        said += [f"fastest {fast.column} {fast.tokens_per_second:.1f} tok/s",
                 f"first token {first.column} {first.first_token_ms:.0f} ms"]  # fmt: skip
    if len(answered) > 1:
        short = min(answered, key=lambda cell: cell.tokens)
        long = max(answered, key=lambda cell: cell.tokens)
        said += [f"shortest {short.column} {short.tokens}", f"longest {long.column} {long.tokens}"]
    failed = [cell.column for cell in cells if cell.error is not None]
    if failed:
        said.append(f"failed: {', '.join(failed)}")
    if len(answered) < 2:
        return said, None
    return said, len({cell.text.strip() for cell in answered}) == 1


_WORDS = re.compile(r"\s+|\w+|[^\w\s]")


def diff_words(old: str, new: str) -> list[tuple[str, str]]:
    """Two answers' difference word by word: ("=", text) kept, ("-", text) only in `old`,
    ("+", text) only in `new`. Prose changes within lines, so a line diff would mark
    whole paragraphs."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


@dataclass(frozen=True)
class KeptColumn:
    """A column of a kept comparison: what it ran."""

    label: str
    model: str | None  # None: an unsaved Modelfile
    system: str | None
    options: dict[str, Any]


def kept_columns(conversation: Conversation) -> list[KeptColumn]:
    """The columns of a kept comparison (from an export of another tool, or damaged: the
    columns its turns name, each taken as a model's name)."""
    kept = []
    described = conversation.options.get("columns")
    for item in described if isinstance(described, list) else []:
        if isinstance(item, dict) and isinstance(item.get("label"), str):
            options = {}
            given = item.get("options")
            for name, value in (given if isinstance(given, dict) else {}).items():
                with contextlib.suppress(OptionError, ValueError):  # one this llmtui lacks
                    options[name] = coerce(name, value)
            model, system = item.get("model"), item.get("system")
            model = model if isinstance(model, str) else None
            system = system if isinstance(system, str) else None
            kept.append(KeptColumn(item["label"], model, system, options))
    labels = {column.label for column in kept}
    for turn in conversation.turns:
        if turn.model not in labels:
            labels.add(turn.model)
            kept.append(KeptColumn(turn.model, turn.model, None, {}))
    return kept


# Called with the comparison and the turn whose reply changed (None: the columns or the
# list of turns changed), as a session's observers are.
ComparisonObserver = Callable[["Comparison", Turn | None], None]


class Comparison:
    """Columns asked the same prompts, kept as one conversation: its turns round by round,
    column by column, each under its column's label. In blind mode the columns are shown
    in a new random order each round, as letters, until the user votes."""

    kind = "compare"

    def __init__(self, columns: Sequence[Column], blind: bool = False) -> None:
        self.columns = list(columns)
        self.blind = blind
        self.order = list(range(len(self.columns)))  # the columns as shown, left to right
        self.conversation = uuid.uuid4().hex
        self.title = ""
        self.system: str | None = None  # each column has its own
        self.observers: list[ComparisonObserver] = []
        self._quiet = False
        for column in self.columns:
            column.session.origin = column.label  # each turn is kept under its column's name
            column.session.observers.append(self._column_changed)

    @property
    def origin(self) -> str:
        return " vs ".join(column.label for column in self.columns)

    @property
    def options(self) -> dict[str, Any]:
        """What each column runs, so that an export (or a later version) can say it."""
        return {
            "columns": [
                {
                    "label": column.label,
                    "model": column.session.model.name if column.session.model else None,
                    "system": column.session.system,
                    "options": column.session.options,
                }
                for column in self.columns
            ]
        }

    @property
    def turns(self) -> list[Turn]:
        lists = [column.session.turns for column in self.columns]
        rounds = max(map(len, lists), default=0)
        return [turns[i] for i in range(rounds) for turns in lists if i < len(turns)]

    def letter(self, index: int) -> str:
        """Column `index`'s name in this round's blind order."""
        return LETTERS[self.order.index(index)]

    def shuffle(self, rng: random.Random | None = None) -> None:
        """A new order for the next round (blind mode)."""
        self.order = (rng or random).sample(range(len(self.columns)), len(self.columns))

    def clear(self) -> None:
        """A new comparison with the same columns; the one before stays kept."""
        self._quiet = True  # half-cleared, it would be kept as it was half-way
        try:
            for column in self.columns:
                column.session.clear()
        finally:
            self._quiet = False
        self.conversation, self.title = uuid.uuid4().hex, ""
        self._column_changed(None, None)

    def _column_changed(self, session: ChatSession | None, turn: Turn | None) -> None:
        if self._quiet:
            return
        if session is not None and not self.title:
            self.title = session.title
        for observer in self.observers:
            observer(self, turn)
