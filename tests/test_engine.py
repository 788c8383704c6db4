"""The engine on the real starter models: streaming, statistics, sampling, cancel, reuse."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

import llama_cpp
import pytest
from conftest import GREEDY, CancelAfter
from llama_cpp import Llama

from llmtui.engine import (
    Chunk,
    Done,
    Engine,
    Event,
    Failed,
    LiveStats,
    Message,
    ModelSpec,
    Notice,
    OptionError,
)
from llmtui.engine.native import SharedThread, openmp_build
from llmtui.engine.system import physical_cores

HAIKU = [Message("user", "Write a haiku about the sea.")]


def collect(handle_events: object) -> tuple[list[Event], Done]:
    events = list(handle_events)  # type: ignore[call-overload]
    last = events[-1]
    if isinstance(last, Failed):
        raise last.error
    assert isinstance(last, Done)
    return events, last


def test_streaming_and_final_statistics(engine: Engine, smollm2: ModelSpec) -> None:
    handle = engine.chat(smollm2, HAIKU, {**GREEDY, "num_predict": 48})
    events, done = collect(handle.events())
    chunks = [e for e in events if isinstance(e, Chunk)]
    assert "".join(c.text for c in chunks) == done.text
    assert sum(c.tokens for c in chunks) == done.eval_count > 0
    assert done.done_reason in ("stop", "length")
    assert done.prompt_eval_count > 10
    for name in ("total_duration", "prompt_eval_duration", "eval_duration", "time_to_first_token"):
        assert getattr(done, name) > 0, name
    assert done.total_duration >= done.prompt_eval_duration + done.eval_duration
    assert math.isfinite(done.eval_rate) and done.eval_rate > 0
    assert math.isfinite(done.prompt_eval_rate) and done.prompt_eval_rate > 0
    # llama.cpp's own counters agree with ours: every generated token but the last is decoded.
    assert done.perf.eval_ms > 0
    assert done.perf.eval_tokens in (done.eval_count - 1, done.eval_count)


def test_live_stats(engine: Engine, smollm2: ModelSpec) -> None:
    events, done = collect(engine.chat(smollm2, HAIKU, {**GREEDY, "num_predict": 40}).events())
    stats = [e for e in events if isinstance(e, LiveStats)]
    assert stats, "at least the final stats"
    last = stats[-1]
    assert last.model == smollm2.name
    assert last.context_size >= 4096
    assert last.context_used == done.context_used > done.eval_count
    assert last.rss > last.model_size > 50_000_000
    assert last.kv_cache_size == 30 * 3 * 128 * 2 * last.context_size  # f16 K and V
    assert last.backend == engine.backend
    assert last.layers == 30
    assert 0 <= last.gpu_layers <= last.layers + 1
    assert last.eval_count == done.eval_count


def test_same_seed_same_text(engine: Engine, smollm2: ModelSpec) -> None:
    sampled = {"temperature": 0.9, "seed": 1234, "num_predict": 40}
    first = engine.chat(smollm2, HAIKU, sampled).wait()
    engine.chat(smollm2, [Message("user", "Name a colour.")], GREEDY).wait()  # disturb the cache
    second = engine.chat(smollm2, HAIKU, sampled).wait()
    assert first.text == second.text
    other = engine.chat(smollm2, HAIKU, {**sampled, "seed": 99}).wait()
    assert other.text != first.text


def test_num_predict(engine: Engine, smollm2: ModelSpec) -> None:
    story = [Message("user", "Tell me a long story about a dragon.")]
    done = engine.chat(smollm2, story, {**GREEDY, "num_predict": 7}).wait()
    assert (done.eval_count, done.done_reason) == (7, "length")


def test_stop_strings(engine: Engine, smollm2: ModelSpec) -> None:
    story = [Message("user", "Tell me a long story about a dragon.")]
    full = engine.chat(smollm2, story, {**GREEDY, "num_predict": 60}).wait().text
    words = full.split()
    stop = words[len(words) // 2]
    expected = full[: full.index(stop)]
    done = engine.chat(smollm2, story, {**GREEDY, "num_predict": 60, "stop": [stop]}).wait()
    assert done.text == expected
    assert done.done_reason == "stop"


def test_cancel_within_one_token_and_model_stays(engine: Engine, smollm2: ModelSpec) -> None:
    story = [Message("user", "Tell me a long story about a dragon.")]
    stop = CancelAfter(5)
    stop.handle = engine.chat(smollm2, story, {**GREEDY, "num_predict": 500}, on_event=stop)
    done = stop.handle.wait(timeout=60)
    assert done.done_reason == "cancel"
    assert done.eval_count == 5  # cancelled after the 5th token: not one more
    assert done.text == stop.text
    assert done.text
    after = engine.chat(smollm2, HAIKU, GREEDY).wait()
    assert after.eval_count > 0


def test_next_turn_reuses_the_evaluated_prefix(engine: Engine, smollm2: ModelSpec) -> None:
    first_turn = [Message("system", "You are terse."), Message("user", "What is a haiku?")]
    first = engine.chat(smollm2, first_turn, GREEDY).wait()
    second_turn = [
        *first_turn,
        Message("assistant", first.text),
        Message("user", "Write one about autumn."),
    ]
    second = engine.chat(smollm2, second_turn, GREEDY).wait()
    new_message_tokens = len(tokenize(smollm2, "Write one about autumn."))
    # Only the new user message, plus a few template tokens around it, is evaluated.
    assert new_message_tokens <= second.prompt_eval_count <= new_message_tokens + 12
    assert second.context_used > first.context_used


def tokenize(spec: ModelSpec, text: str) -> list[int]:
    vocab = Llama(str(spec.path), vocab_only=True, verbose=True)  # the tokenizer alone
    try:
        return list(vocab.tokenize(text.encode(), add_bos=False))
    finally:
        vocab.close()


def test_generate_plain_completion(engine: Engine, gemma3: ModelSpec) -> None:
    done = engine.generate(gemma3, "The capital of France is", GREEDY).wait()
    assert done.eval_count > 0
    assert done.text.strip()


def test_chat_with_a_completion_model_says_so(engine: Engine, gemma3: ModelSpec) -> None:
    events, done = collect(
        engine.chat(gemma3, [Message("user", "What is the capital of France?")], GREEDY).events()
    )
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("has no chat template" in n for n in notices)
    # The transcript prompt gets a real answer, not llama-2's empty one.
    assert done.eval_count > 0 and done.text.strip()
    assert "User:" not in done.text


def test_two_models_at_once(engine: Engine, smollm2: ModelSpec, gemma3: ModelSpec) -> None:
    a = engine.chat(smollm2, HAIKU, GREEDY)
    b = engine.generate(gemma3, "Once upon a time", GREEDY)
    assert a.wait(timeout=120).eval_count > 0
    assert b.wait(timeout=120).eval_count > 0
    names = {m.name for m in engine.loaded()}
    assert {smollm2.name, gemma3.name} <= names
    threads = {t.name for t in threading.enumerate()}
    assert {f"llmtui-model:{smollm2.name}", f"llmtui-model:{gemma3.name}"} <= threads


def test_an_openmp_build_runs_every_model_on_one_thread(
    smollm2: ModelSpec, gemma3: ModelSpec
) -> None:
    """On an OpenMP build each thread that runs llama.cpp brings its own OpenMP team, and a
    second, idle model slowed the first to 0.34x: there the engine runs all models on one
    thread (forced here, as this build has no OpenMP); they take turns, and both answer."""
    engine = Engine(shared_thread=True)
    ran_on: dict[str, set[str]] = {smollm2.name: set(), gemma3.name: set()}
    stats: list[LiveStats] = []

    def recorder(name: str) -> Callable[[Event], None]:
        def record(event: Event) -> None:
            ran_on[name].add(threading.current_thread().name)
            if isinstance(event, LiveStats):
                stats.append(event)

        return record

    try:
        a = engine.chat(smollm2, HAIKU, GREEDY, on_event=recorder(smollm2.name))
        b = engine.generate(gemma3, "Once upon a time", GREEDY, on_event=recorder(gemma3.name))
        assert a.wait(timeout=120).eval_count > 0
        assert b.wait(timeout=120).eval_count > 0
        assert ran_on == {smollm2.name: {"llmtui-llama.cpp"}, gemma3.name: {"llmtui-llama.cpp"}}
        assert stats and all(s.shared_thread for s in stats)
        assert "take turns" in stats[-1].SHARED_THREAD_NOTE
        assert engine.unload(gemma3.name) and engine.wait_unloaded(gemma3.name, timeout=10)
    finally:
        engine.close()
    assert "llmtui-llama.cpp" not in {t.name for t in threading.enumerate()}


def test_the_build_says_whether_it_uses_openmp() -> None:
    """`make` builds llama.cpp without OpenMP (its own threadpool): check what was built."""
    info = llama_cpp.llama_print_system_info().decode()
    assert openmp_build() == ("OPENMP = 1" in info)
    assert Engine(shared_thread=None).shared_thread == openmp_build()


def test_the_shared_thread_hands_back_results_and_errors() -> None:
    shared = SharedThread()
    try:
        assert shared.call(lambda: threading.current_thread().name) == "llmtui-llama.cpp"
        # Called from the shared thread itself (a load inside a request): run at once.
        assert shared.call(lambda: shared.call(lambda: 7)) == 7
        with pytest.raises(ZeroDivisionError):
            shared.call(lambda: 1 / 0)
        assert shared.call(lambda: "still running") == "still running"
    finally:
        shared.close()


def test_load_option_change_reloads(engine: Engine, smollm2: ModelSpec) -> None:
    first = engine.chat(smollm2, HAIKU, {**GREEDY, "num_ctx": 1024}).wait()
    again = engine.chat(smollm2, HAIKU, {**GREEDY, "num_ctx": 1024, "temperature": 0.5}).wait()
    assert first.load_duration > 0
    assert again.load_duration == 0  # a per-request option: no reload
    back = engine.chat(smollm2, HAIKU, GREEDY).wait()
    assert back.load_duration > 0


def test_keep_alive_unloads(smollm2: ModelSpec) -> None:
    engine = Engine()
    try:
        engine.chat(smollm2, HAIKU, GREEDY, keep_alive=0.5).wait()
        assert [m.name for m in engine.loaded()] == [smollm2.name]
        assert engine.wait_unloaded(smollm2.name, timeout=10)
        assert engine.loaded() == []
        # Loaded again on demand; 0 unloads as soon as the answer is done.
        engine.chat(smollm2, HAIKU, GREEDY, keep_alive=0).wait()
        assert engine.wait_unloaded(smollm2.name, timeout=10)
        # Negative: kept for good.
        engine.chat(smollm2, HAIKU, GREEDY, keep_alive=-1).wait()
        time.sleep(0.3)
        (model,) = engine.loaded()
        assert model.expires_at is None
        assert engine.unload(smollm2.name)
        assert engine.wait_unloaded(smollm2.name, timeout=10)
    finally:
        engine.close()


def test_unloading_frees_memory(smollm2: ModelSpec) -> None:
    from llmtui.engine.system import rss_bytes

    engine = Engine()
    try:
        before = rss_bytes()
        engine.chat(smollm2, HAIKU, {**GREEDY, "use_mmap": False}, keep_alive=-1).wait()
        loaded = rss_bytes()
        assert loaded - before > 50_000_000  # weights read into memory
        engine.unload(smollm2.name)
        assert engine.wait_unloaded(smollm2.name)
        assert rss_bytes() < loaded - 50_000_000
    finally:
        engine.close()


def test_text_held_back_for_a_stop_string_is_kept_at_the_end(
    engine: Engine, smollm2: ModelSpec
) -> None:
    full = engine.chat(smollm2, HAIKU, {**GREEDY, "num_predict": 200}).wait()
    assert full.done_reason == "stop"  # ended by the model's end-of-turn token
    # A stop string that starts with the reply's last character holds it back until the end.
    done = engine.chat(
        smollm2, HAIKU, {**GREEDY, "num_predict": 200, "stop": [full.text[-1] + "\x00never"]}
    ).wait()
    assert done.text == full.text


def test_flash_attention_and_the_kv_cache_types(smollm2: ModelSpec) -> None:
    """Flash attention is on by default; a quantised KV cache takes the memory its type
    says (llama.cpp's own figure, from its log), and the model still answers sensibly."""
    engine = Engine()
    try:
        sizes = {}
        for kind in ("f16", "q8_0", "q4_0"):
            events, done = collect(
                engine.chat(smollm2, HAIKU, {**GREEDY, "kv_cache_type": kind}).events()
            )
            stats = [e for e in events if isinstance(e, LiveStats)][-1]
            assert stats.flash_attention and stats.kv_cache_type == kind
            assert stats.attention() == f"flash attention on · KV cache {kind}"
            sizes[kind] = stats.kv_cache_size
            assert done.eval_count > 0 and sum(c.isalpha() for c in done.text) > 20
        assert sizes["q8_0"] / sizes["f16"] == pytest.approx(34 / 64, rel=0.02)
        assert sizes["q4_0"] / sizes["f16"] == pytest.approx(18 / 64, rel=0.02)
        # Without flash attention a quantised cache cannot be: f16, and it says so.
        events, _ = collect(
            engine.chat(
                smollm2, HAIKU, {**GREEDY, "kv_cache_type": "q8_0", "flash_attention": False}
            ).events()
        )
        notes = [e.message for e in events if isinstance(e, Notice)]
        assert any("needs flash attention, which is off: f16 used" in n for n in notes)
        stats = [e for e in events if isinstance(e, LiveStats)][-1]
        assert not stats.flash_attention and stats.kv_cache_type == "f16"
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("flash", "kind"), [(False, "f16"), (True, "f16"), (True, "q8_0"), (True, "q4_0")]
)
def test_every_attention_setting_is_still_the_same_model(
    engine: Engine, smollm2: ModelSpec, flash: bool, kind: str
) -> None:
    """Flash attention and a quantised KV cache change the numerics, so greedy replies may
    part from flash attention off after a near-tie (bench/fidelity.py measures where); what
    they must not change is what the model knows."""
    options = {**GREEDY, "num_predict": 40, "flash_attention": flash, "kv_cache_type": kind}
    facts = {
        "What is the capital of France?": "Paris",
        "Who wrote Romeo and Juliet?": "Shakespeare",
    }
    for question, answer in facts.items():
        done = engine.chat(smollm2, [Message("user", question)], options).wait()
        assert answer in done.text


