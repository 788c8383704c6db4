"""One llama.cpp batch, refilled for every decode: tokens of several sequences at once.

`llama_batch_get_one` evaluates tokens of sequence 0 only, at positions llama.cpp chooses;
a context that answers several requests at once (continuous batching) needs each token's
sequence and position said. The batch is allocated once per loaded context.
"""

from __future__ import annotations

import llama_cpp


class Batch:
    """Owned by the model's thread; `free` it before its context."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._batch = llama_cpp.llama_batch_init(size, 0, 1)
        self.count = 0

    def clear(self) -> None:
        self.count = 0

    def add(self, token: int, position: int, sequence: int, logits: bool) -> int:
        """Add a token; return its index (where its logits are read, if asked for)."""
        index = self.count
        batch = self._batch
        batch.token[index] = token
        batch.pos[index] = position
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = sequence
        batch.logits[index] = logits
        self.count = index + 1
        return index

    def decode(self, ctx: llama_cpp.llama_context_p) -> int:
        """llama_decode's status (0: done; 1: no room in the KV cache)."""
        self._batch.n_tokens = self.count
        return int(llama_cpp.llama_decode(ctx, self._batch))

    def free(self) -> None:
        llama_cpp.llama_batch_free(self._batch)
