"""Incremental detokenising and stop strings."""

import pytest

from llmtui.engine.detok import StopMatcher


def feed_all(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    out.append(matcher.flush())
    return "".join(out), False


@pytest.mark.parametrize(
    ("pieces", "stops", "expected", "hit"),
    [
        (["Hello", " wor", "ld"], ["world"], "Hello ", True),
        (["a<", "|e", "nd|>", "b"], ["<|end|>"], "a", True),
        (["a<", "b"], ["<|end|>"], "a<b", False),
        (["no stop", " here"], [], "no stop here", False),
        (["xUser", ":"], ["\nUser:"], "xUser:", False),
        (["x\nUs", "er: y"], ["\nUser:"], "x", True),
        (["ab", "cd"], ["bc", "abcd"], "", True),  # the earliest match wins
    ],
)
def test_stop_strings_split_over_pieces(
    pieces: list[str], stops: list[str], expected: str, hit: bool
) -> None:
    assert feed_all(StopMatcher(stops), pieces) == (expected, hit)


def test_only_a_possible_stop_prefix_is_held_back() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("abcS") == ("abc", False)
    assert matcher.feed("T") == ("", False)
    assert matcher.feed("x") == ("STx", False)
