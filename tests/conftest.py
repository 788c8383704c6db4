"""Shared fixtures: a private LLMTUI_HOME, one engine, the real starter models."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hubserver import FakeHub

# Before anything reads a path: tests never touch the real home, nor the real Hugging Face
# cache, Ollama store or LM Studio folders (all of which live under HOME by default).
_HOME = tempfile.mkdtemp(prefix="llmtui-test-home-")
# Removed when the run ends: a home holds models (~240-340 MB a run), and leftovers of
# repeated runs filled this machine's disk.
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["LLMTUI_HOME"] = _HOME
os.environ["HOME"] = str(Path(_HOME) / "user")
os.environ["HF_HOME"] = str(Path(_HOME) / "user" / "hf")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for variable in ("OLLAMA_MODELS", "HF_HUB_CACHE", "HF_ENDPOINT", "XDG_CACHE_HOME",
                 "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):  # fmt: skip
    os.environ.pop(variable, None)

from llmtui import library  # noqa: E402
from llmtui.engine import Chunk, Engine, Event, ModelSpec, RequestHandle  # noqa: E402


@pytest.fixture(autouse=True)
def no_draft() -> None:
    """Each test starts without a Modelfile draft left by another (the workbench restores
    one, and then asks before quitting)."""
    from llmtui import drafts

    drafts.discard()


@pytest.fixture(scope="session")
def home() -> Path:
    return Path(_HOME)


@pytest.fixture
def short_home(home: Path, tmp_path: Path) -> Path:
    """`home`'s models and data, with settings that keep every reply short: for one-shot
    `llmtui run` tests that cannot /set num_predict, where a sampled reply (or a completion
    model that never says end-of-text) otherwise ran to num_ctx, 60-110 s in one suite."""
    short = tmp_path / "short-home"
    short.mkdir()
    for part in ("data", "cache", "state"):
        (home / part).mkdir(parents=True, exist_ok=True)
        (short / part).symlink_to(home / part)
    (short / "config").mkdir()
    (short / "config" / "settings.toml").write_text("[parameters]\nnum_predict = 64\n")
    return short


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


class CancelAfter:
    """A request's `on_event` that cancels it once `chunks` chunks have come (from within
    the last one's event, as a user's Esc lands between two tokens). Set `handle` to the
    request's handle as soon as it is made."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.seen: list[Event] = []
        self.handle: RequestHandle | None = None

    def __call__(self, event: Event) -> None:
        self.seen.append(event)
        if sum(isinstance(e, Chunk) for e in self.seen) == self.chunks:
            assert self.handle is not None
            self.handle.cancel()

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.seen if isinstance(e, Chunk))


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


@pytest.fixture(scope="session")
def variant_gguf(smollm2: ModelSpec, home: Path) -> Path:
    """A real, loadable GGUF that is not a starter: SmolLM2 with another general.name, so
    its bytes (and sha256) differ while llama.cpp loads it the same."""
    data = smollm2.path.read_bytes()
    old = b"Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert data.count(old) == 1
    path = home / "variant" / "Variant-135M.Q4_1.gguf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.replace(old, b"Variant 135M for llmtui tests!!"))
    return path


def tiny_gguf(path: Path, name: str = "tiny", layers: int = 2) -> Path:
    """A GGUF with metadata and no tensors: enough for listings, not for running."""
    import struct

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<Q", len(raw)) + raw

    kvs = [
        (b"general.architecture", 8, text("llama")),
        (b"general.name", 8, text(name)),
        (b"llama.block_count", 4, struct.pack("<I", layers)),
        (b"llama.context_length", 4, struct.pack("<I", 2048)),
        (b"llama.embedding_length", 4, struct.pack("<I", 64)),
        (b"llama.attention.head_count", 4, struct.pack("<I", 4)),
        (b"general.file_type", 4, struct.pack("<I", 15)),
    ]
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs))
    for key, kind, value in kvs:
        body += struct.pack("<Q", len(key)) + key + struct.pack("<I", kind) + value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


@pytest.fixture
def fake_hub(
    variant_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeHub]:
    readme = tmp_path / "README.md"
    readme.write_text("# a model card\n")
    data = variant_gguf.read_bytes()
    half = len(data) // 2
    (tmp_path / "part1").write_bytes(data[:half])
    (tmp_path / "part2").write_bytes(data[half:])
    server = FakeHub(
        {
            "tester/Variant-GGUF": {"Variant-135M.Q4_1.gguf": variant_gguf, "README.md": readme},
            "tester/Split-GGUF": {
                "split-Q8_0-00001-of-00002.gguf": tmp_path / "part1",
                "split-Q8_0-00002-of-00002.gguf": tmp_path / "part2",
            },
            "tester/no-gguf": {"README.md": readme},
        },
        downloads={"tester/Variant-GGUF": 1234, "tester/Split-GGUF": 56},
    )
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.close()
    shutil.rmtree(Path(os.environ["HF_HOME"]) / "hub", ignore_errors=True)
