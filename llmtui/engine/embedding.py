"""Embeddings: a second llama.cpp context on a loaded model, in embedding mode.

Its own context, beside the model's generating one: an embedding request neither clears
nor refills the chat's KV cache (the cached prompt a chat reuses), and the weights are
shared, not loaded twice. Each text is one pooled sequence (the model's own pooling, or
mean pooling where the model names none, as for chat models), L2-normalised as Ollama's
/api/embed returns vectors.
"""

from __future__ import annotations

import llama_cpp
import numpy as np

from llmtui.engine.errors import ContextOverflow, EngineError


class Embedder:
    """Owned by the model's thread; `close` frees the context."""

    def __init__(self, model: llama_cpp.llama_model_p, n_ctx: int, threads: int) -> None:
        self._model = model
        self.n_ctx = n_ctx
        self._ctx = self._context(llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED, threads)
        if llama_cpp.llama_pooling_type(self._ctx) == llama_cpp.LLAMA_POOLING_TYPE_NONE:
            llama_cpp.llama_free(self._ctx)  # a token's vector each: pool them, by the mean
            self._ctx = self._context(llama_cpp.LLAMA_POOLING_TYPE_MEAN, threads)
        self.n_embd = llama_cpp.llama_model_n_embd(model)
        self._encoder = llama_cpp.llama_model_has_encoder(model)

    def _context(self, pooling: int, threads: int) -> llama_cpp.llama_context_p:
        params = llama_cpp.llama_context_default_params()
        # One sequence at a time, evaluated in one batch: pooling needs all of it at once.
        params.n_ctx = params.n_batch = params.n_ubatch = self.n_ctx
        params.n_seq_max = 1
        params.embeddings = True
        params.pooling_type = pooling
        params.n_threads = params.n_threads_batch = threads
        ctx: llama_cpp.llama_context_p = llama_cpp.llama_init_from_model(self._model, params)
        if not ctx:
            raise EngineError("llama.cpp could not make an embedding context for this model")
        return ctx

    def embed(self, tokens: list[int]) -> list[float]:
        """`tokens`' vector, of unit length."""
        if len(tokens) > self.n_ctx:
            raise ContextOverflow(f"the input is {len(tokens)} tokens but the embedding "
                                  f"context holds {self.n_ctx} (num_ctx, or truncate)")  # fmt: skip
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        batch = llama_cpp.llama_batch_get_one(array, len(tokens))
        run = llama_cpp.llama_encode if self._encoder else llama_cpp.llama_decode
        if run(self._ctx, batch) != 0:
            raise EngineError("llama.cpp could not evaluate the input for its embedding")
        pointer = llama_cpp.llama_get_embeddings_seq(self._ctx, 0)
        if not pointer:
            raise EngineError("llama.cpp gave no embedding for the input")
        vector = np.ctypeslib.as_array(pointer, (self.n_embd,)).astype(np.float64)
        norm = float(np.linalg.norm(vector))
        unit: list[float] = (vector / norm if norm > 0 else vector).tolist()
        return unit

    def close(self) -> None:
        llama_cpp.llama_free(self._ctx)
