"""The server's OpenAPI 3.1 document, at `GET /openapi.json`: every route, the request fields
each takes (as the checks in requests.py and the APIs read them), and what each answers.

Written out rather than generated from the handlers: they read JSON by hand, to give each
mistake its own sentence, so no framework can see their fields. tests/test_openapi.py holds
the document to the server: every route is in it, and schemathesis sends requests made from
it and checks each answer against it (and that none is a 5xx).
"""

from __future__ import annotations

from typing import Any

from llmtui import __version__
from llmtui.engine.options import OPTION_DOCS, OPTION_TYPES

_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _option(name: str) -> dict[str, Any]:
    kind = OPTION_TYPES[name]
    if kind is tuple:  # stop: one string or several
        schema: dict[str, Any] = {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
        }
    else:
        schema = {"type": _JSON_TYPES[kind]}
    return {**schema, "description": OPTION_DOCS[name]}


_STRING = {"type": "string"}
_FLAG = {"type": "boolean"}
_MODEL = {"type": "string", "description": "A model's name, e.g. smollm2:135m"}
_KEEP_ALIVE = {
    "description": "Seconds (or a duration like 5m) to stay loaded; 0 unloads, negative: always",
    "oneOf": [{"type": "number"}, {"type": "string"}],
}
_FORMAT = {
    "description": '"json", or a JSON schema the answer must fit',
    "oneOf": [{"const": "json"}, {"type": "object"}],
}
_CONTEXT = {
    "type": "array",
    "items": {"type": "integer"},
    "description": "tokens of an earlier answer, to continue from (the final chunk's)",
}
_NS = {"type": "integer", "description": "nanoseconds"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": _STRING}},
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": _STRING,
                    "type": _STRING,
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "Options": {
        "type": "object",
        "description": "Ollama's model options (a Modelfile's PARAMETERs)",
        "properties": {name: _option(name) for name in OPTION_TYPES},
        "additionalProperties": False,
    },
    "ToolCall": {
        "type": "object",
        "required": ["function"],
        "properties": {
            "function": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _STRING,
                    "arguments": {"type": "object"},
                    "index": {"type": "integer"},
                },
            }
        },
    },
    "Message": {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"enum": ["system", "user", "assistant", "tool"]},
            "content": {"type": ["string", "null"]},
            "tool_calls": {"type": "array", "items": _ref("ToolCall")},
            "tool_name": _STRING,
        },
    },
    "Tool": {
        "type": "object",
        "required": ["function"],
        "properties": {
            "type": {"const": "function"},
            "function": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _STRING,
                    "description": _STRING,
                    "parameters": {"type": "object"},
                },
            },
        },
    },
    "Statistics": {
        "type": "object",
        "properties": {
            "done_reason": _STRING,
            "total_duration": _NS,
            "load_duration": _NS,
            "prompt_eval_count": {"type": "integer"},
            "prompt_eval_duration": _NS,
            "eval_count": {"type": "integer"},
            "eval_duration": _NS,
        },
    },
    "ChatResponse": {
        "allOf": [
            _ref("Statistics"),
            {
                "type": "object",
                "required": ["model", "created_at", "message", "done"],
                "properties": {
                    "model": _STRING,
                    "created_at": _STRING,
                    "message": _ref("Message"),
                    "done": _FLAG,
                },
            },
        ],
    },
    "GenerateResponse": {
        "allOf": [
            _ref("Statistics"),
            {
                "type": "object",
                "required": ["model", "created_at", "response", "done"],
                "properties": {
                    "model": _STRING,
                    "created_at": _STRING,
                    "response": _STRING,
                    "done": _FLAG,
                    "context": _CONTEXT,
                },
            },
        ],
    },
    "ModelDetails": {
        "type": "object",
        "properties": {
            "format": _STRING,
            "family": _STRING,
            "parameter_size": _STRING,
            "quantization_level": _STRING,
        },
    },
    "Status": {"type": "object", "required": ["status"], "properties": {"status": _STRING}},
    "OpenAIModel": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": _STRING,
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": _STRING,
        },
    },
    "Usage": {
        "type": "object",
        "properties": {
            "prompt_tokens": {"type": "integer"},
            "completion_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"},
        },
    },
}

_OPENAI_COMMON = {
    "model": _MODEL,
    "stream": _FLAG,
    "stream_options": {
        "type": "object",
        "properties": {"include_usage": _FLAG},
        "additionalProperties": False,
    },
    "max_tokens": {"type": ["integer", "null"]},
    "temperature": {"type": ["number", "null"]},
    "top_p": {"type": ["number", "null"]},
    "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": _STRING}, {"type": "null"}]},
    "seed": {"type": ["integer", "null"]},
    "presence_penalty": {"type": ["number", "null"]},
    "frequency_penalty": {"type": ["number", "null"]},
    "n": {"const": 1, "description": "one choice per request"},
    "user": _STRING,
}


