"""`llmtui serve`, a real server on a free loopback port with the starter models, driven by
the official `ollama` and `openai` Python clients (and raw HTTP for what clients do not
send: wrong bodies, other hosts, tokens)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import numpy as np
import ollama
import openai
import pytest
from serving import Server, free_port

GREEDY = {"temperature": 0, "seed": 1, "num_predict": 12}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> ollama.Client:
    return ollama.Client(host=server.url)


@pytest.fixture
def oai(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_ollama_client_lists_shows_and_answers(client: ollama.Client) -> None:
    names = [model.model for model in client.list().models]
    assert "smollm2:135m" in names and "gemma3:270m" in names
    shown = client.show("smollm2:135m")
    assert shown.modelfile and "FROM" in shown.modelfile
    assert shown.details is not None and shown.details.family == "llama"
    whole = client.chat("smollm2:135m", [{"role": "user", "content": "Name a fruit."}],
                        options=GREEDY)  # fmt: skip
    assert whole.message.content and whole.done and whole.eval_count == 12
    assert whole.done_reason == "length" and (whole.total_duration or 0) > 0
    pieces = list(client.chat("smollm2:135m", [{"role": "user", "content": "Name a fruit."}],
                              options=GREEDY, stream=True))  # fmt: skip
    assert "".join(p.message.content or "" for p in pieces) == whole.message.content
    assert pieces[-1].done and not any(p.done for p in pieces[:-1])
    # A conversation: the earlier turns go with the next (greedy, the answer differs).
    turns = [{"role": "user", "content": "My name is Ada."},
             {"role": "assistant", "content": "Hello Ada! How can I help?"},
             {"role": "user", "content": "What is my name?"}]  # fmt: skip
    again = client.chat("smollm2:135m", turns, options=GREEDY)
    alone = client.chat("smollm2:135m", turns[-1:], options=GREEDY)
    assert again.message.content != alone.message.content
    made = client.generate("smollm2:135m", "Say hello.", options=GREEDY)
    assert made.response and made.eval_count == 12
    raw = client.generate("gemma3:270m", "The capital of France is", options=GREEDY)
    assert raw.response.strip()
    loaded = [m.model for m in client.ps().models]
    assert "smollm2:135m" in loaded and "gemma3:270m" in loaded


def test_keep_alive_0_with_no_prompt_unloads(client: ollama.Client) -> None:
    client.generate("gemma3:270m", "Hi", options=GREEDY)
    assert "gemma3:270m" in [m.model for m in client.ps().models]
    said = client.generate("gemma3:270m", "", keep_alive=0)
    assert said.done and said.done_reason == "unload"
    assert "gemma3:270m" not in [m.model for m in client.ps().models]


@pytest.mark.parametrize(
    ("call", "status", "said"),
    [
        (lambda c: c.chat("nope:1", [{"role": "user", "content": "x"}]), 404,
         "model 'nope:1' not found"),
        (lambda c: c.chat("../../etc/passwd", [{"role": "user", "content": "x"}]), 400,
         "is not a model name"),
        (lambda c: c.chat("smollm2:135m", [{"role": "user", "content": "x"}],
                          options={"temprature": 1}), 400, "unknown option 'temprature'"),
        (lambda c: c.chat("smollm2:135m", [{"role": "user", "content": "x"}],
                          options={"num_ctx": 10**9}), 500, "needs about"),
        (lambda c: c.generate("smollm2:135m", "Hi " * 400, options={"num_ctx": 256}), 400,
         "num_ctx"),
        (lambda c: c.chat("smollm2:135m", [{"role": "user", "content": "x"}],
                          format={"type": "object", "not": {"required": ["a"]}}),
         400, "format: #: the keyword 'not' cannot be enforced"),
        (lambda c: c.chat("smollm2:135m", [{"role": "user", "content": "x"}],
                          format={"type": "string", "format": "email"}),
         400, "format 'email' cannot be enforced"),
        (lambda c: c.generate("smollm2:135m", "x", keep_alive="5 parsecs"), 400,
         "keep_alive"),
    ],
)  # fmt: skip
def test_ollama_errors_in_ollamas_shape(
    client: ollama.Client, call: object, status: int, said: str
) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        call(client)  # type: ignore[operator]
    assert caught.value.status_code == status and said in caught.value.error


def test_openai_client_models_chat_stream_and_completions(oai: openai.OpenAI) -> None:
    assert {"smollm2:135m", "gemma3:270m"} <= {m.id for m in oai.models.list()}
    assert oai.models.retrieve("smollm2:135m").id == "smollm2:135m"
    ask = [{"role": "user", "content": "Name a colour."}]
    whole = oai.chat.completions.create(
        model="smollm2:135m", messages=ask, max_tokens=12, temperature=0, seed=1
    )  # type: ignore[arg-type]
    [choice] = whole.choices
    assert choice.message.content and choice.finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 12
    assert whole.usage.prompt_tokens > 5  # the whole prompt, cached or not
    chunks = list(oai.chat.completions.create(
        model="smollm2:135m", messages=ask, max_tokens=12, temperature=0, seed=1,  # type: ignore[arg-type]
        stream=True, stream_options={"include_usage": True},
    ))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    done = oai.completions.create(model="gemma3:270m", prompt="One, two, three,",
                                  max_tokens=8, temperature=0)  # fmt: skip
    assert done.choices[0].text and done.usage is not None and done.usage.completion_tokens == 8


def test_openai_errors_name_what_is_wrong(oai: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.NotFoundError) as missing:
        oai.chat.completions.create(model="nope:1", messages=ask)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    for extra, named in (({"logit_bias": {"1": 5}}, "logit_bias"), ({"n": 2}, "n"),
                         ({"tools": [{"type": "function", "function": {"name": "f"}}]},
                          "tools")):  # fmt: skip
        with pytest.raises(openai.BadRequestError) as refused:
            oai.chat.completions.create(
                model="smollm2:135m",
                messages=ask,  # type: ignore[arg-type]
                **extra,
            )  # type: ignore[call-overload]
        assert refused.value.param == named and named in str(refused.value.message)


def test_hostile_requests_get_clear_errors_and_the_server_goes_on(server: Server) -> None:
    post = lambda path, **kw: httpx.post(f"{server.url}{path}", timeout=30, **kw)  # noqa: E731
    assert post("/api/chat", content=b"{not json").json()["error"].startswith("the body is not")
    assert post("/api/chat", content=b"[1, 2]").status_code == 400
    assert post("/api/chat", content=b"\xff\xfe").status_code == 400
    deep = "[" * 100_000 + "]" * 100_000  # was a 500: Python's JSON parser recursed out
    nested = post(
        "/api/chat", content=b'{"model": "smollm2:135m", "messages": ' + deep.encode() + b"}"
    )
    assert nested.json()["error"] == "the body's JSON nests too deeply"
    call = {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": deep}}]}
    argued = post("/api/chat", json={"model": "smollm2:135m", "messages": [call]})
    assert argued.status_code == 400 and "arguments must be a JSON object" in argued.json()["error"]
    big = post("/api/chat", content=b"x" * (17 * 1024 * 1024))
    assert big.status_code == 413
    wrong = post("/api/chat", json={"model": "smollm2:135m", "messages": [{"role": "god"}]})
    assert wrong.status_code == 400 and "role" in wrong.json()["error"]
    yaml = post("/api/chat", json={"model": "smollm2:135m", "messages": [], "format": "yaml"})
    assert yaml.json()["error"] == 'format must be "json" or a JSON schema'
    typed = post("/api/chat", json={"model": 5, "messages": []})
    assert typed.status_code == 400 and "model must be a string" in typed.json()["error"]
    rebinding = httpx.get(f"{server.url}/api/tags", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 403
    cors = httpx.options(
        f"{server.url}/api/tags",
        headers={"Origin": "https://attacker.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in cors.headers
    local = httpx.options(
        f"{server.url}/api/tags",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert local.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert httpx.get(f"{server.url}/no/such/path").json() == {"error": "Not Found"}
    assert httpx.get(f"{server.url}/api/version").json()["version"]


def test_a_client_that_goes_away_stops_its_generation(server: Server) -> None:
    body = {"model": "smollm2:135m", "prompt": "Write a long story about the sea.",
            "options": {"num_predict": 2000, "temperature": 0}}  # fmt: skip
    with httpx.stream("POST", f"{server.url}/api/generate", json=body, timeout=60) as reply:
        lines = reply.iter_lines()
        for _ in range(5):
            assert not json.loads(next(lines))["done"]
    # Within moments the model is idle again (ps gives an expiry only to an idle model).
    deadline = time.monotonic() + 10
    while True:
        models = httpx.get(f"{server.url}/api/ps").json()["models"]
        if all(m["expires_at"] for m in models if m["name"] == "smollm2:135m"):
            break
        assert time.monotonic() < deadline, models
        time.sleep(0.1)


def test_a_client_that_goes_away_gives_its_place_back() -> None:
    one = Server("--parallel", "1", "--max-queue", "0")
    story = {"model": "smollm2:135m", "prompt": "Write a long story about the sea.",
             "options": {"num_predict": 2000, "temperature": 0}}  # fmt: skip
    short = {"model": "smollm2:135m", "prompt": "Hi", "options": GREEDY, "stream": False}
    try:
        with httpx.stream("POST", f"{one.url}/api/generate", json=story, timeout=60) as reply:
            lines = reply.iter_lines()
            for _ in range(3):
                assert not json.loads(next(lines))["done"]
            assert httpx.post(f"{one.url}/api/generate", json=short).status_code == 503
        deadline = time.monotonic() + 10
        while (
            said := httpx.post(f"{one.url}/api/generate", json=short, timeout=60)
        ).status_code == 503:
            assert time.monotonic() < deadline, "the place was not given back"
            time.sleep(0.1)
        assert said.status_code == 200 and said.json()["done_reason"] in ("stop", "length")
    finally:
        one.stop()


def test_a_token_is_required_when_set_and_a_taken_port_is_one_line() -> None:
    class Guarded(Server):
        @property
        def auth(self) -> dict[str, str]:
            return {"Authorization": "Bearer s3cret"}

    guarded = Guarded("--token", "s3cret", "--host", "0.0.0.0")
    try:
        assert httpx.get(f"{guarded.url}/api/version").status_code == 401
        # Beyond loopback, a client may not make the server read its files.
        create = httpx.post(f"{guarded.url}/api/create", headers=guarded.auth, timeout=60,
                            json={"model": "serve-file:1", "from": "/etc/passwd"})  # fmt: skip
        assert (
            create.status_code == 403
            and "only while the server listens on loopback" in (create.json()["error"])
        )
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(f"{guarded.url}/api/version", headers=wrong).status_code == 401
        assert httpx.get(f"{guarded.url}/api/version", headers=guarded.auth).status_code == 200
        taken = subprocess.run(
            [sys.executable, "-m", "llmtui", "serve", "--port", str(guarded.port)],
            capture_output=True, text=True, timeout=60, env=os.environ,
        )  # fmt: skip
        assert taken.returncode == 1 and taken.stderr.count("\n") == 1
        assert f"cannot listen on 127.0.0.1:{guarded.port}" in taken.stderr
        assert "--port" in taken.stderr
    finally:
        log = guarded.stop()
    assert "GET /api/version - 401" in log and "GET /api/version - 200" in log


def test_the_readmes_python_examples_run(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    section = readme.split("## The API: `llmtui serve`")[1].split("\n## ")[0]
    examples = [block.split("```")[0] for block in section.split("```python\n")[1:]]
    assert len(examples) == 4
    # The tools example's model, as the README makes it (a Modelfile over the API here).
    tools = (root / "modelfiles" / "tools.Modelfile").read_text()
    made = httpx.post(f"{server.url}/api/create", timeout=60,
                      json={"model": "tools", "modelfile": tools, "stream": False})  # fmt: skip
    assert made.status_code == 200, made.text
    for example in examples:
        exec(example.replace("http://127.0.0.1:11434", server.url), {})
        said = capsys.readouterr().out
        assert said.strip(), example


def test_llmtui_ps_asks_the_running_server(server: Server, client: ollama.Client) -> None:
    client.generate("smollm2:135m", "Hi", options=GREEDY)
    run = [sys.executable, "-m", "llmtui", "ps", "--host", f"127.0.0.1:{server.port}"]
    shown = subprocess.run(run, capture_output=True, text=True, timeout=60, env=os.environ)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split() == ["NAME", "SIZE", "CONTEXT", "UNTIL"]
    assert any(row.startswith("smollm2:135m") for row in rows)
    nobody = subprocess.run([*run[:-1], f"127.0.0.1:{free_port()}"], capture_output=True,
                            text=True, timeout=60, env=os.environ)  # fmt: skip
    assert nobody.returncode == 1 and nobody.stderr.startswith("Error: no server answers on")


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer"},
        "pets": {"type": "array", "items": {"$ref": "#/$defs/pet"}, "maxItems": 2},
    },
    "required": ["name", "age", "pets"],
    "additionalProperties": False,
    "$defs": {"pet": {"type": "string", "enum": ["cat", "dog", "fish"]}},
}


def test_structured_output_fits_the_schema_in_both_apis(
    client: ollama.Client, oai: openai.OpenAI
) -> None:
    ask = [{"role": "user", "content": "Describe a person called Ada, 36, with one cat, as JSON."}]
    options = {"temperature": 0, "num_predict": 120}
    answer = client.chat("smollm2:135m", ask, format=PERSON, options=options)
    person = json.loads(answer.message.content or "")
    jsonschema.validate(person, PERSON)
    any_json = client.generate("smollm2:135m", "Three colours as a JSON list:", format="json",
                               options=options)  # fmt: skip
    json.loads(any_json.response)
    completion = oai.chat.completions.create(
        model="smollm2:135m", messages=ask, max_tokens=120, temperature=0,  # type: ignore[arg-type]
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
    )  # fmt: skip
    jsonschema.validate(json.loads(completion.choices[0].message.content or ""), PERSON)
    streamed = oai.chat.completions.create(
        model="smollm2:135m", messages=ask, max_tokens=120, temperature=0, stream=True,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )  # fmt: skip
    json.loads("".join(c.choices[0].delta.content or "" for c in streamed if c.choices))


def test_an_answer_that_cannot_fit_is_an_error_not_a_broken_object(
    client: ollama.Client, oai: openai.OpenAI
) -> None:
    # Cut short by num_predict: not complete JSON, and said so.
    with pytest.raises(ollama.ResponseError) as cut:
        client.chat("smollm2:135m", [{"role": "user", "content": "A person as JSON."}],
                    format=PERSON, options={"temperature": 0, "num_predict": 4})  # fmt: skip
    assert cut.value.status_code == 500 and "cut short by num_predict" in cut.value.error
    # A bound no grammar of digits holds is checked on the answer.
    bounded = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 10**12}},
               "required": ["n"]}  # fmt: skip
    with pytest.raises(openai.InternalServerError) as off:
        oai.chat.completions.create(
            model="smollm2:135m", messages=[{"role": "user", "content": "Say 3 as JSON."}],  # type: ignore[list-item]
            temperature=0, max_tokens=40,
            response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": bounded}},
        )  # fmt: skip
    assert "does not fit the schema at n" in str(off.value.message)


def test_embeddings_in_both_apis_unit_length_and_similar_texts_closer(
    client: ollama.Client, oai: openai.OpenAI, server: Server
) -> None:
    texts = ["The cat sat on the mat.", "A kitten rested on the rug.",
             "Quarterly tax filing deadlines"]  # fmt: skip
    made = client.embed("smollm2:135m", texts)
    vectors = np.array(made.embeddings)
    assert vectors.shape == (3, 576)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert (made.prompt_eval_count or 0) > 10
    one = client.embed("smollm2:135m", texts[0]).embeddings
    assert np.allclose(one[0], vectors[0], atol=1e-5)
    older = httpx.post(f"{server.url}/api/embeddings", timeout=60,
                       json={"model": "smollm2:135m", "prompt": texts[0]}).json()  # fmt: skip
    assert np.allclose(older["embedding"], vectors[0], atol=1e-5)
    answer = oai.embeddings.create(model="smollm2:135m", input=texts)
    assert [item.index for item in answer.data] == [0, 1, 2]
    assert np.allclose(answer.data[2].embedding, vectors[2], atol=1e-5)
    assert answer.usage.prompt_tokens == made.prompt_eval_count
    with pytest.raises(openai.BadRequestError) as refused:
        oai.embeddings.create(model="smollm2:135m", input=texts, dimensions=8)
    assert refused.value.param == "dimensions"
    with pytest.raises(ollama.ResponseError) as empty:
        client.embed("smollm2:135m", [])
    assert empty.value.status_code == 400


def test_embedding_leaves_the_chats_cache_alone(client: ollama.Client) -> None:
    ask = [{"role": "user", "content": "Tell me about the moon in two sentences."}]
    first = client.chat("smollm2:135m", ask, options=GREEDY)
    client.embed("smollm2:135m", ["something else entirely " * 20])
    again = client.chat("smollm2:135m", ask, options=GREEDY)
    # The same prompt again: its tokens come from the chat's cache, which the embedding
    # (on a context of its own) did not touch.
    assert (again.prompt_eval_count or 0) < (first.prompt_eval_count or 0)
    assert again.message.content == first.message.content


def test_llmtui_embed_prints_a_vector_per_text() -> None:
    run = [sys.executable, "-m", "llmtui", "embed", "smollm2:135m", "one", "two"]
    plain = subprocess.run(run, capture_output=True, text=True, timeout=120, env=os.environ)
    assert plain.returncode == 0, plain.stderr
    rows = [[float(x) for x in line.split()] for line in plain.stdout.splitlines()]
    assert len(rows) == 2 and all(len(row) == 576 for row in rows)
    data = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True,
                                     timeout=120, env=os.environ).stdout)  # fmt: skip
    assert data["model"] == "smollm2:135m" and len(data["embeddings"]) == 2
    wrong = subprocess.run([*run[:4], "nope:1", "x"], capture_output=True, text=True,
                           timeout=60, env=os.environ)  # fmt: skip
    assert wrong.returncode == 1 and wrong.stderr.startswith("Error: model 'nope:1' not found")


def test_create_show_copy_and_delete_a_model(client: ollama.Client, tmp_path: Path) -> None:
    made = list(client.create("serve-pirate:1", from_="smollm2:135m", system="You are a pirate.",
                              parameters={"temperature": 0.2}, stream=True))  # fmt: skip
    assert made[-1].status == "success"
    shown = client.show("serve-pirate:1")
    assert "You are a pirate." in (shown.modelfile or "") and "temperature" in (
        shown.parameters or ""
    )
    client.copy("serve-pirate:1", "serve-pirate:2")
    assert {"serve-pirate:1", "serve-pirate:2"} <= {m.model for m in client.list().models}
    answer = client.chat("serve-pirate:2", [{"role": "user", "content": "Hi"}], options=GREEDY)
    assert answer.message.content
    client.delete("serve-pirate:1")
    client.delete("serve-pirate:2")
    assert not {"serve-pirate:1", "serve-pirate:2"} & {m.model for m in client.list().models}
    with pytest.raises(ollama.ResponseError) as gone:
        client.delete("serve-pirate:1")
    assert gone.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as starter:
        client.delete("smollm2:135m")
    assert starter.value.status_code == 400 and "starter model" in starter.value.error


def test_create_errors_name_the_line_and_the_field(server: Server) -> None:
    post = lambda body: httpx.post(f"{server.url}/api/create", json=body, timeout=60)  # noqa: E731
    bad = post({"model": "serve-bad:1", "modelfile": "FROM smollm2:135m\nPARAMETER temprature 1\n"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("modelfile:2:")
    missing = post({"model": "serve-bad:1", "from": "nope:9"})
    assert missing.status_code == 400 and "FROM" in missing.json()["error"]
    path = post({"model": "../escape", "from": "smollm2:135m"})
    assert path.status_code == 400
    blobs = post({"model": "serve-bad:1", "from": "smollm2:135m", "files": {"a.gguf": "sha256:0"}})
    assert blobs.status_code == 400 and blobs.json()["error"].startswith("files is not supported")


def test_pull_from_the_hub_with_progress(fake_hub: object) -> None:
    hubbed = Server()  # started after the stand-in hub: HF_ENDPOINT points at it
    try:
        client = ollama.Client(host=hubbed.url)
        statuses = list(client.pull("hf.co/tester/Variant-GGUF:Q4_1", stream=True))
        assert statuses[-1].status == "success"
        assert any((s.total or 0) > 0 and s.completed == s.total for s in statuses)
        names = [m.model for m in client.list().models]
        assert "hf.co/tester/Variant-GGUF:Q4_1" in names
        with pytest.raises(ollama.ResponseError) as nothing:
            client.pull("hf.co/tester/no-gguf")
        assert nothing.value.status_code == 400 and "no GGUF files" in nothing.value.error
        with pytest.raises(ollama.ResponseError) as other:
            client.pull("llama3.2")
        assert other.value.status_code == 400 and "hf.co/OWNER/REPO" in other.value.error
    finally:
        hubbed.stop()


def test_eight_clients_at_once_each_get_their_own_answer(server: Server) -> None:
    prompts = [f"Count from {n} to {n + 5}." for n in range(8)]

    async def ask(http: httpx.AsyncClient, prompt: str) -> str:
        body = {"model": "smollm2:135m", "messages": [{"role": "user", "content": prompt}],
                "options": {**GREEDY, "num_predict": 16}}  # fmt: skip
        said = []
        async with http.stream("POST", f"{server.url}/api/chat", json=body) as reply:
            async for line in reply.aiter_lines():
                said.append(json.loads(line)["message"]["content"])
        return "".join(said)

    async def everyone() -> list[str]:
        async with httpx.AsyncClient(timeout=300) as http:
            return await asyncio.gather(*(ask(http, prompt) for prompt in prompts))

    together = asyncio.run(everyone())
    alone = [ollama.Client(host=server.url).chat(
        "smollm2:135m", [{"role": "user", "content": p}], options={**GREEDY, "num_predict": 16}
    ).message.content for p in prompts]  # fmt: skip
    assert together == alone  # every stream whole, none with another's words


def test_a_full_queue_answers_503_with_retry_after() -> None:
    small = Server("--parallel", "2", "--max-queue", "1")
    try:
        long = {"model": "smollm2:135m", "prompt": "Write a long story.",
                "options": {"num_predict": 150, "temperature": 0}, "stream": False}  # fmt: skip

        async def four() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=300) as http:
                tasks = []
                for _ in range(4):
                    tasks.append(asyncio.ensure_future(
                        http.post(f"{small.url}/api/generate", json=long)))  # fmt: skip
                    # In order: two answered at once, one waiting, one too many.
                    await asyncio.sleep(0.3)
                return await asyncio.gather(*tasks)

        replies = asyncio.run(four())
        assert [r.status_code for r in replies] == [200, 200, 200, 503]
        assert replies[3].headers["retry-after"] == "2"
        assert "busy" in replies[3].json()["error"]
        openai_style = openai.OpenAI(base_url=f"{small.url}/v1", api_key="x", max_retries=0)
        assert openai_style.models.list().data  # the server goes on
    finally:
        small.stop()


def test_generate_continues_a_context_and_takes_a_template_of_its_own(server: Server) -> None:
    def generate(**body: object) -> dict:
        asked = {"model": "smollm2:135m", "options": GREEDY, "stream": False, **body}
        said = httpx.post(f"{server.url}/api/generate", json=asked, timeout=120)
        assert said.status_code == 200, said.text
        return dict(said.json())

    first = generate(prompt="My name is Ada.")
    context = first["context"]
    assert len(context) > first["eval_count"] and all(isinstance(t, int) for t in context)
    then = generate(prompt="What is my name?", context=context)
    # The next answer's tokens begin with the whole of the earlier exchange.
    assert then["context"][: len(context)] == context and len(then["context"]) > len(context)
    assert then["response"] != generate(prompt="What is my name?")["response"]
    streamed = httpx.post(f"{server.url}/api/generate", timeout=120, json={
        "model": "smollm2:135m", "prompt": "My name is Ada.", "options": GREEDY})  # fmt: skip
    last = json.loads(streamed.text.strip().splitlines()[-1])
    assert last["done"] and last["context"] == context
    # A template of the request's own: "{{ .Prompt }}" is the raw prompt, token for token.
    plain = generate(prompt="The sea is", template="{{ .Prompt }}")
    raw = generate(prompt="The sea is", raw=True)
    assert plain["response"] == raw["response"] and plain["context"] == raw["context"]


def test_generate_mistakes_in_context_template_images_and_think(server: Server) -> None:
    def refused(**body: object) -> str:
        asked = {"model": "smollm2:135m", "prompt": "Hi", "stream": False, **body}
        said = httpx.post(f"{server.url}/api/generate", json=asked, timeout=60)
        assert said.status_code == 400, said.text
        return str(said.json()["error"])

    assert "context must be a list of token ids" in refused(context=["a"])
    assert "context holds 99999999, which is not a token of smollm2:135m" in refused(
        context=[99999999]
    )
    assert "template: {{ if }} has no {{ end }} (at character 3)" in refused(
        template="{{ if .Prompt }}x"
    )
    assert "template: there is no field .Nope" in refused(template="{{ .Nope }}")
    assert "has no vision" in refused(images=["aGk="])
    assert '"smollm2:135m" does not support thinking' in refused(think=True)


def test_generate_fills_in_the_middle_where_the_template_places_a_suffix(server: Server) -> None:
    def generate(**body: object) -> httpx.Response:
        asked = {"model": "smollm2:135m", "options": GREEDY, "stream": False, **body}
        return httpx.post(f"{server.url}/api/generate", json=asked, timeout=120)

    # A code model's template lays out prompt and suffix (codellama's <PRE> <SUF> <MID>):
    # the same tokens as writing that layout out by hand.
    fim = "<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>"
    filled = generate(prompt="def add(a, b):", suffix="    return c", template=fim).json()
    by_hand = generate(prompt="<PRE> def add(a, b): <SUF>    return c <MID>", raw=True).json()
    assert filled["response"] == by_hand["response"] and filled["context"] == by_hand["context"]
    refused = generate(prompt="def add(a, b):", suffix="    return c")  # ChatML has no .Suffix
    assert refused.status_code == 400
    assert refused.json()["error"].startswith('"smollm2:135m" does not support insert')
