"""Fuzzing /score, /score_batch and /score_rows from the service's own OpenAPI spec: no 5xx, ever.

Schemathesis generates requests from the schema, both valid ones and deliberately invalid ones;
whatever a client sends must be answered 2xx or 4xx.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.serving.conftest import TOKEN, Server


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

    call()
    assert not failures, failures[:3]
