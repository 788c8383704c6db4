"""The OpenAPI document against the server: every route is in it, it is valid OpenAPI 3.1,
and schemathesis sends requests made from it to a real server (a home of its own: the
requests create and delete models) and checks that no answer is a 5xx and each fits it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from serving import Server

from llmtui.engine import Engine
from llmtui.server.app import build_app
from llmtui.server.openapi import document

SCHEMA = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("openapi-home")
    running = Server(env={**os.environ, "LLMTUI_HOME": str(home)})
    yield running
    running.stop()


def test_every_route_is_in_the_document_and_it_is_served(server: Server) -> None:
    engine = Engine()
    try:
        app = build_app(engine, own_engine=False)
        routes = {(route.path.replace("{name:path}", "{name}"), method.lower())
                  for route in app.routes for method in getattr(route, "methods", None) or ()
                  if method != "HEAD" and route.path != "/openapi.json"}  # fmt: skip
    finally:
        engine.close()
    described = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert routes == described
    served = httpx.get(f"{server.url}/openapi.json").json()
    assert served == document() and served["openapi"] == "3.1.0"


@SCHEMA.exclude(path="/api/pull").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_requests_made_from_the_document(case: schemathesis.Case, server: Server) -> None:
    # /api/pull is left out: it reaches for Hugging Face (tests/test_hub.py has a stand-in).
    # A request that fits the document may still be refused (a name that does not parse, a
    # Modelfile with a mistake): a 400 with its sentence is a documented answer, not a fault.
    excluded = [schemathesis.checks.positive_data_acceptance]
    case.call_and_validate(base_url=server.url, excluded_checks=excluded)

