"""Structured output: a grammar that lets the model write only JSON, or only JSON that fits
a schema, and the check of the answer against the schema.

The grammar comes from llama-cpp-python's JSON-schema converter (the port of llama.cpp's
own). It enforces types, properties and `required`, `additionalProperties`, items and
their counts, `enum`, `const`, `anyOf`/`oneOf`, string lengths, `pattern`, and the date,
time and uuid formats; it skips anything else without a word. So the schema is walked
first: a keyword it would skip is refused by name (a 400 from the server), except the
numeric bounds, which no grammar of digits can hold, and which the answer is checked
against when it is complete. `$ref`s are resolved within the schema (`$defs`,
`definitions`); a remote one is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

ENFORCED = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems",
    "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs",
    "definitions", "pattern", "format", "minLength", "maxLength",
}  # fmt: skip
ANNOTATIONS = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment",
    "deprecated", "readOnly", "writeOnly", "strict", "nullable",
}  # fmt: skip
CHECKED_AFTER = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                 "uniqueItems"}  # fmt: skip
FORMATS = {"date", "time", "date-time", "uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"}
# Subschemas under these keywords: a mapping of names to schemas, a list, or one schema.
_NAMED = {"properties", "$defs", "definitions"}
_LISTED = {"anyOf", "oneOf", "allOf", "prefixItems"}
_SINGLE = {"items", "additionalProperties"}


class SchemaError(ValueError):
    """A schema llmtui cannot enforce, or an answer that does not fit it: one line, with
    where in the schema (or the answer) it is."""


def json_grammar() -> str:
    """Any JSON value, as `format: "json"` asks (Ollama) or `json_object` (OpenAI)."""
    from llama_cpp.llama_grammar import JSON_GBNF

    return str(JSON_GBNF)


def schema_grammar(schema: Any) -> str:
    """The grammar of `schema`; SchemaError naming the first part it cannot enforce."""
    if not isinstance(schema, dict):
        raise SchemaError("a JSON schema must be an object")
    for path, keyword in _keywords(schema, "#"):
        if keyword not in ENFORCED | ANNOTATIONS | CHECKED_AFTER:
            raise SchemaError(f"{path}: the keyword {keyword!r} cannot be enforced while "
                              "generating (supported: types, properties, required, items, "
                              "enum, const, anyOf/oneOf, lengths, pattern, $ref)")  # fmt: skip
    for path, node in _nodes(schema, "#"):
        given = node.get("format")
        if given is not None and given not in FORMATS:
            raise SchemaError(f"{path}: format {given!r} cannot be enforced (supported: "
                              f"{', '.join(sorted(FORMATS))})")  # fmt: skip
        ref = node.get("$ref")
        if ref is not None and not (isinstance(ref, str) and ref.startswith("#/")):
            raise SchemaError(f"{path}: $ref {ref!r}: only references within the schema "
                              "(#/$defs/...) are followed")  # fmt: skip
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(json.dumps(schema)))
    except (AssertionError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise SchemaError(f"the schema cannot be made a grammar: {error}") from None


def check(text: str, schema: Any | None) -> Any:
    """The answer, parsed; SchemaError if it is not JSON or does not fit `schema`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SchemaError(f"the answer is not complete JSON ({error.msg} at {error.pos}): "
                          "was it cut short by num_predict?") from None  # fmt: skip
    if schema is not None:
        import jsonschema

        problem = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(schema).iter_errors(value)
        )
        if problem is not None:
            where = "/".join(str(part) for part in problem.absolute_path) or "the answer"
            raise SchemaError(f"the answer does not fit the schema at {where}: "
                              f"{problem.message}")  # fmt: skip
    return value


def _nodes(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key, value in schema.items():
        if key in _NAMED and isinstance(value, dict):
            for name, sub in value.items():
                yield from _nodes(sub, f"{path}/{key}/{name}")
        elif key in _LISTED and isinstance(value, list):
            for number, sub in enumerate(value):
                yield from _nodes(sub, f"{path}/{key}/{number}")
        elif key in _SINGLE:
            yield from _nodes(value, f"{path}/{key}")


def _keywords(schema: Any, path: str) -> Iterator[tuple[str, str]]:
    for where, node in _nodes(schema, path):
        for keyword in node:
            yield where, keyword
