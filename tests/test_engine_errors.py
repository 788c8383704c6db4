"""Every way a model can be wrong gets a clear error, and the engine keeps working."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import GREEDY

from llmtui.engine import (
    ContextOverflow,
    Engine,
    EngineError,
    MemoryRefused,
    Message,
    ModelFileError,
    ModelSpec,
    OptionError,
    memory,
)
from llmtui.engine.gguf import read_header

HELLO = [Message("user", "Hello!")]


def still_answers(engine: Engine, spec: ModelSpec) -> None:
    assert engine.chat(spec, HELLO, GREEDY).wait(timeout=120).eval_count > 0


def test_missing_file(engine: Engine, smollm2: ModelSpec, tmp_path: Path) -> None:
    spec = ModelSpec("ghost", tmp_path / "ghost.gguf")
    with pytest.raises(ModelFileError, match=r"model file not found: .*ghost\.gguf"):
        engine.chat(spec, HELLO).wait()
    still_answers(engine, smollm2)


def test_not_a_gguf(engine: Engine, smollm2: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("these are my notes, not a model\n" * 10)
    with pytest.raises(ModelFileError, match="is not a GGUF model file"):
        engine.chat(ModelSpec("notes", path), HELLO).wait()
    still_answers(engine, smollm2)


def test_truncated_gguf(engine: Engine, smollm2: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    with open(smollm2.path, "rb") as source:
        path.write_bytes(source.read(smollm2.path.stat().st_size * 3 // 4))
    with pytest.raises(ModelFileError, match="is truncated"):
        engine.chat(ModelSpec("cut", path), HELLO).wait()
    still_answers(engine, smollm2)


def test_too_big_for_memory_is_refused_before_loading(smollm2: ModelSpec) -> None:
    small = Engine(available_memory=lambda: 64 * 1024 * 1024)
    try:
        with pytest.raises(MemoryRefused) as caught:
            small.chat(smollm2, HELLO, GREEDY).wait()
        message = str(caught.value)
        assert "smollm2:135m needs about" in message
        assert "KV cache" in message and "num_ctx 4096" in message
        assert "only 67 MB is available" in message
        assert small.loaded() == []
        # A smaller context does not help here: the weights alone are over the limit.
        with pytest.raises(MemoryRefused):
            small.chat(smollm2, HELLO, {**GREEDY, "num_ctx": 256}).wait()
    finally:
        small.close()


def test_memory_check_can_be_overridden(smollm2: ModelSpec) -> None:
    forced = Engine(available_memory=lambda: 64 * 1024 * 1024, check_memory=False)
    try:
        still_answers(forced, smollm2)
    finally:
        forced.close()


def test_huge_context_is_refused_with_the_estimate(engine: Engine, smollm2: ModelSpec) -> None:
    with pytest.raises(MemoryRefused, match=r"KV cache .* at num_ctx 50000000"):
        engine.chat(smollm2, HELLO, {"num_ctx": 50_000_000}).wait()
    still_answers(engine, smollm2)


def test_prompt_longer_than_the_context(engine: Engine, smollm2: ModelSpec) -> None:
    prompt = "word " * 2000
    with pytest.raises(ContextOverflow, match=r"the prompt is \d+ tokens but the context holds"):
        engine.generate(smollm2, prompt, {**GREEDY, "num_ctx": 512}).wait()
    still_answers(engine, smollm2)


def test_prompt_longer_than_a_small_batch(engine: Engine, smollm2: ModelSpec) -> None:
    # num_ctx 64 caps llama.cpp's batch at 64 tokens (the context itself is padded to 256):
    # a 150-token prompt must go in several batches, not abort the process.
    done = engine.generate(smollm2, "tell me " * 70, {**GREEDY, "num_ctx": 64,
                                                     "num_predict": 4}).wait()  # fmt: skip
    assert done.prompt_eval_count > 64 and done.eval_count == 4


def test_long_chat_drops_oldest_turns(engine: Engine, smollm2: ModelSpec) -> None:
    history = []
    for i in range(40):
        history += [Message("user", f"Fact {i}: " + "blah " * 20), Message("assistant", "Noted.")]
    history.append(Message("user", "Say hi."))
    done = engine.chat(smollm2, history, {**GREEDY, "num_ctx": 512}).wait()
    assert done.eval_count > 0
    assert done.context_used <= 512


def test_bad_option_is_refused_at_once(engine: Engine, smollm2: ModelSpec) -> None:
    with pytest.raises(OptionError, match="did you mean temperature"):
        engine.chat(smollm2, HELLO, {"temprature": 1})


def test_invalid_template(engine: Engine, smollm2: ModelSpec) -> None:
    spec = dataclasses.replace(smollm2, name="broken-template", template="{% for x in %}")
    with pytest.raises(EngineError, match="chat template of broken-template is not valid"):
        engine.chat(spec, HELLO, GREEDY).wait()
    still_answers(engine, smollm2)


def test_an_idle_model_is_unloaded_to_make_room_for_another(
    smollm2: ModelSpec, gemma3: ModelSpec
) -> None:
    # Memory as a machine with room for gemma3 alone: what the loaded models take is gone.
    budget = [0]
    engine = Engine(available_memory=lambda: budget[0] - sum(m.size for m in engine.loaded()))
    try:
        options = engine.options_for(gemma3, GREEDY)
        batch = min(options.num_batch, options.num_ctx)
        header = read_header(gemma3.path)
        budget[0] = memory.estimate(header, options.num_ctx, batch, "f16").total + 1
        still_answers(engine, smollm2)
        assert [m.name for m in engine.loaded()] == ["smollm2:135m"]
        # Without room for both, the idle smollm2 goes, as Ollama evicts; gemma3 answers.
        still_answers(engine, gemma3)
        assert [m.name for m in engine.loaded()] == ["gemma3:270m"]
        # What cannot fit even alone is still refused, and what is loaded stays.
        budget[0] = 64 * 1024 * 1024
        with pytest.raises(MemoryRefused):
            engine.chat(smollm2, HELLO, GREEDY).wait()
        assert [m.name for m in engine.loaded()] == ["gemma3:270m"]
    finally:
        engine.close()
