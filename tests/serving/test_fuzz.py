"""Fuzzing /score, /score_batch and /score_rows from the service's own OpenAPI spec: no 5xx, ever.

Schemathesis generates requests from the schema, both valid ones and deliberately invalid ones;
whatever a client sends must be answered 2xx or 4xx, with a status and a body the document
declares (a client generated from it must be able to read every answer, 400s included).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    Failure,
    FailureGroup,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving.conftest import TOKEN, Server

DOCUMENTED = [status_code_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("path", ["/score", "/score_batch", "/score_rows"])
def test_no_5xx_for_anything_a_client_sends(
    server: Server, path: str, mode: schemathesis.GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    operation = schema[path]["POST"]
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"})
        if response.status_code >= 500:
            failures.append(f"{response.status_code}: {case.as_curl_command()}\n{response.text}")
        try:
            case.validate_response(response, checks=DOCUMENTED)
        except (Failure, FailureGroup) as error:
            found = "; ".join(
                f"{e.title}: {e.message[:300]}" if isinstance(e, Failure) else str(e)
                for e in getattr(error, "exceptions", [error])
            )
            found += f" (answered {response.status_code}: {response.text[:300]})"
            failures.append(f"not as documented: {case.as_curl_command()}\n{found}")

    call()
    assert not failures, failures[:3]


def test_the_document_declares_what_the_service_answers_outside_the_apis(server: Server) -> None:
    """What BentoML cannot know: the token, the GET /model of the contract, our version."""
    document = server.client().get("/docs.json").json()
    assert document["info"]["title"] == "leadscore" and document["info"]["version"] != "None"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert set(document["paths"]["/model"]) == {"get", "post"}
    unauthorised = server.client(token=None).post("/score", json={})
    assert unauthorised.status_code == 401
    assert "401" in document["paths"]["/score"]["post"]["responses"]
    assert set(unauthorised.json()) == {"error"}
