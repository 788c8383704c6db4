"""Several requests for one model answered at once, as sequences of one context."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping

import pytest
from conftest import GREEDY, CancelAfter

from llmtui.engine import (
    Chunk,
    ContextOverflow,
    Done,
    Engine,
    Event,
    MemoryRefused,
    Message,
    ModelSpec,
    OptionError,
)
from llmtui.engine.options import environment_parallel

PROMPTS = ["Tell me about cats.", "Explain rain.", "Write a poem about the sea."]
LONG = {**GREEDY, "num_predict": 48}


@pytest.fixture(scope="module")
def three(smollm2: ModelSpec) -> Iterator[Engine]:
    engine = Engine(parallel=3)
    engine.load(smollm2, LONG).wait(60)
    yield engine
    engine.close()


def ask(engine: Engine, spec: ModelSpec, prompt: str, options: Mapping[str, object] = LONG,
        stamps: list[tuple[str, float]] | None = None) -> Done:  # fmt: skip
    def on_event(event: Event) -> None:
        if stamps is not None and isinstance(event, Chunk | Done):
            stamps.append((type(event).__name__, time.monotonic()))

    return engine.chat(spec, [Message("user", prompt)], options,
                       on_event=on_event if stamps is not None else None).wait(120)  # fmt: skip


def together(engine: Engine, spec: ModelSpec, prompts: list[str],
             options: Mapping[str, object] = LONG) -> tuple[list[Done], list[list[tuple[str, float]]]]:  # fmt: skip
    stamps: list[list[tuple[str, float]]] = [[] for _ in prompts]
    dones: list[Done | None] = [None] * len(prompts)

    def run(i: int) -> None:
        dones[i] = ask(engine, spec, prompts[i], options, stamps[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert all(isinstance(done, Done) for done in dones)
    return [d for d in dones if d is not None], stamps


def test_requests_for_one_model_stream_at_once_and_each_answer_is_its_own(
    three: Engine, smollm2: ModelSpec
) -> None:
    alone = [ask(three, smollm2, prompt).text for prompt in PROMPTS]
    dones, stamps = together(three, smollm2, PROMPTS)
    # Greedy: each answer is the very one it gives alone, with none of the others' words.
    assert [done.text for done in dones] == alone
    # At once: every stream has begun before any has ended.
    first_chunks = [next(t for kind, t in s if kind == "Chunk") for s in stamps]
    ends = [s[-1][1] for s in stamps]
    assert max(first_chunks) < min(ends)
    assert all(done.done_reason in ("stop", "length") and done.eval_count for done in dones)


def test_a_fourth_request_waits_for_a_free_sequence(three: Engine, smollm2: ModelSpec) -> None:
    prompts = [*PROMPTS, "What is Python?"]
    dones, stamps = together(three, smollm2, prompts)
    first_chunks = sorted(next(t for kind, t in s if kind == "Chunk") for s in stamps)
    ends = sorted(s[-1][1] for s in stamps)
    # Three answer at once; the last begins only once one of them has ended.
    assert first_chunks[2] < ends[0] <= first_chunks[3]
    assert all(done.eval_count for done in dones)


def test_a_cancelled_sequence_ends_alone(three: Engine, smollm2: ModelSpec) -> None:
    others = [three.chat(smollm2, [Message("user", p)], LONG) for p in PROMPTS[:2]]
    stop = CancelAfter(4)
    story = [Message("user", "Tell me a long story about a dragon.")]
    stop.handle = three.chat(smollm2, story, {**GREEDY, "num_predict": 400}, on_event=stop)
    cancelled = stop.handle.wait(60)
    assert cancelled.done_reason == "cancel" and cancelled.eval_count == 4
    for other, prompt in zip(others, PROMPTS, strict=False):
        assert other.wait(120).text == ask(three, smollm2, prompt).text


def test_a_conversation_continues_in_the_sequence_that_holds_it(
    three: Engine, smollm2: ModelSpec
) -> None:
    first = [Message("system", "You are terse."), Message("user", "What is a haiku?")]
    answer = three.chat(smollm2, first, GREEDY).wait(60)
    # Two other conversations take other sequences meanwhile.
    together(three, smollm2, PROMPTS[:2], GREEDY)
    follow = [*first, Message("assistant", answer.text), Message("user", "Write one.")]
    done = three.chat(smollm2, follow, GREEDY).wait(60)
    # Only the new turn is evaluated: the first turn stayed in its sequence's cache.
    assert done.prompt_eval_count < 20 < done.context_used


def test_a_request_that_fails_leaves_the_others_answering(
    three: Engine, smollm2: ModelSpec
) -> None:
    running = three.chat(smollm2, [Message("user", PROMPTS[0])], LONG)
    too_long = three.generate(smollm2, "word " * 5000, LONG)
    with pytest.raises(ContextOverflow, match="the context holds"):
        too_long.wait(60)
    assert running.wait(120).text == ask(three, smollm2, PROMPTS[0]).text


def test_a_request_with_other_load_options_waits_for_the_sequences_to_end(
    three: Engine, smollm2: ModelSpec
) -> None:
    running = three.chat(smollm2, [Message("user", PROMPTS[1])], LONG)
    other = three.chat(smollm2, [Message("user", PROMPTS[1])], {**LONG, "num_ctx": 1024})
    first, second = running.wait(120), other.wait(120)
    assert first.text == second.text  # reloaded at num_ctx 1024, same answer
    assert second.load_duration > 0 and first.load_duration == 0
    assert [(m.context_size, m.parallel) for m in three.loaded()] == [(1024, 3)]
    three.load(smollm2, LONG).wait(60)  # back as the other tests expect


def test_parallel_from_the_environment_and_its_mistakes() -> None:
    assert environment_parallel({"OLLAMA_NUM_PARALLEL": "2"}) == 2
    assert environment_parallel({"LLMTUI_NUM_PARALLEL": "0", "OLLAMA_NUM_PARALLEL": "2"}) == 0
    assert environment_parallel({}) is None
    with pytest.raises(OptionError, match="OLLAMA_NUM_PARALLEL=many: not a number"):
        environment_parallel({"OLLAMA_NUM_PARALLEL": "many"})
    with pytest.raises(OptionError, match="OLLAMA_NUM_PARALLEL is the number of requests"):
        environment_parallel({"OLLAMA_NUM_PARALLEL": "65"})
    with pytest.raises(OptionError, match=r"0 \(as memory allows\) to 64, not -1"):
        Engine(parallel=-1)


def test_sequences_count_in_the_memory_check(smollm2: ModelSpec) -> None:
    # Room for the model with one KV cache at num_ctx 4096 (~303 MiB), not four (~573).
    one = Engine(available_memory=lambda: 400 * 1024 * 1024)
    four = Engine(available_memory=lambda: 400 * 1024 * 1024, parallel=4)
    auto = Engine(available_memory=lambda: 400 * 1024 * 1024, parallel=0)
    try:
        assert one.load(smollm2, LONG).wait(60).done_reason == "load"
        with pytest.raises(MemoryRefused, match=r"for each of 4 requests at once.*num_parallel"):
            four.load(smollm2, LONG).wait(60)
        assert auto.chat(smollm2, [Message("user", "Hi")], GREEDY).wait(60).eval_count
        assert [m.parallel for m in auto.loaded()] == [1]  # auto: as many as fit
    finally:
        for engine in (one, four, auto):
            engine.close()
