"""Pull and search against a stand-in of the Hugging Face Hub on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hubserver import FakeHub
from tqdm.auto import tqdm

from llmtui import library
from llmtui.library import hub
from llmtui.library.hub import HubError


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmtui", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)  # fmt: skip


def test_pull_lists_and_runs(fake_hub: FakeHub) -> None:
    result = cli("pull", "hf.co/tester/Variant-GGUF:Q4_1")
    assert result.returncode == 0, result.stderr
    assert "success: hf.co/tester/Variant-GGUF:Q4_1 is in" in result.stdout
    # The progress bar: bytes, rate and time left.
    assert "Variant-135M.Q4_1.gguf: 100%" in result.stderr and "ETA" in result.stderr
    model = library.find("hf.co/tester/variant-gguf:q4_1")
    assert model.sources == ("hf-cache",)
    assert model.path is not None and model.path.is_relative_to(Path(os.environ["HF_HOME"]))
    ran = cli("run", "hf.co/tester/Variant-GGUF:Q4_1", "Say hi.")
    assert ran.returncode == 0 and ran.stdout.strip()


def test_default_quant_falls_back_to_the_closest(fake_hub: FakeHub) -> None:
    pulled = hub.pull("tester/Variant-GGUF")
    assert pulled.quant == "Q4_1"
    assert pulled.note == "no Q4_K_M file; took Q4_1, the closest of: Q4_1"


def test_cut_transfer_resumes_and_is_verified(fake_hub: FakeHub, variant_gguf: Path) -> None:
    fake_hub.cut.add("Variant-135M.Q4_1.gguf")
    pulled = hub.pull("hf.co/tester/Variant-GGUF:Q4_1")
    assert pulled.path.read_bytes() == variant_gguf.read_bytes()
    ranges = [r for method, path, r in fake_hub.requests if method == "GET" and r]
    assert ranges and ranges[0].startswith("bytes=") and ranges[0] != "bytes=0-"


def test_corrupt_download_is_refused_and_removed(fake_hub: FakeHub) -> None:
    fake_hub.corrupt.add("Variant-135M.Q4_1.gguf")
    with pytest.raises(
        HubError, match=r"does not match the hub's sha256 .* it was deleted, pull again"
    ):
        hub.pull("hf.co/tester/Variant-GGUF:Q4_1")
    assert not any(m.name.startswith("hf.co/tester") for m in library.list_models())
    blobs = list((Path(os.environ["HF_HOME"]) / "hub").rglob("blobs/*"))
    assert blobs == []


def test_split_models_download_every_part(fake_hub: FakeHub) -> None:
    pulled = hub.pull("hf.co/tester/Split-GGUF:Q8_0")
    assert pulled.path.name == "split-Q8_0-00001-of-00002.gguf"
    assert (pulled.path.parent / "split-Q8_0-00002-of-00002.gguf").exists()


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "hf.co/tester/missing",
            "Error: there is no model repository tester/missing on Hugging Face",
        ),
        (
            "hf.co/tester/no-gguf",
            "Error: hf.co/tester/no-gguf has no GGUF files: llmtui runs GGUF models only",
        ),
        ("hf.co/not a repo", "Error: 'hf.co/not a repo' is not a Hugging Face reference"),
    ],
)
def test_pull_errors(fake_hub: FakeHub, reference: str, message: str) -> None:
    result = cli("pull", reference)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message)
    assert "Traceback" not in result.stderr


def test_unreachable_hub(fake_hub: FakeHub) -> None:
    result = cli("pull", "hf.co/tester/Variant-GGUF", HF_ENDPOINT="http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot reach Hugging Face at http://127.0.0.1:9")


def test_disk_full_is_said_before_downloading(fake_hub: FakeHub) -> None:
    with pytest.raises(
        HubError,
        match=r"not enough disk space for hf.co/tester/Variant-GGUF:Q4_1: it needs 98 MB, and 1 MB is free",
    ):
        hub.pull("hf.co/tester/Variant-GGUF:Q4_1", free_space=lambda path: 1_000_000)
    assert not [r for r in fake_hub.requests if "/resolve/" in r[1]]


def test_ctrl_c_cancels_and_the_next_pull_resumes(fake_hub: FakeHub) -> None:
    fake_hub.slow["Variant-135M.Q4_1.gguf"] = 20_000_000  # ~5 s for the whole file
    process = subprocess.Popen(
        [sys.executable, "-m", "llmtui", "pull", "hf.co/tester/Variant-GGUF:Q4_1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    incomplete: list[Path] = []
    deadline = time.monotonic() + 60
    while not incomplete and time.monotonic() < deadline:
        time.sleep(0.2)
        incomplete = [p for p in Path(os.environ["HF_HOME"]).rglob("*.part")
                      if p.stat().st_size > 1_000_000]  # fmt: skip
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "pull cancelled; run the same command to resume where it stopped" in err
    assert "Traceback" not in err
    assert not any(m.name.startswith("hf.co/tester") for m in library.list_models())
    del fake_hub.slow["Variant-135M.Q4_1.gguf"]
    assert cli("pull", "hf.co/tester/Variant-GGUF:Q4_1").returncode == 0
    resumed = [r for method, _, r in fake_hub.requests if method == "GET" and r]
    assert resumed, "the second pull asked for the rest of the file only"


def test_search(fake_hub: FakeHub) -> None:
    result = cli("search", "gguf")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DOWNLOADS", "LIKES", "UPDATED"]
    assert lines[1].startswith("hf.co/tester/Variant-GGUF") and "1,234" in lines[1]
    assert lines[2].startswith("hf.co/tester/Split-GGUF")
    assert "no-gguf" not in result.stdout
    files = cli("search", "--files", "hf.co/tester/Split-GGUF")
    assert files.returncode == 0
    row = files.stdout.splitlines()[1]
    assert row.startswith("hf.co/tester/Split-GGUF:Q8_0") and " fits " in row
    assert "split-Q8_0-00001-of-00002.gguf + split-Q8_0-00002-of-00002.gguf" in row
    nothing = cli("search", "zzz-nothing")
    assert nothing.stdout.strip() == "no GGUF models on Hugging Face match 'zzz-nothing'"


def test_cancel_event_stops_a_pull_and_keeps_the_part(fake_hub: FakeHub) -> None:
    fake_hub.slow["Variant-135M.Q4_1.gguf"] = 20_000_000
    cancel = threading.Event()
    seen: list[int] = []

    class Progress(tqdm):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **{**kwargs, "disable": True})  # type: ignore[arg-type]

        def update(self, n: float | None = 1) -> bool | None:
            seen.append(int(n or 0))
            if sum(seen) > 1_000_000:
                cancel.set()
            return super().update(n)

    with pytest.raises(hub.PullCancelled, match="pulling it again resumes"):
        hub.pull("hf.co/tester/Variant-GGUF:Q4_1", progress=Progress, cancel=cancel)
    parts = list(Path(os.environ["HF_HOME"]).rglob("*.part"))
    assert parts and parts[0].stat().st_size > 1_000_000
    del fake_hub.slow["Variant-135M.Q4_1.gguf"]
    assert hub.pull("hf.co/tester/Variant-GGUF:Q4_1").quant == "Q4_1"
