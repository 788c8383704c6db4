"""A kept conversation as Markdown (to read) or JSON (the whole record, to import back)."""

from __future__ import annotations

import json
import time
from typing import Any

from llmtui.chat.session import Outcome, Turn
from llmtui.chat.store import Conversation, StoreError, done_of, stats_of

FORMAT = "llmtui-conversation"
VERSION = 2  # 2: "kind" (a comparison's turns are round by round, column by column)
KINDS = ("chat", "compare")


def stats_line(turn: Turn) -> str:
    """e.g. '32 tokens · 80.1 tok/s · first token 45 ms · stop', as the chat shows it."""
    done = turn.done
    if turn.outcome is Outcome.FAILED:
        return f"failed: {turn.error}"
    if done is None:
        return turn.outcome.value
    ttft = done.time_to_first_token / 1e6
    place = f" · {done.place}" if done.place else ""
    return (
        f"{done.eval_count} tokens · {done.eval_rate:.1f} tok/s · first token {ttft:.0f} ms · "
        f"{done.done_reason}{place}"
    )


def rounds(turns: list[Turn]) -> list[list[Turn]]:
    """A comparison's turns, a list per round (a round has each column once)."""
    out: list[list[Turn]] = []
    for turn in turns:
        if not out or any(other.model == turn.model for other in out[-1]):
            out.append([])
        out[-1].append(turn)
    return out


def to_markdown(conversation: Conversation) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.created))
    lines = [f"# {conversation.title or 'Untitled conversation'}", ""]
    if conversation.kind == "compare":
        return "\n".join([*lines, *_comparison(conversation, when)]) + "\n"
    lines.append(f"*{conversation.model} · {when} · {len(conversation.turns)} turn(s)*")
    if conversation.system:
        lines += ["", "**System:**", "", _quoted(conversation.system)]
    if conversation.options:
        settings = ", ".join(f"{k} {v}" for k, v in conversation.options.items())
        lines += ["", f"**Parameters:** {settings}"]
    for turn in conversation.turns:
        lines += ["", "## You", "", turn.prompt, "", f"## {turn.model}", "", turn.reply]
        lines += ["", f"*{stats_line(turn)}*"]
    return "\n".join(lines) + "\n"


def _comparison(conversation: Conversation, when: str) -> list[str]:
    """Each round: the prompt, a table of the columns' statistics, then each answer."""
    every = rounds(conversation.turns)
    lines = [f"*A comparison: {conversation.model} · {when} · {len(every)} round(s)*"]
    for number, turns in enumerate(every, 1):
        lines += ["", f"## Round {number}", "", _quoted(turns[0].prompt), ""]
        lines += ["| column | tokens | tok/s | first token | done |", "|---|---|---|---|---|"]
        for turn in turns:
            done = turn.done
            figures = ("-", "-", "-") if done is None else (
                str(done.eval_count), f"{done.eval_rate:.1f}",
                f"{done.time_to_first_token / 1e6:.0f} ms")  # fmt: skip
            ended = done.done_reason if done is not None else turn.outcome.value
            if turn.outcome is Outcome.FAILED:
                ended = f"failed: {turn.error}"
            cells = [turn.model.replace("|", "\\|"), *figures, ended.replace("|", "\\|")]
            lines.append("| " + " | ".join(cells) + " |")
        for turn in turns:
            lines += ["", f"### {turn.model}", "", turn.reply or f"*{stats_line(turn)}*"]
    return lines


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())


def to_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": conversation.kind,
        "uid": conversation.uid,
        "title": conversation.title,
        "model": conversation.model,
        "system": conversation.system,
        "options": conversation.options,
        "created": conversation.created,
        "updated": conversation.updated,
        "turns": [
            {
                "uid": turn.uid,
                "model": turn.model,
                "prompt": turn.prompt,
                "reply": turn.reply,
                "outcome": turn.outcome.value,
                "error": turn.error,
                "stats": stats_of(turn.done),
                "started": turn.started,
                "ended": turn.ended,
            }
            for turn in conversation.turns
        ],
    }


def from_json(text: str) -> Conversation:
    """A conversation from an export's text; StoreError (one line) if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StoreError(f"not a conversation export: not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StoreError(f'not a conversation export (no "format": "{FORMAT}")')
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise StoreError(f"a conversation export of version {version!r}; this llmtui reads "
                         f"up to {VERSION}")  # fmt: skip
    try:
        turns = [_turn(item) for item in data["turns"]]
        options = data["options"]
        if not isinstance(options, dict):
            raise TypeError("options is not an object")
        kind = data.get("kind", "chat")
        if kind not in KINDS:
            raise ValueError(f"a conversation of kind {kind!r}")
        return Conversation(
            0, _text(data["uid"]), _text(data["title"]), _text(data["model"]),
            None if data["system"] is None else _text(data["system"]), options,
            float(data["created"]), float(data["updated"]), turns, kind,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise StoreError(f"not a conversation export: {_why(error)}") from None


def _turn(item: Any) -> Turn:
    if not isinstance(item, dict):
        raise TypeError("a turn is not an object")
    stats = item["stats"]
    done = None if stats is None else done_of(dict(stats), _text(item["reply"]))
    return Turn(
        _text(item["prompt"]), _text(item["model"]), float(item["started"]),
        Outcome(item["outcome"]), done, item["error"],
        None if item["ended"] is None else float(item["ended"]),
        [] if done is not None else [_text(item["reply"])], _text(item["uid"]),
    )  # fmt: skip


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _why(error: Exception) -> str:
    return f"no field {error}" if isinstance(error, KeyError) else str(error)
