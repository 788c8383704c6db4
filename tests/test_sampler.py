"""The sampler's shortcuts draw exactly what llama.cpp's plain chain draws, on the real model."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import llama_cpp
import pytest
from llama_cpp import Llama

from llmtui.engine import Engine, Message, ModelSpec
from llmtui.engine.options import DEFAULTS, Options
from llmtui.engine.sampler import Sampler

STEPS = 80  # past repeat_last_n (64): the penalties look back over the reply alone


@pytest.fixture(scope="module")
def llm(smollm2: ModelSpec) -> Iterator[Llama]:
    with contextlib.redirect_stderr(io.StringIO()):
        model = Llama(str(smollm2.path), n_ctx=1024, n_threads=2, verbose=True)
    yield model
    model.close()


def plain_chain(options: Options, n_vocab: int) -> llama_cpp.llama_sampler_p:
    """llama.cpp's usual order, penalties over the whole vocabulary, no shortcut."""
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    samplers = [
        llama_cpp.llama_sampler_init_penalties(
            n_vocab,
            options.repeat_last_n,
            options.repeat_penalty,
            options.frequency_penalty,
            options.presence_penalty,
        )
    ]
    if options.temperature <= 0:
        samplers.append(llama_cpp.llama_sampler_init_greedy())
    else:
        samplers += [
            llama_cpp.llama_sampler_init_top_k(options.top_k),
            llama_cpp.llama_sampler_init_top_p(options.top_p, 1),
            llama_cpp.llama_sampler_init_temp(options.temperature),
            llama_cpp.llama_sampler_init_dist(options.seed),
        ]
    for sampler in samplers:
        llama_cpp.llama_sampler_chain_add(chain, sampler)
    return chain


def side_by_side(llm: Llama, options: Options) -> tuple[list[int], list[int]]:
    """Both samplers choose at every step of one generation (driven by the shortcut's pick)."""
    n_vocab = llm.n_vocab()
    ours, plain = Sampler(options, n_vocab, llm.n_ctx()), plain_chain(options, n_vocab)
    text = b"<|im_start|>user\nTell me about cats.<|im_end|>\n<|im_start|>assistant\n"
    prompt = llm.tokenize(text, add_bos=False, special=True)
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
    for token in prompt[-options.repeat_last_n :]:
        ours.accept(token)
        llama_cpp.llama_sampler_accept(plain, token)
    batch = (llama_cpp.llama_token * len(prompt))(*prompt)
    assert llama_cpp.llama_decode(llm.ctx, llama_cpp.llama_batch_get_one(batch, len(prompt))) == 0
    picked, reference = [], []
    one = (llama_cpp.llama_token * 1)()
    try:
        for _ in range(STEPS):
            token = ours.sample(llm.ctx)
            picked.append(token)
            reference.append(llama_cpp.llama_sampler_sample(plain, llm.ctx, -1))
            one[0] = token
            assert llama_cpp.llama_decode(llm.ctx, llama_cpp.llama_batch_get_one(one, 1)) == 0
    finally:
        ours.close()
        llama_cpp.llama_sampler_free(plain)
    return picked, reference


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # Ollama's defaults: top_k 40, top_p 0.9, repeat_penalty 1.1 over 64, temp 0.8
        {"temperature": 0},  # greedy with Ollama's repeat penalty
        {"temperature": 0, "repeat_penalty": 1.0},  # plain greedy: the logits' argmax
        {"top_k": 5, "repeat_penalty": 1.5, "frequency_penalty": 0.5, "presence_penalty": 0.3},
        # A negative penalty raises scores: no shortcut may be taken.
        {"presence_penalty": -1.0, "repeat_last_n": 16},
    ],
)
def test_the_shortcuts_pick_what_the_plain_chain_picks(
    llm: Llama, overrides: dict[str, float]
) -> None:
    options = DEFAULTS.merged({"seed": 11, **overrides})
    picked, reference = side_by_side(llm, options)
    assert picked == reference
    assert len(set(picked)) > 10  # a real reply, not one token over and over


def test_penalties_change_what_is_picked(llm: Llama) -> None:
    """The shortcut keeps the penalties working: greedy with and without them part ways."""
    plain, _ = side_by_side(llm, DEFAULTS.merged({"temperature": 0, "repeat_penalty": 1.0}))
    penalised, _ = side_by_side(llm, DEFAULTS.merged({"temperature": 0, "repeat_penalty": 1.5}))
    assert plain != penalised


@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 0.8, "seed": 3}])
def test_a_grammar_holds_the_answer_and_not_the_prompt(
    engine: Engine, smollm2: ModelSpec, options: dict[str, float]
) -> None:
    # Ollama's default penalties look back over the prompt: its tokens are history for
    # them, never words for the grammar (llama.cpp aborted the process on the first one).
    done = engine.chat(smollm2, [Message("user", "Is the sea wet? Answer yes or no.")],
                       {**options, "num_predict": 8}, grammar='root ::= "yes" | "no"').wait()  # fmt: skip
    assert done.text in ("yes", "no") and done.done_reason == "stop"
