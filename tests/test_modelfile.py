"""The Modelfile language: valid and invalid files, exact error positions, round trips."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmtui.engine.options import CHOICES, OPTION_TYPES
from llmtui.modelfile import Modelfile, ModelfileError, parse, serialise
from llmtui.modelfile.parser import DEPRECATED

VALID = [
    ("FROM smollm2:135m", Modelfile(from_="smollm2:135m")),
    ("from smollm2\nparameter TEMPERATURE 0.5", Modelfile("smollm2", (("temperature", 0.5),))),
    (
        "# comment\n\n  FROM ./model.gguf  \nSYSTEM You are terse.\n",
        Modelfile(from_="./model.gguf", system="You are terse."),
    ),
    (
        'SYSTEM """line one\nline two"""\nFROM x',
        Modelfile(from_="x", system="line one\nline two"),
    ),
    ('FROM x\nSYSTEM "say \\"hi\\" \\\\ bye"', Modelfile(from_="x", system='say "hi" \\ bye')),
    (
        "FROM x\nPARAMETER stop <|a|>\nPARAMETER stop \"<|b|>\"\nPARAMETER num_ctx 8192",
        Modelfile("x", (("stop", ("<|a|>",)), ("stop", ("<|b|>",)), ("num_ctx", 8192))),
    ),
    (
        "FROM x\nMESSAGE user Hi\nMESSAGE Assistant \"\"\"Hello\nthere\"\"\"",
        Modelfile("x", messages=(("user", "Hi"), ("assistant", "Hello\nthere"))),
    ),
    ("FROM x\nLICENSE MIT\nLICENSE \"\"\"Apache\n2.0\"\"\"",
     Modelfile("x", license=("MIT", "Apache\n2.0"))),
    ("FROM x\nADAPTER ./lora.gguf\nREQUIRES 0.6.0",
     Modelfile("x", adapter="./lora.gguf", requires="0.6.0")),
    ("FROM x\nPARAMETER use_mmap false", Modelfile("x", (("use_mmap", False),))),
    ("FROM x\nTEMPLATE {{ .Prompt }}", Modelfile("x", template="{{ .Prompt }}")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: Modelfile) -> None:
    assert parse(text) == expected


INVALID = [
    # (text, line, column, reason)
    ("", 1, 1, "no FROM instruction: a Modelfile must name its base model"),
    ("# only a comment\nSYSTEM hi", 1, 1, "no FROM instruction"),
    ("FROM x\nFORM y", 2, 1, 'unknown instruction "FORM"; did you mean "FROM"?'),
    ("FROM x\ntemperature 0.7", 2, 1,
     'unknown instruction "temperature"; did you mean "PARAMETER temperature ..."?'),
    ("FROM x\nPARAMETER temprature 1", 2, 11, "unknown parameter 'temprature' (did you mean temperature?)"),
    ("FROM x\nPARAMETER num_ctx big", 2, 19, "parameter num_ctx must be an integer, not 'big'"),
    ("FROM x\nPARAMETER top_p 1.5", 2, 17, "parameter top_p must be between 0 and 1, not '1.5'"),
    ("FROM x\nPARAMETER seed", 2, 15, "PARAMETER seed needs a value"),
    ("FROM x\nSYSTEM", 2, 7, "SYSTEM needs a value"),
    ("FROM x\n\nSYSTEM \"\"\"never\nclosed", 3, 8, 'unterminated """'),
    ('FROM x\nSYSTEM "open', 2, 8, 'unterminated ": no closing quote'),
    ('FROM x\nSYSTEM """a""" trailing', 2, 16, 'unexpected text after the closing """'),
    ("FROM x\nMESSAGE robot hi", 2, 9, "unknown MESSAGE role 'robot': use system, user or assistant"),
    ("FROM x\nMESSAGE user", 2, 13, "MESSAGE user needs its text"),
    ("FROM x\nFROM y", 2, 1, "a second FROM (the first is on line 1)"),
    ("FROM x\nTEMPLATE {{ .Nope }}", 2, 13, "TEMPLATE: there is no field .Nope here"),
    ("FROM x\nTEMPLATE {{ if .System }}unclosed", 2, 13, "TEMPLATE: {{ if }} has no {{ end }}"),
    ("FROM x\nTEMPLATE {{ printf \"%s\" .System }}", 2, 13, "TEMPLATE: function 'printf' is not supported"),
    ('FROM x\nTEMPLATE """\n{% for m in messages %}{{ m.content }"""', 3, 1, "TEMPLATE: Jinja:"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "column", "reason"), INVALID)
