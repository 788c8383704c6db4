"""The library's sources, built in a temporary home around real GGUF files: Ollama's
store, the Hugging Face cache, LM Studio's folder, settings folders; duplicates, broken
files, hidden models and memory fit."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GREEDY, tiny_gguf

from llmtui import library
from llmtui.engine import Engine, Message, ModelSpec
from llmtui.library import catalog

CHATML = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def home() -> Path:
    return Path(os.environ["HOME"])


def ollama_model(gguf: Path, host: str, namespace: str, model: str, tag: str,
                 **layers: str) -> None:  # fmt: skip
    """An Ollama manifest and blobs, as `ollama pull` leaves them."""
    root = home() / ".ollama" / "models"
    entries = []
    digest = sha256(gguf)
    blob = root / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        shutil.copyfile(gguf, blob)
    entries.append({"mediaType": "application/vnd.ollama.image.model",
                    "digest": f"sha256:{digest}", "size": gguf.stat().st_size})  # fmt: skip
    for kind, content in layers.items():
        data = content.encode()
        layer_digest = hashlib.sha256(data).hexdigest()
        (root / "blobs" / f"sha256-{layer_digest}").write_bytes(data)
        entries.append({"mediaType": f"application/vnd.ollama.image.{kind}",
                        "digest": f"sha256:{layer_digest}", "size": len(data)})  # fmt: skip
    manifest = root / "manifests" / host / namespace / model / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": entries}))


def hf_cached(gguf: Path, repo: str, filename: str) -> Path:
    """A file in the Hugging Face cache layout (blob by sha256, snapshot symlink, ref)."""
    root = Path(os.environ["HF_HOME"]) / "hub" / f"models--{repo.replace('/', '--')}"
    commit = "c" * 40
    blob = root / "blobs" / sha256(gguf)
    blob.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(gguf, blob)
    link = root / "snapshots" / commit / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    return link


@pytest.fixture
def sources(variant_gguf: Path, smollm2: ModelSpec, tmp_path: Path) -> Iterator[Path]:
    """Every source at once; cleaned away afterwards so other tests see a plain library."""
    ollama_model(variant_gguf, "registry.ollama.ai", "library", "tiny", "latest",
                 params=json.dumps({"temperature": 0.3, "stop": ["<x>"], "penalize_newline": True}),
                 system="You are from Ollama.", template=CHATML)  # fmt: skip
    ollama_model(variant_gguf, "registry.ollama.ai", "someone", "tiny", "q4")
    ollama_model(smollm2.path, "registry.ollama.ai", "library", "smollm2", "135m")
    hf_cached(variant_gguf, "tester/Variant-GGUF", "Variant-135M.Q4_1.gguf")
    lmstudio = home() / ".lmstudio" / "models" / "tester" / "Variant-GGUF"
    lmstudio.mkdir(parents=True)
    shutil.copyfile(variant_gguf, lmstudio / "Variant-135M.Q4_1.gguf")
    (lmstudio / "mmproj-Variant-f16.gguf").write_bytes(b"GGUF")  # a projector: not a model
    folder = tmp_path / "my-models"
    tiny_gguf(folder / "Tiny-Model.Q4_K_M.gguf")
    cut = folder / "Broken.Q8_0.gguf"
    cut.write_bytes(variant_gguf.read_bytes()[:500_000])
    config = Path(os.environ["LLMTUI_HOME"]) / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(f'model_folders = ["{folder}"]\n')
    yield folder
    for path in (home() / ".ollama", home() / ".lmstudio", Path(os.environ["HF_HOME"]) / "hub",
                 config / "settings.toml", Path(os.environ["LLMTUI_HOME"]) / "data" / "hidden.toml"):  # fmt: skip
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def by_name() -> dict[str, library.LibraryModel]:
    return {m.name: m for m in library.list_models(include_hidden=True)}


def test_every_source_is_listed_once(sources: Path, variant_gguf: Path) -> None:
    models = by_name()
    # The same bytes in Ollama (two tags), the HF cache and LM Studio: the HF name is kept for
    # the cache and LM Studio copy (same name and size), and Ollama's tag without settings of
    # its own joins them by digest (an alias), while tiny:latest, which has its own system
    # prompt, parameters and template, is a model of its own on the same file.
    variant = models["hf.co/tester/Variant-GGUF:Q4_1"]
    assert variant.sources == ("hf-cache", "lmstudio", "ollama")
    assert variant.info is not None and variant.info.has_vision  # the projector beside it
    assert variant.aliases == ("someone/tiny:q4",) and "someone/tiny:q4" not in models
    assert variant.shares_file_with == ("tiny:latest",)
    assert models["tiny:latest"].sources == ("ollama",)
    assert models["tiny:latest"].shares_file_with == (variant.name,)
    assert library.find("someone/tiny:q4").name == variant.name
    assert library.find("tiny").spec().system == "You are from Ollama."
    # Ollama's copy of the starter's exact file joins the starter's row.
    assert models["smollm2:135m"].sources == ("starter", "ollama")
    assert models["tiny-model:q4_k_m"].sources == ("folder",)
    assert models["broken:q8_0"].broken is not None
    assert "is truncated" in models["broken:q8_0"].broken  # type: ignore[operator]
    names = list(models)
    assert len(names) == len(set(names))


def test_ollama_names_params_system_and_template(sources: Path, smollm2: ModelSpec) -> None:
    ollama_model(smollm2.path.parent / smollm2.path.name, "registry.ollama.ai", "library",
                 "other", "7b")  # fmt: skip
    from llmtui.library import ollama

    found, problems = ollama.scan()
    names = {f.name for f in found}
    assert {"tiny:latest", "someone/tiny:q4", "smollm2:135m", "other:7b"} <= names
    assert problems == []
    tiny = next(f for f in found if f.name == "tiny:latest")
    assert tiny.options == {"temperature": 0.3, "stop": ("<x>",)}  # penalize_newline dropped
    assert tiny.system == "You are from Ollama."
    assert tiny.template == CHATML


def test_ollama_model_runs_with_its_settings(sources: Path, engine: Engine) -> None:
    # Only digest-unique Ollama models keep their own row: make one.
    from llmtui.library import ollama

    tiny = next(f for f in ollama.scan()[0] if f.name == "tiny:latest")
    spec = catalog._spec_for(tiny, "tiny:latest")()
    handle = engine.chat(spec, [Message("user", "Hello")], GREEDY)
    done = handle.wait()
    assert done.eval_count > 0
    assert handle.prompt == (
        "<|im_start|>system\nYou are from Ollama.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_an_ollama_model_made_from_a_starter_keeps_its_name_and_settings(
    sources: Path, smollm2: ModelSpec, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `ollama create tinychat` makes from the starter's GGUF: the same model layer,
    its own system prompt and parameters. It used to join the starter's row and vanish."""
    ollama_model(smollm2.path, "registry.ollama.ai", "library", "tinychat", "latest",
                 system="You are Tiny.", params=json.dumps({"temperature": 0.1}))  # fmt: skip
    models = by_name()
    starter, tiny = models["smollm2:135m"], models["tinychat:latest"]
    assert starter.sources == ("starter", "ollama")  # Ollama's plain smollm2:135m
    assert tiny.sources == ("ollama",) and tiny.path == library.find("tinychat").path
    assert starter.shares_file_with == ("tinychat:latest",)
    assert tiny.shares_file_with == ("smollm2:135m",)
    spec = library.find("tinychat").spec()
    assert spec.system == "You are Tiny." and spec.options == {"temperature": 0.1}
    assert library.find("smollm2:135m").spec().system is None
    handle = engine.chat(spec, [Message("user", "Hello")], GREEDY)
    assert handle.wait().eval_count > 0 and "You are Tiny." in handle.prompt
    from llmtui.cli import main

    assert main(["show", "tinychat"]) == 0
    shown = capsys.readouterr().out
    assert "shares its file with smollm2:135m" in shown
    assert main(["show", "tinychat", "--system"]) == 0
    assert capsys.readouterr().out.strip() == "You are Tiny."


