"""Blind votes and the leaderboard they make.

A vote is cast on one round of a blind comparison: one column better than the others, a
tie, or all bad. Each vote counts as games between the columns shown (the winner beat each
other; a tie or "all bad" is a draw for every pair, as LMSYS's arena counts "both bad"),
and the scores are a Bradley-Terry fit of all the games at once: unlike Elo, the order the
votes came in does not change them.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

TIE = "tie"
BAD = "bad"
BASE, SPREAD = 1000, 400  # a score of BASE + SPREAD is 10:1 to beat BASE
ROUNDS = 500  # of the fit's updates, at most


@dataclass(frozen=True)
class Vote:
    columns: tuple[str, ...]  # the columns voted on, in the order shown (A, B, ...)
    choice: str  # the better column's label, TIE or BAD
    prompt: str = ""
    conversation: str = ""  # the comparison's id
    created: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.choice not in (*self.columns, TIE, BAD):
            raise ValueError(f"a vote for {self.choice!r}, not one of the columns shown")


@dataclass(frozen=True)
class Standing:
    name: str
    score: float
    wins: int
    ties: int
    losses: int
    votes: int  # the votes it was shown in


def games(vote: Vote) -> list[tuple[str, str, float]]:
    """(a, b, a's share: 1 won, 0.5 drawn) for each pair of columns in the vote."""
    if vote.choice in (TIE, BAD):
        return [(a, b, 0.5) for a, b in combinations(vote.columns, 2) if a != b]
    return [(vote.choice, other, 1.0) for other in vote.columns if other != vote.choice]


def standings(votes: Iterable[Vote]) -> list[Standing]:
    """Every column voted on, best first."""
    won: dict[str, float] = defaultdict(float)
    played: dict[tuple[str, str], int] = defaultdict(int)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # wins ties losses votes
    for vote in votes:
        for name in set(vote.columns):
            tally[name][3] += 1
        for a, b, share in games(vote):
            won[a] += share
            won[b] += 1 - share
            played[a, b] += 1
            played[b, a] += 1
            outcome = {1.0: (0, 2), 0.5: (1, 1)}[share]
            tally[a][outcome[0]] += 1
            tally[b][outcome[1]] += 1
    strength = _fit(sorted(tally), won, played)
    rows = [Standing(name, BASE + SPREAD * math.log10(strength[name]), *tally[name])
            for name in tally]  # fmt: skip
    return sorted(rows, key=lambda row: (-row.score, row.name))


def _fit(
    names: Sequence[str], won: dict[str, float], played: dict[tuple[str, str], int]
) -> dict[str, float]:
    """Bradley-Terry strengths by Hunter's MM updates. Each name also plays one drawn game
    against a fixed anchor of strength 1: a column that never won (or never lost) keeps a
    finite score, and few votes stay near the middle."""
    strength = dict.fromkeys(names, 1.0)
    for _ in range(ROUNDS):
        moved = 0.0
        for name in names:
            total = 1.0 / (strength[name] + 1.0)  # the anchor game
            for other in names:
                if (count := played.get((name, other), 0)) and other != name:
                    total += count / (strength[name] + strength[other])
            new = (won.get(name, 0.0) + 0.5) / total
            moved = max(moved, abs(math.log(new / strength[name])))
            strength[name] = new
        if moved < 1e-9:
            break
    return strength
