"""How much memory a model needs at a given context size, from its GGUF header alone."""

from __future__ import annotations

from dataclasses import dataclass

from llmtui.engine.gguf import GGUFHeader

MiB = 1024 * 1024
# Beyond weights and KV cache, fitted to the RSS growth measured with both starter models
# (bench/library.py): the runtime and graph (~100 MiB), the vocabulary's tables (~256 bytes a
# token) and one batch of activations. llama.cpp reserves a compute buffer as large as a
# whole batch of logits, but only touches the rows it outputs.
_OVERHEAD = 100 * MiB
_PER_VOCAB_TOKEN = 256


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes needed to run a model, by part."""

    weights: int
    kv_cache: int
    compute: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute


def _per_layer(value: object, layers: int) -> list[int]:
    if isinstance(value, list):
        return [int(v) for v in value]
    return [int(value) if isinstance(value, int | float) else 0] * layers


def kv_bytes_per_token(header: GGUFHeader, bytes_per_value: int = 2) -> int:
    """K and V cache bytes per token of context, in f16 (llama.cpp's default cache type).

    Sliding-window layers are counted at the full context: an upper bound for such models."""
    layers = header.block_count
    heads = header.arch_value("attention.head_count", 0)
    heads_kv = _per_layer(header.arch_value("attention.head_count_kv", heads), layers)
    first_heads = heads[0] if isinstance(heads, list) and heads else heads
    head_dim = header.embedding_length // max(1, int(first_heads or 1))
    key_length = int(header.arch_value("attention.key_length", head_dim))
    value_length = int(header.arch_value("attention.value_length", head_dim))
    return sum(n * (key_length + value_length) for n in heads_kv) * bytes_per_value


# Bytes of a KV cache type per f16 byte: q8_0 keeps 32 values in 34 bytes, q4_0 in 18.
KV_SCALE = {"f16": 1.0, "q8_0": 34 / 64, "q4_0": 18 / 64}


def estimate_parts(
    weights: int, kv_per_token: int, vocab_size: int, embedding_length: int,
    num_ctx: int, num_batch: int = 512, kv_cache_type: str = "f16",
) -> MemoryEstimate:  # fmt: skip
    """Weights + KV cache + the rest (runtime, vocabulary, activations of one batch)."""
    batch = min(num_batch, num_ctx)
    return MemoryEstimate(
        weights=weights,
        kv_cache=int(kv_per_token * num_ctx * KV_SCALE[kv_cache_type]),
        compute=vocab_size * _PER_VOCAB_TOKEN + embedding_length * batch * 32 + _OVERHEAD,
    )


def estimate(
    header: GGUFHeader, num_ctx: int, num_batch: int = 512, kv_cache_type: str = "f16"
) -> MemoryEstimate:
    """What running `header`'s model at `num_ctx` needs; the engine refuses a model on it,
    and the library's fit column is judged by it."""
    return estimate_parts(
        header.data_size, kv_bytes_per_token(header), header.vocab_size,
        header.embedding_length, num_ctx, num_batch, kv_cache_type,
    )  # fmt: skip


def human_bytes(count: float) -> str:
    """Sizes as Ollama prints them: 98 MB, 1.2 GB (decimal units)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
