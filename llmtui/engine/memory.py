"""How much memory a model needs at a given context size, from its GGUF header alone."""

from __future__ import annotations

from dataclasses import dataclass

from llmtui.engine.gguf import GGUFHeader

MiB = 1024 * 1024
# llama.cpp's fixed costs beyond weights and cache: backend buffers, the graph, the runtime.
_OVERHEAD = 64 * MiB


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


def kv_cache_bytes(header: GGUFHeader, num_ctx: int, bytes_per_value: int = 2) -> int:
    """The K and V cache at `num_ctx` tokens in f16, llama.cpp's default cache type.

    Sliding-window layers are counted at the full context: an upper bound for such models."""
    layers = header.block_count
    heads = header.arch_value("attention.head_count", 0)
    heads_kv = _per_layer(header.arch_value("attention.head_count_kv", heads), layers)
    head_dim = header.embedding_length // max(1, int(heads if isinstance(heads, int) else 1))
    key_length = int(header.arch_value("attention.key_length", head_dim))
    value_length = int(header.arch_value("attention.value_length", head_dim))
    per_token = sum(n * (key_length + value_length) for n in heads_kv)
    return per_token * num_ctx * bytes_per_value


def estimate(header: GGUFHeader, num_ctx: int, num_batch: int = 512) -> MemoryEstimate:
    """Weights + KV cache + compute buffers for running `header`'s model at `num_ctx`."""
    logits = header.vocab_size * min(num_batch, num_ctx) * 4
    activations = header.embedding_length * min(num_batch, num_ctx) * 4 * 8
    return MemoryEstimate(
        weights=header.data_size,
        kv_cache=kv_cache_bytes(header, num_ctx),
        compute=logits + activations + _OVERHEAD,
    )


def human_bytes(count: float) -> str:
    """Sizes as Ollama prints them: 98 MB, 1.2 GB (decimal units)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