def test_damaged_ollama_manifest_is_reported(sources: Path) -> None:
    manifest = home() / ".ollama" / "models" / "manifests" / "registry.ollama.ai" / "library"
    (manifest / "bad").mkdir(parents=True)
    (manifest / "bad" / "latest").write_text("{not json")
    problems: list[str] = []
    models = {m.name for m in library.list_models(problems)}
    assert "hf.co/tester/Variant-GGUF:Q4_1" in models
    assert any("Ollama's manifest for bad:latest is unreadable" in p for p in problems)


def test_list_cli_columns_and_json(sources: Path) -> None:
    env = {**os.environ}
    out = subprocess.run([sys.executable, "-m", "llmtui", "list"], capture_output=True,
                         text=True, env=env, check=True)  # fmt: skip
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["NAME", "ID", "SIZE", "SOURCE", "PARAMS", "QUANT", "FIT", "MODIFIED"]
    variant = next(r for r in rows if r.startswith("hf.co/tester/Variant-GGUF:Q4_1"))
    assert "hf-cache, lmstudio, ollama" in variant and "134.5M" in variant and "Q4_1" in variant
    assert " fits " in variant
    broken = next(r for r in rows if r.startswith("broken:q8_0"))
    assert " broken " in broken
    assert "warning: broken:q8_0 is broken:" in out.stderr
    data = json.loads(subprocess.run([sys.executable, "-m", "llmtui", "list", "--json"],
                                     capture_output=True, text=True, env=env, check=True).stdout)  # fmt: skip
    entry = next(d for d in data if d["name"] == "hf.co/tester/Variant-GGUF:Q4_1")
    assert entry["sources"] == ["hf-cache", "lmstudio", "ollama"]
    assert entry["quantization"] == "Q4_1" and entry["parameters"] == 134515008
    assert entry["fit"] == "fits" and entry["memory_estimate"] > entry["size"]
    assert next(d for d in data if d["name"] == "broken:q8_0")["error"]