def test_a_loaded_model_keeps_its_threads_and_they_sleep_when_idle(smollm2: ModelSpec) -> None:
    """llama.cpp's worker threads are kept in a pool per model instead of started for every
    token (an OpenMP build keeps its own team); the pool computes exactly what fresh threads
    do, and when a request ends its threads go to sleep rather than spin for their poll."""
    pooled, fresh = Engine(), Engine(threadpool=False)
    try:
        assert pooled.threadpool == (not openmp_build()) and not fresh.threadpool
        options = {**GREEDY, "num_predict": 64}
        done = pooled.chat(smollm2, HAIKU, options).wait()
        assert done.text == fresh.chat(smollm2, HAIKU, options).wait().text
        pooled.chat(smollm2, HAIKU, {**options, "num_predict": 8}).wait()
        started = os.times()
        time.sleep(0.5)
        ended = os.times()
        # Spinning for its poll, the pool's thread would take ~80 ms of these 500.
        assert (ended.user + ended.system) - (started.user + started.system) < 0.03
    finally:
        pooled.close()
        fresh.close()


def test_the_thread_count_adapts_unless_num_thread_pins_it(
    engine: Engine, smollm2: ModelSpec
) -> None:
    cores = physical_cores()
    events, _ = collect(engine.chat(smollm2, HAIKU, GREEDY).events())
    stats = [e for e in events if isinstance(e, LiveStats)]
    if engine.backend == "CPU":
        assert all(s.adaptive and s.most_threads == cores for s in stats)
        assert all(1 <= s.threads <= cores for s in stats)
        assert stats[-1].thread_use() == f"{stats[-1].threads} of {cores}, adapting to load"
    events, _ = collect(engine.chat(smollm2, HAIKU, {**GREEDY, "num_thread": 1}).events())
    stats = [e for e in events if isinstance(e, LiveStats)]
    assert all(not s.adaptive and s.threads == 1 for s in stats)
    assert stats[-1].thread_use() == "1 (num_thread)"


def test_ollamas_environment_variables_set_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "q4_0")
    monkeypatch.setenv("OLLAMA_FLASH_ATTENTION", "0")
    engine = Engine()
    try:
        assert engine.defaults.kv_cache_type == "q4_0" and not engine.defaults.flash_attention
    finally:
        engine.close()
    monkeypatch.setenv("LLMTUI_KV_CACHE_TYPE", "q9")
    with pytest.raises(OptionError, match="LLMTUI_KV_CACHE_TYPE=q9: option kv_cache_type must"):
        Engine()
