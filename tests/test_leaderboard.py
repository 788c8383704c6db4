"""Blind votes: the leaderboard they make, and how the conversation store keeps them."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from llmtui.chat.leaderboard import BAD, BASE, TIE, Vote, games, standings
from llmtui.chat.store import MIGRATIONS, ConversationStore


def test_a_vote_is_games_between_the_columns_shown() -> None:
    assert games(Vote(("a", "b", "c"), "b")) == [("b", "a", 1.0), ("b", "c", 1.0)]
    assert games(Vote(("a", "b"), TIE)) == [("a", "b", 0.5)]
    assert games(Vote(("a", "b", "c"), BAD)) == [("a", "b", 0.5), ("a", "c", 0.5),
                                                  ("b", "c", 0.5)]  # fmt: skip
    with pytest.raises(ValueError, match="not one of the columns shown"):
        Vote(("a", "b"), "z")


def test_who_wins_more_scores_higher_and_the_order_of_votes_does_not_matter() -> None:
    votes = [Vote(("a", "b"), "a")] * 3 + [Vote(("a", "b"), "b"), Vote(("b", "c"), "b"),
                                           Vote(("a", "c"), TIE)]  # fmt: skip
    board = standings(votes)
    assert [row.name for row in board] == ["a", "b", "c"]
    a, _, c = board
    assert (a.wins, a.ties, a.losses, a.votes) == (3, 1, 1, 5)
    assert (c.wins, c.ties, c.losses, c.votes) == (0, 1, 1, 2)
    shuffled = votes[:]
    random.Random(3).shuffle(shuffled)
    assert [round(row.score, 6) for row in standings(shuffled)] == [
        round(row.score, 6) for row in board
    ]


def test_ties_are_even_and_a_column_that_never_won_keeps_a_finite_score() -> None:
    even = standings([Vote(("a", "b"), TIE), Vote(("a", "b"), BAD)])
    assert [round(row.score, 6) for row in even] == [BASE, BASE]
    lopsided = standings([Vote(("a", "b"), "a")] * 20)
    assert lopsided[0].score > BASE > lopsided[1].score > 0
    assert standings([]) == []


def test_votes_are_kept_and_a_schema_1_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    old.execute("INSERT INTO conversations (uid, title, model, system, options, created, "
                "updated) VALUES ('u', 'Old chat', 'm', NULL, '{}', 1, 2)")  # fmt: skip
    old.commit()
    old.close()
    store = ConversationStore(path)
    try:
        [summary] = store.conversations()
        assert (summary.title, summary.kind) == ("Old chat", "chat")
        store.add_vote(Vote(("m", "n"), "n", "Which?", "conv"))
        [vote] = store.votes()
        assert (vote.columns, vote.choice, vote.prompt, vote.conversation) == (
            ("m", "n"),
            "n",
            "Which?",
            "conv",
        )
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