def test_invalid(text: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(ModelfileError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.reason.startswith(reason)


def test_error_is_printed_like_a_compiler() -> None:
    with pytest.raises(ModelfileError) as caught:
        parse("FROM x\nPARAMETER temprature 1\n")
    assert caught.value.located("Modelfile") == (
        "Modelfile:2:11: unknown parameter 'temprature' (did you mean temperature?)\n"
        "    PARAMETER temprature 1\n"
        "              ^"
    )


def test_deprecated_parameters_warn() -> None:
    parsed = parse("FROM x\nPARAMETER penalize_newline true\nPARAMETER temperature 1")
    assert parsed.parameters == (("temperature", 1.0),)
    (warning,) = parsed.warnings
    assert str(warning) == (
        "2:11: warning: parameter penalize_newline is deprecated and has no effect; it is ignored"
    )


def test_repeated_system_warns_and_last_wins() -> None:
    parsed = parse("FROM x\nSYSTEM one\nSYSTEM two")
    assert parsed.system == "two"
    assert "SYSTEM given again" in str(parsed.warnings[0])


def test_options_accumulate_stop() -> None:
    parsed = parse("FROM x\nPARAMETER stop a\nPARAMETER temperature 1\nPARAMETER stop b")
    assert parsed.options() == {"stop": ("a", "b"), "temperature": 1.0}


# -- properties -------------------------------------------------------------------------

KEYWORDS = ["FROM", "PARAMETER", "SYSTEM", "TEMPLATE", "MESSAGE", "ADAPTER", "LICENSE", '"""',
            '"', "#", "\n", " ", "{{", "}}", "user", "stop", "temperature", "\\"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(KEYWORDS), st.text(max_size=8)), max_size=30))
def test_any_text_raises_only_modelfile_error(pieces: list[str]) -> None:
    try:
        parse("".join(pieces))
    except ModelfileError as error:
        assert error.line >= 1 and error.column >= 1
        assert error.reason


def _option_values(name: str) -> st.SearchStrategy[object]:
    kind = OPTION_TYPES[name]
    if kind is str:
        return st.sampled_from(CHOICES[name])
    if kind is bool:
        return st.booleans()
    if kind is tuple:
        return st.text(min_size=1).map(lambda s: (s,))
    if kind is int:
        return st.integers(min_value=1, max_value=2)  # within every integer option's range
    return st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


parameters = st.lists(
    st.sampled_from(sorted(OPTION_TYPES)).flatmap(
        lambda name: _option_values(name).map(lambda value: (name, value))
    ),
    max_size=6,
).map(tuple)
templates = st.text(alphabet=st.characters(blacklist_characters="{%"), max_size=40)
modelfiles = st.builds(
    Modelfile,
    from_=st.text(min_size=1, max_size=30),
    parameters=parameters,
    template=st.none() | templates,
    system=st.none() | st.text(max_size=60),
    adapter=st.none() | st.text(min_size=1, max_size=20),
    license=st.lists(st.text(max_size=30), max_size=2).map(tuple),
    messages=st.lists(
        st.tuples(st.sampled_from(["system", "user", "assistant"]), st.text(max_size=30)),
        max_size=4,
    ).map(tuple),
    requires=st.none() | st.text(alphabet=string.digits + ".", min_size=1, max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(modelfiles)
def test_round_trip(modelfile: Modelfile) -> None:
    assert parse(serialise(modelfile)) == modelfile


def test_deprecated_names_are_not_options() -> None:
    assert not DEPRECATED & set(OPTION_TYPES)
