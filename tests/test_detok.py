"""Incremental detokenising and stop strings."""

import llama_cpp
import pytest
from llama_cpp import Llama

from llmtui.engine import ModelSpec
from llmtui.engine.detok import Detokenizer, StopMatcher


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


def test_a_vocabularys_markup_tokens_are_not_printed(gemma3: ModelSpec) -> None:
    """Gemma 3 marks <start_of_image> and its kin as user-defined, not control: printed,
    a completion model's text showed a literal <start_of_image>. HTML stays text."""
    llm = Llama(str(gemma3.path), vocab_only=True, verbose=False)
    try:
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        detok = Detokenizer(vocab)
        for markup in ("<start_of_image>", "<end_of_image>", "<start_of_turn>", "<unused5>"):
            (token,) = llm.tokenize(markup.encode(), add_bos=False, special=True)
            assert detok.piece(token) == "", markup
        text = "".join(detok.piece(t) for t in llm.tokenize(b"<b>bold</b> and a_b", add_bos=False, special=True))
        assert text == "<b>bold</b> and a_b"
    finally:
        llm.close()
