"""Choosing each token: llama.cpp's sampler chain, built from Ollama's options.

Two shortcuts keep the per-token cost at a few tens of microseconds (measured at 49,152
tokens of vocabulary, SmolLM2):
- Greedy without penalties reads the logits and takes the first maximum, as llama.cpp's
  greedy sampler does, without copying the vocabulary into a candidate array first (5 us
  against 42).
- llama.cpp's penalties look every candidate up in a hash map: 120 us a token over the whole
  vocabulary. Penalties that only lower scores (repeat_penalty >= 1, frequency and presence
  penalties >= 0) can never lift a token into the top k, and at most `repeat_last_n` tokens
  are penalised, so the chain first keeps the top k + repeat_last_n and penalises those:
  the same candidates, the same draw (Ollama's defaults: 50 us a token against 210).
"""

from __future__ import annotations

import llama_cpp
import numpy as np

from llmtui.engine.errors import EngineError
from llmtui.engine.options import Options


class Sampler:
    """One request's sampler. Free it with `close`."""

    def __init__(
        self, options: Options, n_vocab: int, n_ctx: int,
        vocab: llama_cpp.llama_vocab_p | None = None, grammar: str | None = None,
    ) -> None:  # fmt: skip
        self.n_vocab = n_vocab
        last_n = n_ctx if options.repeat_last_n < 0 else options.repeat_last_n
        penalised = bool(last_n) and (
            options.repeat_penalty != 1.0
            or options.frequency_penalty != 0
            or options.presence_penalty != 0
        )
        greedy = options.temperature <= 0
        # Tokens the penalties look back over; with none, accepting tokens does nothing.
        self.history = last_n if penalised else 0
        self._argmax = greedy and not penalised and grammar is None
        self._grammar = grammar is not None  # then the chain's first sampler
        self._chain = None
        if not self._argmax:
            self._chain = _chain(options, n_vocab, last_n, penalised, vocab, grammar)

    def accept(self, token: int) -> None:
        """A token of the prompt, as history for the penalties. Not for the grammar: it
        follows the answer only (llama.cpp aborts on a token its grammar cannot take)."""
        if self._chain is None:
            return
        if not self._grammar:
            llama_cpp.llama_sampler_accept(self._chain, token)
            return
        for index in range(1, llama_cpp.llama_sampler_chain_n(self._chain)):
            llama_cpp.llama_sampler_accept(llama_cpp.llama_sampler_chain_get(self._chain, index),
                                           token)  # fmt: skip

    def sample(self, ctx: llama_cpp.llama_context_p, index: int = -1) -> int:
        """The next token from the logits of the last decode's token `index` (the chain
        accepts it itself)."""
        if self._chain is not None:
            return int(llama_cpp.llama_sampler_sample(self._chain, ctx, index))
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index),
                                       (self.n_vocab,))  # fmt: skip
        return int(logits.argmax())

    def close(self) -> None:
        if self._chain is not None:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None


def _chain(
    options: Options, n_vocab: int, last_n: int, penalised: bool,
    vocab: llama_cpp.llama_vocab_p | None = None, grammar: str | None = None,
) -> llama_cpp.llama_sampler_p:  # fmt: skip
    """A chain in llama.cpp's usual order: the grammar (what may come next at all), then
    penalties, truncation (top-k, typical, top-p, min-p), temperature and a draw;
    temperature 0 picks the most likely token."""
    seed = llama_cpp.LLAMA_DEFAULT_SEED if options.seed < 0 else options.seed & 0xFFFFFFFF
    chain: llama_cpp.llama_sampler_p = llama_cpp.llama_sampler_chain_init(
        llama_cpp.llama_sampler_chain_default_params()
    )

    def add(sampler: llama_cpp.llama_sampler_p) -> None:
        llama_cpp.llama_sampler_chain_add(chain, sampler)

    if grammar is not None:
        rules = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not rules:
            llama_cpp.llama_sampler_free(chain)
            raise EngineError("llama.cpp could not parse the grammar (details in its log)")
        add(rules)

    greedy = options.temperature <= 0
    mirostat = not greedy and options.mirostat in (1, 2)
    top_k = 1 if greedy else 0 if mirostat else max(0, options.top_k)
    if penalised:
        lowers_only = (
            options.repeat_penalty >= 1.0
            and options.frequency_penalty >= 0
            and options.presence_penalty >= 0
        )
        if lowers_only and top_k and top_k + last_n < n_vocab:
            add(llama_cpp.llama_sampler_init_top_k(top_k + last_n))
        add(
            llama_cpp.llama_sampler_init_penalties(
                n_vocab,
                last_n,
                options.repeat_penalty,
                options.frequency_penalty,
                options.presence_penalty,
            )
        )
    if greedy:
        add(llama_cpp.llama_sampler_init_greedy())
    elif options.mirostat == 1:
        add(llama_cpp.llama_sampler_init_temp(options.temperature))
        add(
            llama_cpp.llama_sampler_init_mirostat(
                n_vocab, seed, options.mirostat_tau, options.mirostat_eta, 100
            )
        )
    elif options.mirostat == 2:
        add(llama_cpp.llama_sampler_init_temp(options.temperature))
        add(
            llama_cpp.llama_sampler_init_mirostat_v2(
                seed, options.mirostat_tau, options.mirostat_eta
            )
        )
    else:
        if top_k > 0:
            add(llama_cpp.llama_sampler_init_top_k(top_k))
        if options.typical_p < 1.0:
            add(llama_cpp.llama_sampler_init_typical(options.typical_p, 1))
        if options.top_p < 1.0:
            add(llama_cpp.llama_sampler_init_top_p(options.top_p, 1))
        if options.min_p > 0.0:
            add(llama_cpp.llama_sampler_init_min_p(options.min_p, 1))
        add(llama_cpp.llama_sampler_init_temp(options.temperature))
        add(llama_cpp.llama_sampler_init_dist(seed))
    return chain
