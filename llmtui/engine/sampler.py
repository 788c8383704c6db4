"""llama.cpp's sampler chain, built from Ollama's options."""

from __future__ import annotations

import llama_cpp

from llmtui.engine.options import Options


def build_sampler(options: Options, n_vocab: int, n_ctx: int) -> llama_cpp.llama_sampler_p:
    """A chain in llama.cpp's usual order: penalties, then truncation (top-k, typical, top-p,
    min-p), then temperature and a draw; temperature 0 picks the most likely token.
    The caller frees it with `llama_sampler_free`."""
    seed = llama_cpp.LLAMA_DEFAULT_SEED if options.seed < 0 else options.seed & 0xFFFFFFFF
    chain: llama_cpp.llama_sampler_p = llama_cpp.llama_sampler_chain_init(
        llama_cpp.llama_sampler_chain_default_params()
    )

    def add(sampler: llama_cpp.llama_sampler_p) -> None:
        llama_cpp.llama_sampler_chain_add(chain, sampler)

    last_n = n_ctx if options.repeat_last_n < 0 else options.repeat_last_n
    if last_n and (
        options.repeat_penalty != 1.0 or options.frequency_penalty or options.presence_penalty
    ):
        add(
            llama_cpp.llama_sampler_init_penalties(
                n_vocab,
                last_n,
                options.repeat_penalty,
                options.frequency_penalty,
                options.presence_penalty,
            )
        )
    if options.temperature <= 0:
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
        if options.top_k > 0:
            add(llama_cpp.llama_sampler_init_top_k(options.top_k))
        if options.typical_p < 1.0:
            add(llama_cpp.llama_sampler_init_typical(options.typical_p, 1))
        if options.top_p < 1.0:
            add(llama_cpp.llama_sampler_init_top_p(options.top_p, 1))
        if options.min_p > 0.0:
            add(llama_cpp.llama_sampler_init_min_p(options.min_p, 1))
        add(llama_cpp.llama_sampler_init_temp(options.temperature))
        add(llama_cpp.llama_sampler_init_dist(seed))
    return chain
