"""The GGUF header reader, on the real starter files and on damaged copies of them."""

import shutil
from pathlib import Path

import pytest

from llmtui.engine import ModelFileError, ModelSpec
from llmtui.engine.gguf import read_header
from llmtui.engine.memory import estimate


def test_smollm2_header(smollm2: ModelSpec) -> None:
    header = read_header(smollm2.path)
    assert header.architecture == "llama"
    assert header.block_count == 30
    assert header.embedding_length == 576
    assert header.context_length == 8192
    assert header.vocab_size == 49152
    assert header.quantization == "Q4_1"
    assert header.chat_template and "<|im_start|>" in header.chat_template
    assert 130e6 < header.parameter_count < 140e6  # "135M"
    assert header.data_size <= header.file_size


def test_gemma3_is_a_completion_model(gemma3: ModelSpec) -> None:
    header = read_header(gemma3.path)
    assert header.architecture == "gemma3"
    assert header.quantization == "Q4_K_M"
    assert header.chat_template is None


def test_kv_cache_estimate_matches_llama_cpp(smollm2: ModelSpec) -> None:
    # llama.cpp logs 'llama_kv_cache: size = 90.00 MiB' for this model at n_ctx 4096:
    # 30 layers x 3 KV heads x (64 + 64) dims x 2 bytes x 4096 tokens.
    header = read_header(smollm2.path)
    f16 = 30 * 3 * 128 * 2 * 4096
    assert estimate(header, 4096).kv_cache == f16
    # q8_0 keeps 32 values in 34 bytes, q4_0 in 18 (llama.cpp: 47.81 and 25.31 MiB).
    assert estimate(header, 4096, kv_cache_type="q8_0").kv_cache == f16 * 34 // 64
    assert estimate(header, 4096, kv_cache_type="q4_0").kv_cache == f16 * 18 // 64
    total = estimate(header, 4096)
    assert total.total > total.weights + total.kv_cache


def test_truncated_file_is_reported(smollm2: ModelSpec, tmp_path: Path) -> None:
    broken = tmp_path / "half.gguf"
    with open(smollm2.path, "rb") as source, open(broken, "wb") as target:
        target.write(source.read(smollm2.path.stat().st_size // 2))
    with pytest.raises(ModelFileError, match=r"is truncated: .* missing\); download it again"):
        read_header(broken)


def test_truncated_inside_the_header(smollm2: ModelSpec, tmp_path: Path) -> None:
    broken = tmp_path / "stub.gguf"
    with open(smollm2.path, "rb") as source, open(broken, "wb") as target:
        target.write(source.read(2000))
    with pytest.raises(ModelFileError, match="is truncated"):
        read_header(broken)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is not a GGUF model file"),
        (b"PK\x03\x04" + b"\0" * 100, "does not start with 'GGUF'"),
        (b"GGUF" + (9).to_bytes(4, "little") + b"\0" * 40, "GGUF version 9"),
    ],
)
def test_not_a_gguf(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        read_header(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="model file not found"):
        read_header(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match="is a folder"):
        read_header(tmp_path)


def test_copy_reads_the_same(smollm2: ModelSpec, tmp_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(smollm2.path, copy)
    assert read_header(copy).metadata == read_header(smollm2.path).metadata