def _body(required: list[str], properties: dict[str, Any], closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "required": required, "properties": properties}
    if closed:  # OpenAI's endpoints refuse any field they do not take, by name
        schema["additionalProperties"] = False
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answers(
    ok: dict[str, Any] | None,
    *errors: int,
    openai: bool = False,
    media: str = "application/json",
    pieces: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The 200 (its schema as `media`; with `pieces`, a stream's media and each piece's
    schema too) and each error status's body."""
    error = {
        "content": {"application/json": {"schema": _ref("OpenAIError" if openai else "Error")}}
    }
    said: dict[str, Any] = {"200": {"description": "done"}}
    if ok is not None:
        said["200"]["content"] = {media: {"schema": ok}}
    if pieces is not None:
        said["200"]["description"] = "the whole answer, or its pieces as they come (stream)"
        said["200"]["content"][pieces[0]] = {"schema": pieces[1]}
    for status in errors:
        said[str(status)] = {"description": _REASONS[status], **error}
    return said


_REASONS = {
    400: "a field is wrong (the message names it)",
    403: "not allowed from where the server listens",
    404: "no such model",
    413: "the body is too large",
    500: "the model failed (too big for memory, a broken file)",
    503: "the model's queue is full: try again after Retry-After",
}
_MODEL_ERRORS = (400, 404, 500, 503)


def _operation(
    summary: str, body: dict[str, Any] | None, answers: dict[str, Any]
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": answers}
    if body is not None:
        operation["requestBody"] = body
    return operation


def document() -> dict[str, Any]:
    chat = {
        "model": _MODEL,
        "messages": {"type": "array", "items": _ref("Message")},
        "tools": {"type": "array", "items": _ref("Tool")},
        "tool_choice": {
            "description": 'llmtui\'s addition: "auto", "none", "required", or '
            '{"type": "function", "function": {"name": ...}}'
        },
        "format": _FORMAT,
        "options": _ref("Options"),
        "stream": _FLAG,
        "keep_alive": _KEEP_ALIVE,
    }
    generate = {
        "model": _MODEL,
        "prompt": _STRING,
        "system": _STRING,
        "raw": _FLAG,
        "template": {"type": "string", "description": "a Go template for this request"},
        "suffix": {"type": "string", "description": "fill in between prompt and suffix"},
        "context": _CONTEXT,
        "images": {"type": "array", "items": _STRING, "description": "refused: no vision"},
        "think": {"type": "boolean", "description": "refused: no thinking models"},
        "format": _FORMAT,
        "options": _ref("Options"),
        "stream": _FLAG,
        "keep_alive": _KEEP_ALIVE,
    }
    embed = {
        "model": _MODEL,
        "options": _ref("Options"),
        "keep_alive": _KEEP_ALIVE,
        "truncate": _FLAG,
        "input": {"oneOf": [_STRING, {"type": "array", "items": _STRING, "minItems": 1}]},
    }
    vectors = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
    model_list = {
        "type": "object",
        "required": ["models"],
        "properties": {
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "model"],
                    "properties": {
                        "name": _STRING,
                        "model": _STRING,
                        "size": {"type": "integer"},
                        "details": _ref("ModelDetails"),
                    },
                },
            }
        },
    }
    oai_chat = {
        **_OPENAI_COMMON,
        "messages": {"type": "array", "items": {"type": "object"}},
        "max_completion_tokens": {"type": ["integer", "null"]},
        "response_format": {"type": "object"},
        "tools": {"type": "array", "items": _ref("Tool")},
        "tool_choice": {"oneOf": [{"enum": ["auto", "none", "required"]}, {"type": "object"}]},
        "parallel_tool_calls": _FLAG,
    }
    completion = {
        "type": "object",
        "required": ["id", "object", "choices"],
        "properties": {
            "id": _STRING,
            "object": _STRING,
            "created": {"type": "integer"},
            "model": _STRING,
            "choices": {"type": "array"},
            "usage": _ref("Usage"),
        },
    }
    streams = "application/x-ndjson"
    paths: dict[str, Any] = {
        "/": {
            "get": _operation(
                "Ollama is running", None, _answers({"type": "string"}, media="text/plain")
            )
        },
        "/api/version": {
            "get": _operation(
                "The server's version",
                None,
                _answers(
                    {
                        "type": "object",
                        "required": ["version"],
                        "properties": {"version": _STRING, "server": _STRING},
                    }
                ),
            )
        },
        "/api/tags": {"get": _operation("The library's models", None, _answers(model_list))},
        "/api/ps": {"get": _operation("The loaded models", None, _answers(model_list))},
        "/api/show": {
            "post": _operation(
                "A model's Modelfile, parameters, template and facts",
                _body(["model"], {"model": _MODEL, "name": _MODEL, "verbose": _FLAG}),
                _answers(
                    {
                        "type": "object",
                        "properties": {
                            "modelfile": _STRING,
                            "parameters": _STRING,
                            "template": _STRING,
                            "capabilities": {"type": "array", "items": _STRING},
                        },
                    },
                    400,
                    404,
                ),
            )
        },
        "/api/chat": {
            "post": _operation(
                "Answer a conversation (NDJSON unless stream is false)",
                _body(["model"], chat),
                _answers(
                    _ref("ChatResponse"), *_MODEL_ERRORS, pieces=(streams, _ref("ChatResponse"))
                ),
            )
        },
        "/api/generate": {
            "post": _operation(
                "Continue a prompt (NDJSON unless stream is false)",
                _body(["model"], generate),
                _answers(
                    _ref("GenerateResponse"),
                    *_MODEL_ERRORS,
                    pieces=(streams, _ref("GenerateResponse")),
                ),
            )
        },
        "/api/embed": {
            "post": _operation(
                "Embeddings of one text or many, L2-normalised",
                _body(["model", "input"], embed),
                _answers(
                    {
                        "type": "object",
                        "required": ["embeddings"],
                        "properties": {"model": _STRING, "embeddings": vectors},
                    },
                    *_MODEL_ERRORS,
                ),
            )
        },
        "/api/embeddings": {
            "post": _operation(
                "Ollama's older embedding endpoint",
                _body(
                    ["model", "prompt"],
                    {
                        "model": _MODEL,
                        "prompt": _STRING,
                        "options": _ref("Options"),
                        "keep_alive": _KEEP_ALIVE,
                    },
                ),
                _answers(
                    {
                        "type": "object",
                        "required": ["embedding"],
                        "properties": {"embedding": {"type": "array", "items": {"type": "number"}}},
                    },
                    *_MODEL_ERRORS,
                ),
            )
        },
        "/api/create": {
            "post": _operation(
                "Create a model from a Modelfile, or its fields",
                _body(
                    ["model"],
                    {
                        "model": _MODEL,
                        "modelfile": _STRING,
                        "from": _STRING,
                        "system": _STRING,
                        "template": _STRING,
                        "stream": _FLAG,
                        "parameters": _ref("Options"),
                        "messages": {"type": "array", "items": _ref("Message")},
                        "license": {"oneOf": [_STRING, {"type": "array", "items": _STRING}]},
                    },
                ),
                _answers(_ref("Status"), 400, 403, 404),
            )
        },
        "/api/copy": {
            "post": _operation(
                "Copy a model to a new name",
                _body(["source", "destination"], {"source": _MODEL, "destination": _MODEL}),
                _answers(None, 400, 404),
            )
        },
        "/api/delete": {
            "delete": _operation(
                "Delete a model",
                _body(["model"], {"model": _MODEL, "name": _MODEL}),
                _answers(None, 400, 404),
            )
        },
        "/api/pull": {
            "post": _operation(
                "Pull a GGUF from Hugging Face (NDJSON progress)",
                _body(
                    ["model"],
                    {
                        "model": {"type": "string", "description": "hf.co/OWNER/REPO[:QUANT]"},
                        "stream": _FLAG,
                        "insecure": _FLAG,
                    },
                ),
                _answers(_ref("Status"), 400, 404, 500, media=streams),
            )
        },
        "/v1/models": {
            "get": _operation(
                "The library's models, as OpenAI lists them",
                None,
                _answers(
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "object": {"const": "list"},
                            "data": {"type": "array", "items": _ref("OpenAIModel")},
                        },
                    }
                ),
            )
        },
        "/v1/models/{name}": {
            "get": {
                **_operation(
                    "One model", None, _answers(_ref("OpenAIModel"), 400, 404, openai=True)
                ),
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": _STRING}],
            }
        },
        "/v1/chat/completions": {
            "post": _operation(
                "Chat completions (SSE when streaming)",
                _body(["model", "messages"], oai_chat, closed=True),
                _answers(
                    completion, *_MODEL_ERRORS, openai=True, pieces=("text/event-stream", _STRING)
                ),
            )
        },
        "/v1/completions": {
            "post": _operation(
                "Completions of a prompt (SSE when streaming)",
                _body(["model", "prompt"], {**_OPENAI_COMMON, "prompt": _STRING}, closed=True),
                _answers(
                    completion, *_MODEL_ERRORS, openai=True, pieces=("text/event-stream", _STRING)
                ),
            )
        },
        "/v1/embeddings": {
            "post": _operation(
                "Embeddings, as floats or base64",
                _body(
                    ["model", "input"],
                    {
                        "model": _MODEL,
                        "user": _STRING,
                        "input": embed["input"],
                        "encoding_format": {"enum": ["float", "base64"]},
                    },
                    closed=True,
                ),
                _answers(
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "object": {"const": "list"},
                            "data": {"type": "array"},
                            "model": _STRING,
                            "usage": _ref("Usage"),
                        },
                    },
                    *_MODEL_ERRORS,
                    openai=True,
                ),
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llmtui serve",
            "version": __version__,
            "description": "Ollama's native API and OpenAI's, on llmtui's engine",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
