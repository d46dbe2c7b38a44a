"""The OpenAPI document as the service really answers.

BentoML generates ``/docs.json`` from the APIs' signatures, but it knows nothing of what runs
in front of them or of what we answer ourselves: it declares a 400 whose ``detail`` is a string
(ours is the list of field errors), lists neither 401, 413, 415 nor 503, no bearer token, no
``GET /model``, and calls the service version "None" with BentoML's own read-me as its
description. A client generated from that document could not read one of our 400s; this module
corrects the generated document, so that it stays generated from the code.
"""

from __future__ import annotations

import copy
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# the statuses each API answers besides 200: only the two scoring APIs look leads up by id
APIS: dict[str, tuple[int, ...]] = {
    "/score": (400, 401, 404, 413, 415, 500, 503),
    "/score_batch": (400, 401, 404, 413, 415, 500, 503),
    "/score_rows": (400, 401, 413, 415, 500, 503),
    "/model": (400, 401, 413, 415, 500),  # POST reads a body; GET (below) none
}
GET_MODEL = (401, 500)
OPEN = ("/healthz", "/livez", "/readyz", "/metrics")

DESCRIPTION = (
    "Predictive lead scoring: a calibrated probability that a lead buys within the horizon, a "
    "0-100 score and grade, the route (sales, nurture or review) and the reasons in the lead's "
    "own actions. Every request but the probes needs `Authorization: Bearer <token>`. Errors "
    "are a JSON object with `error`; a 400 for the fields sent also lists each field error in "
    '`detail` (`loc` is the path to the field, e.g. `["leads", 3, "lead", "created_at"]`).'
)

_MESSAGE = {"type": "string", "description": "What went wrong, in one line"}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": _MESSAGE},
    },
    "FieldError": {
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {
                "type": "array",
                "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "description": "The path to the field: names and list positions",
            },
            "msg": {"type": "string"},
            "type": {"type": "string"},
            "url": {"type": "string"},
        },
    },
    "FieldErrors": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": _MESSAGE,
            "detail": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        },
    },
}

# what each status means here; the 400 has the field errors, the others one message
STATUSES: dict[int, tuple[str, str]] = {
    400: ("A field of the request is missing, of the wrong type or not allowed", "FieldErrors"),
    401: ("No bearer token, or one the service does not know", "Error"),
    404: ("A lead_id that is not in the lead store", "Error"),
    413: ("The request body is larger than the service accepts", "Error"),
    415: ("The body is not plain JSON (form data, another content type, gzip)", "Error"),
    500: ("A fault of the service; please report it", "Error"),
    503: ("No model loaded yet, or the audit log cannot be written: try again", "Error"),
}


# the scoring APIs take a CRM's own request id and answer it (serving.service._request_id)
REQUEST_ID = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for the request (a retry keeps it): the answers' request_id and the "
    "audit records' are this id, and it comes back in the same header; without it, a new one",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
}
SCORING = ("/score", "/score_batch", "/score_rows")


def _response(status: int) -> dict[str, Any]:
    description, schema = STATUSES[status]
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {"description": description, "content": content}


def _ok(responses: dict[Any, Any]) -> dict[str, Any]:
    """The 200 answer (BentoML keys statuses by number, JSON by text)."""
    return responses.get("200", responses.get(200))  # type: ignore[no-any-return]


def _version() -> str:
    try:
        return version("leadscore")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "0+unknown"


def service_document(generated: dict[str, Any]) -> dict[str, Any]:
    """BentoML's generated document, corrected to what the service answers."""
    document = copy.deepcopy(generated)
    document["info"] = {"title": "leadscore", "version": _version(), "description": DESCRIPTION}
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("InvalidArgument", "NotFound", "InternalServerError"):  # replaced below
        schemas.pop(unused, None)
    schemas.update(copy.deepcopy(SCHEMAS))
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    document["security"] = [{"bearer": []}]
    paths = document["paths"]
    for path in OPEN:
        for operation in paths.get(path, {}).values():
            operation["security"] = []
    for path, statuses in APIS.items():
        item = paths.get(path, {})
        if "post" not in item:
            continue
        if path == "/model":  # the contract's GET, the same answer as BentoML's POST
            item["get"] = {k: v for k, v in item["post"].items() if k != "requestBody"}
            item["get"]["operationId"] = "leadscore__model_get"
        if path in SCORING:
            item["post"]["parameters"] = [REQUEST_ID]
            item["post"]["responses"]["200"] = {
                **_ok(item["post"]["responses"]),
                "headers": {"X-Request-ID": {"schema": {"type": "string"}}},
            }
        for method, operation in item.items():
            answered = GET_MODEL if method == "get" else statuses
            operation["responses"] = {
                "200": _ok(operation["responses"]),
                **{str(s): _response(s) for s in answered},
            }
    return document
