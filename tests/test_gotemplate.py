"""Ollama's Go templates, rendered as Ollama renders them."""

from __future__ import annotations

import pytest

from llmtui.engine import Message
from llmtui.modelfile.gotemplate import GoTemplate, TemplateError

CHAT = [
    Message("system", "Be brief."),
    Message("user", "Hi"),
    Message("assistant", "Hello!"),
    Message("user", "Bye"),
]

CHATML = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

# The shape of Ollama's newer templates: index variables, $last, nested conditions.
LLAMA3 = """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>

{{ .Content }}{{ if not $last }}<|eot_id|>{{ end }}
{{- end }}
{{- end }}"""

LEGACY = "{{ if .System }}[S]{{ .System }}{{ end }}[U]{{ .Prompt }}[A]{{ .Response }}[/A]"


def test_messages_template() -> None:
    assert GoTemplate(CHATML).render(CHAT).text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_variables_slices_and_last() -> None:
    text = GoTemplate(LLAMA3).render(CHAT).text
    assert text.startswith("<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>")
    assert "user<|end_header_id|>\n\nHi<|eot_id|>" in text
    assert "assistant<|end_header_id|>\n\nHello!<|eot_id|>" in text
    # Only the last user turn is followed by the assistant's header.
    assert text.endswith("Bye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert text.count("<|start_header_id|>assistant") == 2


def test_legacy_template_renders_turn_by_turn_and_stops_at_the_response() -> None:
    assert GoTemplate(LEGACY).render(CHAT).text == ("[S]Be brief.[U]Hi[A]Hello![/A][U]Bye[A]")


def test_trim_markers() -> None:
    template = GoTemplate("a  \n {{- .Prompt -}} \n  b{{ .Response }}")
    assert template.render([Message("user", "X")]).text == "aXb"


def test_with_and_else() -> None:
    template = GoTemplate("{{ with .System }}<{{ . }}>{{ else }}none{{ end }}{{ .Prompt }}")
    assert template.render([Message("user", "q")]).text == "noneq"
    assert template.render([Message("system", "s"), Message("user", "q")]).text == "<s>q"


@pytest.mark.parametrize(
    ("source", "offset", "reason"),
    [
        ("{{ .Nope }}", 3, "there is no field .Nope here"),
        ("ab{{ if .System }}x", 5, "{{ if }} has no {{ end }}"),
        ("{{ end }}", 3, "{{ end }} without an opening if, range or with"),
        ("{{ .System | upper }}", 11, "pipelines with | are not supported"),
        ('{{ printf "%s" .System }}', 3, "function 'printf' is not supported"),
        ("text {{ .System ", 5, "unclosed action"),
        ("{{ $x }}", 3, "undefined variable $x"),
        ("{{ }}", 3, "empty action"),
        ("{{ eq .System }}", 3, "eq takes 2 to 99 arguments, not 1"),
    ],
)
def test_errors_at_parse_time(source: str, offset: int, reason: str) -> None:
    with pytest.raises(TemplateError) as caught:
        GoTemplate(source)
    assert caught.value.offset == offset
    assert caught.value.reason.startswith(reason)


def test_a_tools_parameters_range_in_key_order_and_print_as_json() -> None:
    from llmtui.engine import Tool

    tool = Tool("find", "Look up", {"type": "object", "properties": {
        "zone": {"type": "string"}, "city": {"type": "string", "description": "a city"}}})  # fmt: skip
    template = GoTemplate(
        "{{ range .Tools }}{{ .Function.Name }}:{{ range $name, $p := .Function.Parameters.Properties }}"
        " {{ $name }}={{ $p.Type }}{{ end }} {{ json .Function.Parameters.Required }}{{ end }}"
        "{{ range .Messages }}{{ .Content }}{{ end }}"
    )  # as Go ranges over a map: its keys in order
    text = template.render([Message("user", "")], (tool,)).text
    assert text == "find: city=string zone=string []"  # no `required` given: Go's empty list