def test_show_prints_metadata_and_estimate(sources: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "llmtui", "show", "hf.co/tester/Variant-GGUF:Q4_1"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    for expected in ("architecture        llama", "parameters          134.5M",
                     "context length      8192", "quantization        Q4_1",
                     "chat template       yes", "vision              yes",
                     "at num_ctx 4096", "KV cache (f16)    94 MB", "fit                 fits",
                     "hf-cache, lmstudio, ollama"):  # fmt: skip
        assert expected in out, expected


def test_fit_thresholds(sources: Path) -> None:
    model = by_name()["smollm2:135m"]
    estimate = model.estimate(4096)
    assert estimate is not None
    assert model.fit(4096, estimate.total * 2) == "fits"
    assert model.fit(4096, int(estimate.total * 1.1)) == "tight"
    assert model.fit(4096, estimate.total - 1) == "too big"
    assert by_name()["broken:q8_0"].fit(4096, 10**12) == "broken"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmtui", *args], capture_output=True, text=True)


def test_rm_hides_external_models_and_deletes_only_when_asked(sources: Path) -> None:
    tiny = sources / "Tiny-Model.Q4_K_M.gguf"
    hidden = run_cli("rm", "tiny-model:q4_k_m")
    assert hidden.returncode == 0
    assert "hid 'tiny-model:q4_k_m' from the list; its file stays at" in hidden.stdout
    assert tiny.exists()
    assert "tiny-model" not in run_cli("list").stdout
    assert "folder (hidden)" in run_cli("list", "--all").stdout
    deleted = run_cli("rm", "tiny-model:q4_k_m", "--delete-files")
    assert deleted.returncode == 0 and not tiny.exists()
    refused = run_cli("rm", "hf.co/tester/Variant-GGUF:Q4_1", "--delete-files")
    assert refused.returncode == 1
    assert "belongs to Ollama, and llmtui never writes to Ollama's store" in refused.stderr
    assert sum(1 for _ in (home() / ".ollama" / "models" / "blobs").iterdir()) >= 2


def test_run_a_model_from_the_hf_cache(sources: Path) -> None:
    result = run_cli("run", "hf.co/tester/Variant-GGUF:Q4_1", "Say hi.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_bad_settings_are_reported_and_defaults_used(sources: Path) -> None:
    config = Path(os.environ["LLMTUI_HOME"]) / "config" / "settings.toml"
    config.write_text("model_folders = 3\nnum_ctx = [\n")
    problems: list[str] = []
    models = library.list_models(problems)
    assert models
    assert any("could not be read" in p and "using the default settings" in p for p in problems)
    assert config.read_text() == "model_folders = 3\nnum_ctx = [\n"  # never overwritten
