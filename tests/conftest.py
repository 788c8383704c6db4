"""Shared fixtures: a private LLMTUI_HOME, one engine, the real starter models."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Before anything reads a path: tests never touch the real home.
_HOME = tempfile.mkdtemp(prefix="llmtui-test-home-")
os.environ["LLMTUI_HOME"] = _HOME

from llmtui import library  # noqa: E402
from llmtui.engine import Engine, ModelSpec  # noqa: E402


@pytest.fixture(scope="session")
def home() -> Path:
    return Path(_HOME)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    engine = Engine()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def smollm2() -> ModelSpec:
    return library.find("smollm2:135m").spec()


@pytest.fixture(scope="session")
def gemma3() -> ModelSpec:
    return library.find("gemma3:270m").spec()


# Greedy and short: fast, and the same text every time.
GREEDY = {"temperature": 0, "num_predict": 32, "seed": 7}


def script(*lines: str | type[BaseException]) -> Callable[[str], str]:
    """A stand-in for input(): returns each line in turn (raising any exception class
    given instead), then EOFError, as a terminal does at Ctrl+D."""
    feed: Iterator[str | type[BaseException]] = iter(lines)

    def read(prompt: str) -> str:
        item = next(feed, EOFError)
        if isinstance(item, type):
            raise item
        return item

    return read
