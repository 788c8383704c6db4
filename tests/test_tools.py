"""Tools (function calling): templates that show them, calls read back from a reply as it
streams, calls forced by grammar, and both APIs' faces on the real starter model given
modelfiles/tools.Modelfile's template."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serving import Server

from llmtui.engine import Message, Tool, ToolCall
from llmtui.engine.prompt import TemplatePrompt
from llmtui.engine.tools import CallReader, ToolError, call_grammar, call_prefix, parse_calls
from llmtui.modelfile import parse
from llmtui.modelfile.gotemplate import GoTemplate, TemplateError

TOOLS_MODELFILE = Path(__file__).parent.parent / "modelfiles" / "tools.Modelfile"
WEATHER = Tool(
    "get_weather",
    "Get the current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = Tool("get_time", "The time in a timezone",
             {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]})  # fmt: skip
NAMES = {WEATHER.name, CLOCK.name}


def tools_template() -> GoTemplate:
    template = parse(TOOLS_MODELFILE.read_text()).template
    assert template is not None
    return GoTemplate(template)


# -- templates ----------------------------------------------------------------------------


def test_the_tools_modelfile_shows_tools_past_calls_and_their_answers() -> None:
    template = tools_template()
    assert template.supports_tools
    called = Message("assistant", "", (ToolCall("get_weather", {"city": "Paris"}),))
    text = template.render([Message("user", "Weather in Paris?"), called,
                            Message("tool", "22 C, sunny", tool_name="get_weather")],
                           (WEATHER,)).text  # fmt: skip
    # The tool as JSON (Ollama prints `.Function` so), the call, the answer, then the turn.
    assert json.dumps(WEATHER.as_json()["function"]) in text
    assert (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' in text
    )
    assert "<tool_response>\n22 C, sunny\n</tool_response>" in text
    assert text.endswith("<|im_start|>assistant\n")
    # Without tools, no tools section at all.
    assert "<tools>" not in template.render([Message("user", "Hi")]).text


def test_a_template_that_misreads_a_tool_fails_when_it_is_parsed() -> None:
    with pytest.raises(TemplateError, match=r"no field \.Nmae"):
        GoTemplate("{{ range .Tools }}{{ .Function.Nmae }}{{ end }}{{ range .Messages }}"
                   "{{ .Content }}{{ end }}")  # fmt: skip


MISTRAL = ("{{- range $i, $_ := .Messages }}{{- if eq .Role \"user\" }}{{- if $.Tools }}"
           "[AVAILABLE_TOOLS] {{ $.Tools }}[/AVAILABLE_TOOLS]{{ end }}[INST] {{ .Content }}[/INST]"
           "{{- else if eq .Role \"assistant\" }}{{- if .Content }} {{ .Content }}</s>"
           "{{- else if .ToolCalls }}[TOOL_CALLS] [{{- range .ToolCalls }}{\"name\": "
           "\"{{ .Function.Name }}\", \"arguments\": {{ json .Function.Arguments }}}"
           "{{- end }}]</s>{{- end }}{{- end }}{{- end }}")  # fmt: skip
LLAMA = ("{{ if .Tools }}Tools: {{ json .Tools }}\n{{ end }}{{ range .Messages }}"
         "<|{{ .Role }}|>{{ if .ToolCalls }}{{ range .ToolCalls }}{\"name\": \"{{ .Function.Name }}\""
         ", \"parameters\": {{ .Function.Arguments }}}{{ end }}{{ else }}{{ .Content }}{{ end }}"
         "\n{{ end }}<|assistant|>")  # fmt: skip
QWEN_JINJA = ("{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>"
              "{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.tool_calls %}"
              "{% for c in m.tool_calls %}<tool_call>\n{{ c.function | tojson }}\n</tool_call>"
              "{% endfor %}{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
              "<|im_start|>assistant\n")  # fmt: skip


@pytest.mark.parametrize(
    ("template", "prefix"),
    [
        (tools_template(), "<tool_call>"),
        (GoTemplate(MISTRAL), "[TOOL_CALLS]"),
        (GoTemplate(LLAMA), ""),  # bare JSON
        (TemplatePrompt(QWEN_JINJA, "", ""), "<tool_call>"),
    ],
)
def test_where_a_call_begins_is_read_from_the_template(template: object, prefix: str) -> None:
    assert template.supports_tools  # type: ignore[attr-defined]
    assert call_prefix(template) == prefix  # type: ignore[arg-type]


def test_a_jinja_template_is_given_the_tools() -> None:
    text = TemplatePrompt(QWEN_JINJA, "", "").render([Message("user", "Hi")], (WEATHER,)).text
    assert '"name": "get_weather"' in text and text.startswith("<tools>")
    assert not TemplatePrompt(
        "{% for m in messages %}{{ m.content }}{% endfor %}", "", ""
    ).supports_tools


# -- reading calls as a reply streams ------------------------------------------------------


def read(
    pieces: list[str], prefix: str = "<tool_call>", forced: bool = False
) -> tuple[list[str], str, tuple[ToolCall, ...]]:
    reader = CallReader(prefix, NAMES, forced)
    shown = [reader.feed(piece) for piece in pieces]
    rest, calls = reader.finish()
    return shown, rest, calls


def test_prose_goes_out_at_once_and_a_call_is_held_from_its_prefix() -> None:
    pieces = ["Let me ", "look. <tool", '_call>\n{"name": "get_weather", ', '"arguments": {"city": "Oslo"}}\n</tool_call>']  # fmt: skip
    shown, rest, calls = read(pieces)
    # "<tool" could begin the prefix: held until it does.
    assert shown == ["Let me ", "look. ", "", ""] and rest == ""
    assert calls == (ToolCall("get_weather", {"city": "Oslo"}),)


def test_two_calls_a_list_of_calls_and_arguments_as_a_string() -> None:
    two = '<tool_call>{"name": "get_weather", "arguments": {"city": "A"}}</tool_call>\n<tool_call>{"name": "get_time", "arguments": {"zone": "UTC"}}</tool_call>'  # fmt: skip
    assert [c.name for c in read([two])[2]] == ["get_weather", "get_time"]
    listed = '[TOOL_CALLS] [{"name": "get_time", "arguments": {"zone": "UTC"}}, {"name": "get_weather", "arguments": "{\\"city\\": \\"B\\"}"}]'  # fmt: skip
    calls = read([listed], prefix="[TOOL_CALLS]")[2]
    assert calls == (ToolCall("get_time", {"zone": "UTC"}), ToolCall("get_weather", {"city": "B"}))
    bare = ' {"name": "get_weather", "parameters": {"city": "C"}}'  # Llama 3.1's way
    assert read([bare], prefix="")[2] == (ToolCall("get_weather", {"city": "C"}),)


@pytest.mark.parametrize(
    "reply",
    [
        '{"answer": 42}',  # JSON, not a call
        '{"name": "launch_rockets", "arguments": {}}',  # a call to a tool never offered
        '<tool_call>{"name": "get_weather", "arguments": [1]}',  # arguments not an object
        "<tool_call>{broken",
        "<tool_calendar> is a tag",
        "<tool_call>" + "[" * 5000,  # nesting past Python's parser: not a call, no crash
    ],
)
def test_what_is_not_a_call_is_the_answer(reply: str) -> None:
    shown, rest, calls = read(list(reply))
    assert calls == () and "".join(shown) + rest == reply


@given(st.lists(st.integers(min_value=0, max_value=120), max_size=8))
def test_any_split_of_a_reply_reads_the_same(cuts: list[int]) -> None:
    reply = (
        'Sure. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Lyon"}}\n</tool_call>'
    )
    bounds = sorted({0, len(reply), *(c % (len(reply) + 1) for c in cuts)})
    pieces = [reply[a:b] for a, b in itertools.pairwise(bounds)]
    shown, rest, calls = read(pieces)
    assert "".join(shown) + rest == "Sure. "
    assert calls == (ToolCall("get_weather", {"city": "Lyon"}),)


def test_a_forced_call_reads_bare_json_and_names_only_offered_tools() -> None:
    assert read(['{"name": "get_time", "arguments": {"zone": "UTC"}}'], forced=True)[2]
    assert parse_calls('{"name": "get_time", "arguments": {}}', "", {"get_weather"}) == ()
    assert "get_weather" in call_grammar([WEATHER, CLOCK], "get_weather")
    with pytest.raises(ToolError, match="'nope', which is not among the tools"):
        call_grammar([WEATHER], "nope")
    odd = Tool("odd", "", {"type": "object", "not": {"type": "string"}})
    with pytest.raises(ToolError, match="'not' cannot be enforced"):
        call_grammar([odd])


# -- both APIs, on the real model ------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    made = httpx.post(f"{running.url}/api/create", timeout=60,
                      json={"model": "tools", "modelfile": TOOLS_MODELFILE.read_text(), "stream": False})  # fmt: skip
    assert made.status_code == 200, made.text
    yield running
    running.stop()


ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_openai_forced_call_then_the_answer(server: Server) -> None:
    oai = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    tools = [WEATHER.as_json(), CLOCK.as_json()]
    done = oai.chat.completions.create(model="tools", messages=ASK, tools=tools,  # type: ignore[arg-type]
                                       tool_choice="required", temperature=0)  # fmt: skip
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name in NAMES and isinstance(json.loads(call.function.arguments), dict)
    # Streamed, and forced to one function by name.
    chunks = list(oai.chat.completions.create(
        model="tools", messages=ASK, tools=tools, stream=True, temperature=0,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "get_weather"}}))  # fmt: skip
    deltas = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert len(deltas) == 1 and deltas[0][0].function is not None
    assert deltas[0][0].function.name == "get_weather" and deltas[0][0].index == 0
    assert "city" in json.loads(deltas[0][0].function.arguments or "")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # The call and its result go back; the model answers in words.
    history = [*ASK, {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
               {"role": "tool", "tool_call_id": call.id, "content": "22 C and sunny"}]  # fmt: skip
    answer = oai.chat.completions.create(model="tools", messages=history, tools=tools,  # type: ignore[arg-type]
                                         temperature=0, max_tokens=40)  # fmt: skip
    assert answer.choices[0].message.content and not answer.choices[0].message.tool_calls


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
      city: The city's name
    """
    return "22 C and sunny"


