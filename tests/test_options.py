import pytest

from llmtui.engine import DEFAULTS, OptionError, Options
from llmtui.engine.options import LOAD_OPTIONS, OPTION_DOCS, coerce, parse_keep_alive


def test_defaults_are_ollamas() -> None:
    # Ollama's documented defaults (api/types.go DefaultOptions), not llama-cpp-python's.
    assert (DEFAULTS.temperature, DEFAULTS.top_k, DEFAULTS.top_p, DEFAULTS.min_p) == (
        0.8,
        40,
        0.9,
        0.0,
    )
    assert (DEFAULTS.repeat_penalty, DEFAULTS.repeat_last_n, DEFAULTS.typical_p) == (1.1, 64, 1.0)
    assert (DEFAULTS.num_predict, DEFAULTS.num_gpu, DEFAULTS.num_batch) == (-1, -1, 512)
    assert (DEFAULTS.mirostat, DEFAULTS.mirostat_tau, DEFAULTS.mirostat_eta) == (0, 5.0, 0.1)


def test_every_option_is_documented() -> None:
    assert set(OPTION_DOCS) >= {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "use_mmap",
        "seed",
        "num_predict",
        "top_k",
        "top_p",
        "min_p",
        "typical_p",
        "temperature",
        "repeat_penalty",
        "repeat_last_n",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
    }
    assert all(OPTION_DOCS.values())


def test_strings_are_parsed_to_the_options_type() -> None:
    merged = DEFAULTS.merged(
        {"num_ctx": "2048", "temperature": "0.2", "use_mmap": "false", "stop": "<|end|>"}
    )
    assert merged.num_ctx == 2048
    assert merged.temperature == 0.2
    assert merged.use_mmap is False
    assert merged.stop == ("<|end|>",)
    assert merged.changed() == {
        "num_ctx": 2048,
        "temperature": 0.2,
        "use_mmap": False,
        "stop": ("<|end|>",),
    }


def test_load_options_change_the_load_key_and_others_do_not() -> None:
    base = Options()
    assert base.merged({"temperature": 0.1}).load_key() == base.load_key()
    other = {"use_mmap": False, "flash_attention": False, "kv_cache_type": "q8_0"}
    for name in LOAD_OPTIONS:
        value = other[name] if name in other else getattr(base, name) + 1
        assert base.merged({name: value}).load_key() != base.load_key(), name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("temprature", 0.5, "unknown option 'temprature' (did you mean temperature?)"),
        ("num_ctx", "lots", "option num_ctx must be an integer, not 'lots'"),
        ("kv_cache_type", "q5_1", "option kv_cache_type must be one of f16, q8_0, q4_0, not 'q5_1'"),
        ("flash_attention", "sometimes", "option flash_attention must be true or false, not 'sometimes'"),
        ("num_ctx", 1.5, "option num_ctx must be an integer, not 1.5"),
        ("top_p", 2, "option top_p must be between 0 and 1, not 2"),
        ("use_mmap", "maybe", "option use_mmap must be true or false, not 'maybe'"),
        ("temperature", True, "option temperature must be a number, not True"),
        ("stop", [1, 2], "option stop must be text, not [1, 2]"),
    ],
)
def test_bad_options_are_explained(name: str, value: object, message: str) -> None:
    with pytest.raises(OptionError) as caught:
        coerce(name, value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300.0), ("0", 0.0), ("-1", -1.0), (30, 30.0), ("1h30m", 5400.0), ("250ms", 0.25)],
)
def test_keep_alive_durations(text: str | int, seconds: float) -> None:
    assert parse_keep_alive(text) == seconds


def test_bad_keep_alive() -> None:
    with pytest.raises(OptionError, match="keep_alive must be seconds or a duration"):
        parse_keep_alive("soon")
