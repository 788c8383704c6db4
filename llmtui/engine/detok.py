"""Turning generated tokens into text one token at a time.

Each token's bytes are decoded incrementally, so a character split across tokens comes out
whole once its last byte arrives; stop strings are matched on a short held-back tail, so the
cost per token stays constant however long the reply grows.
"""

from __future__ import annotations

import codecs
import ctypes
import re
from collections.abc import Sequence

import llama_cpp

# Special tokens as vocabularies spell them: <start_of_image>, <end_of_turn>, <unused12>...
# (an HTML tag, also user-defined in some vocabularies, has no underscore and stays text).
_MARKUP = re.compile(r"<(?:[a-z]+_[a-z0-9_]+|unused\d+|mask|pad)>|\[multimodal\]")


class Detokenizer:
    """Token id -> text piece, with UTF-8 sequences split over tokens handled."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p) -> None:
        self._vocab = vocab
        self._buffer = ctypes.create_string_buffer(256)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._hidden: dict[int, bool] = {}  # token -> a vocabulary's markup, not text

    def _is_markup(self, token: int) -> bool:
        """Control tokens print as nothing already; some vocabularies mark their special
        tokens only as user-defined (Gemma 3's <start_of_image>), which print as text."""
        attr = llama_cpp.llama_vocab_get_attr(self._vocab, token)
        if not attr & llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED:
            return False
        text = llama_cpp.llama_vocab_get_text(self._vocab, token) or b""
        return _MARKUP.fullmatch(text.decode("utf-8", errors="replace")) is not None

    def piece(self, token: int) -> str:
        hidden = self._hidden.get(token)
        if hidden is None:
            hidden = self._hidden[token] = self._is_markup(token)
        if hidden:
            return ""
        n = llama_cpp.llama_token_to_piece(self._vocab, token, self._buffer, 256, 0, False)
        if n < 0:  # a piece longer than the buffer: grow it once and retry
            self._buffer = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, self._buffer, -n, 0, False)
        return self._decoder.decode(self._buffer.raw[:n])

    def flush(self) -> str:
        """Whatever bytes are still pending (an incomplete character becomes U+FFFD)."""
        return self._decoder.decode(b"", final=True)


class StopMatcher:
    """Finds stop strings in streamed text, holding back only what could start one."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._hold = max((len(s) for s in self._stops), default=1) - 1
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Add `text`; return what can be emitted now and whether a stop string was found
        (then the text is cut before it and nothing more should be generated)."""
        if not self._stops:
            return text, False
        self._pending += text
        found = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        if found:
            out = self._pending[: min(found)]
            self._pending = ""
            return out, True
        keep = self._partial_suffix()
        cut = len(self._pending) - keep
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out, False

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return out

    def _partial_suffix(self) -> int:
        """Length of the longest tail of the pending text that begins some stop string."""
        tail = self._pending[-self._hold :] if self._hold else ""
        for start in range(len(tail)):
            chunk = tail[start:]
            if any(stop.startswith(chunk) for stop in self._stops):
                return len(chunk)
        return 0