def test_ollama_tools_calls_and_their_answers(server: Server) -> None:
    client = ollama.Client(host=server.url)
    shown = client.show("tools")
    assert "tools" in (shown.capabilities or []) and "tools" not in (
        client.show("smollm2:135m").capabilities or []
    )
    # The official client makes a tool of a Python function; left to choose, this small
    # model answers in words or calls: either way a well-formed message.
    chose = client.chat(
        "tools", ASK, tools=[get_weather], options={"temperature": 0, "num_predict": 60}
    )
    assert chose.message.content or chose.message.tool_calls
    # Forced (llmtui takes OpenAI's tool_choice here too): Ollama's shape of a call.
    body = {"model": "tools", "messages": ASK, "tools": [WEATHER.as_json()], "tool_choice": "required",
            "options": {"temperature": 0}, "stream": False}  # fmt: skip
    whole = httpx.post(f"{server.url}/api/chat", json=body, timeout=120).json()
    (call,) = whole["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and isinstance(
        call["function"]["arguments"]["city"], str
    )
    assert whole["done"] and whole["done_reason"] == "stop"
    with httpx.stream(
        "POST", f"{server.url}/api/chat", json={**body, "stream": True}, timeout=120
    ) as streamed:
        lines = [json.loads(line) for line in streamed.iter_lines() if line]
    assert [
        line["message"].get("tool_calls") for line in lines if line["message"].get("tool_calls")
    ] == [whole["message"]["tool_calls"]]
    assert lines[-1]["done"] and not any(line["done"] for line in lines[:-1])
    # The client sends the call and its result back as Ollama's own messages.
    history = [*ASK, chose.message if chose.message.tool_calls else
               {"role": "assistant", "content": "", "tool_calls": [call]},
               {"role": "tool", "content": get_weather("Paris"), "tool_name": "get_weather"}]  # fmt: skip
    answer = client.chat(
        "tools", history, tools=[get_weather], options={"temperature": 0, "num_predict": 40}
    )
    assert answer.message.content


