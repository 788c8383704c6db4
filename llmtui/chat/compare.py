"""Comparing models: the same prompts to several columns, each a chat session (a model, or
a Modelfile over one), with each answer's statistics. UI-free: `llmtui compare` prints a
round; the workbench's compare view will show one.

Two schedules: in turn (each column with all the threads the engine gives one generating
model) or together (each with its share of the cores: the engine splits them). On this
project's 2-core VM two models together made 156-164 tok/s between them against 118-122
for one alone at two threads (bench/busy.py): llama.cpp's second thread adds far less than
a second model does. So columns run together when each can have a core and all fit in
memory together (`choose_schedule`), else in turn; bench/compare.py measures both.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from llmtui.chat.session import ChatSession, Outcome, SessionError
from llmtui.engine.errors import EngineError
from llmtui.engine.memory import human_bytes

TOGETHER = "together"
IN_TURN = "in turn"
FREE = 0.8  # of the memory available, what columns run together may take


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
    if len(columns) > cores:
        return IN_TURN, f"{len(columns)} columns, {cores} cores"
    needed = sum(_memory(column) for column in columns)
    memory = f"{human_bytes(needed)} of {human_bytes(available)} free"
    if needed > available * FREE:
        return IN_TURN, f"together they need {memory}"
    return TOGETHER, f"{len(columns)} columns on {cores} cores, {memory}"


def _memory(column: Column) -> int:
    """What the column's model needs loaded: its estimate at the context it would run
    with, or (a Modelfile's model, not in the library) its file and a quarter more."""
    session = column.session
    if session.spec is None:
        return 0
    options = session.engine.options_for(session.spec, session.request_options())
    model = session.model
    if model is not None and session.origin == model.name:
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
        done = handle.wait()
    except (EngineError, SessionError, OSError) as error:
        turn = session.turns[-1] if session.turns else None
        return Cell(column.label, prompt, turn.reply if turn else "", Outcome.FAILED,
                    error=str(error))  # fmt: skip
    outcome = Outcome.STOPPED if done.done_reason == "cancel" else Outcome.DONE
    return Cell(
        column.label, prompt, done.text, outcome, tokens=done.eval_count,
        tokens_per_second=done.eval_rate, first_token_ms=done.time_to_first_token / 1e6,
        load_ms=done.load_duration / 1e6, done_reason=done.done_reason,
    )  # fmt: skip
