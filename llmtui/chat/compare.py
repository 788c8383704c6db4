"""Comparing models: the same prompts to several columns, each a chat session (a model, or
a Modelfile over one), with each answer's statistics. UI-free: `llmtui compare` prints a
round; the workbench's compare view will show one.

This first schedule runs the columns in turn, each at the threads the engine gives one
generating model: on a machine whose cores one model's threads fill, two at once would
halve each (measured in issue 19's two-model bench).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmtui.chat.session import ChatSession, Outcome, SessionError
from llmtui.engine.errors import EngineError


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


def ask_all(columns: Iterable[Column], prompt: str) -> list[Cell]:
    """`prompt` to every column, each in a fresh conversation; a column that fails says so
    in its cell, and the others still answer."""
    return [_ask(column, prompt) for column in columns]


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