def test_tool_mistakes_are_one_line_each(server: Server) -> None:
    def chat(**body: object) -> httpx.Response:
        return httpx.post(
            f"{server.url}/api/chat",
            timeout=60,
            json={"model": "tools", "messages": ASK, "stream": False, **body},
        )

    def said(response: httpx.Response) -> str:
        return str(response.json()["error"])

    tool = WEATHER.as_json()
    cases = [
        (chat(model="smollm2:135m", tools=[tool]), "smollm2:135m does not support tools"),
        (chat(tools=[tool], tool_choice={"type": "function", "function": {"name": "nope"}}), "'nope', which is not among the tools"),
        (chat(tools={"a": 1}), "tools must be a list"),
        (chat(tools=[{"type": "function", "function": {"description": "x"}}]), "tools[0].function.name is required"),
        (chat(tool_choice="required"), "no tools were given"),
        (chat(tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}],
              tool_choice="required"), "'not' cannot be enforced"),
        (chat(messages=[{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1"}}]}]),
         "function.arguments must be a JSON object"),
    ]  # fmt: skip
    for response, message in cases:
        assert response.status_code == 400 and message in said(response), response.text
    oai = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        oai.chat.completions.create(model="smollm2:135m", messages=ASK, tools=[tool])  # type: ignore[arg-type, list-item]
    assert refused.value.param == "tools" and "does not support tools" in refused.value.message
    assert httpx.get(f"{server.url}/api/version").status_code == 200  # and the server goes on
