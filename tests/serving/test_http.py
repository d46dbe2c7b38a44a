"""The HTTP contract, against a real `bentoml serve` process and a real PostgreSQL audit log."""

from __future__ import annotations

import gzip
import json
import time

import pandas as pd
import pytest

from features.contract import CRMTables
from serving.audit import AuditLog
from tests.serving.conftest import Server

CONTRACT_FIELDS = {
    "lead_id", "probability", "score", "grade", "route", "reasons", "handover_note",
    "quality_flags", "model", "scored_at", "request_id",
}  # fmt: skip


def inline_lead(crm: CRMTables, lead_id: str) -> dict:
    """A stored lead sent inline, as the CRM would send it."""
    lead = crm.leads.set_index("lead_id").loc[lead_id]
    body = {"lead_id": lead_id, "created_at": lead["created_at"].isoformat()}
    for key in ("first_name", "last_name", "company", "job_title", "email", "country", "city"):
        if isinstance(lead[key], str):
            body[key] = lead[key]
    activities = crm.activities[crm.activities["lead_id"] == lead_id]
    events = [
        {"occurred_at": row.occurred_at.isoformat(), "activity_type": row.activity_type}
        | ({"asset": row.asset} if isinstance(row.asset, str) else {})
        | ({"topic": row.topic} if isinstance(row.topic, str) else {})
        for row in activities.itertuples()
    ]
    return {"lead": body, "activities": events}


@pytest.fixture(scope="module")
def busy_lead(crm: CRMTables) -> str:
    """A consenting lead with many distinct assets in its history."""
    consenting = crm.leads.loc[crm.leads["consent_profiling"].fillna(True), "lead_id"]
    acts = crm.activities[crm.activities["lead_id"].isin(consenting)]
    return str(acts.groupby("lead_id")["asset"].nunique().idxmax())


def test_probes_are_open_and_scoring_needs_a_token(server: Server) -> None:
    assert server.client(token=None).get("/healthz").status_code == 200
    assert server.client(token=None).get("/readyz").status_code == 200
    assert server.client(token=None).post("/score", json={}).status_code == 401
    assert server.client(token="wrong").post("/score", json={}).status_code == 401
    assert server.client(token="second-token").post("/model").status_code == 200


def test_score_returns_the_contract_and_its_audit_record(
    server: Server, crm: CRMTables, busy_lead: str, audit_url: str
) -> None:
    response = server.client().post("/score", json=inline_lead(crm, busy_lead))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= CONTRACT_FIELDS
    assert 0 <= body["probability"] <= 1
    assert body["score"] == round(body["probability"] * 100)
    assert body["grade"] in {"A", "B", "C", "D"}
    assert body["route"]["action"] in {"sales", "nurture", "review"}
    contributions = [abs(r["contribution"]) for r in body["reasons"]]
    assert contributions == sorted(contributions, reverse=True)
    assert any(r["contribution"] > 0 for r in body["reasons"])
    serving = server.client().post("/model").json()
    assert body["model"] == {"name": "leadscore", "version": serving["version"]}

    history = AuditLog(audit_url).history(busy_lead)
    record = history[history["request_id"] == body["request_id"]]
    assert len(record) == 1
    assert record["probability"].iloc[0] == pytest.approx(body["probability"])
    assert record["reasons"].iloc[0] == body["reasons"]


def test_the_crms_request_id_is_the_answers_and_the_audit_records(
    server: Server, crm: CRMTables, busy_lead: str, audit_url: str
) -> None:
    """A CRM finds its call in the audit log by its own id; a retry keeps the id."""
    sent = {"X-Request-ID": "crm-4711.retry:1"}
    response = server.client().post("/score", json={"lead_id": busy_lead}, headers=sent)
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == response.json()["request_id"] == "crm-4711.retry:1"
    history = AuditLog(audit_url).history(busy_lead)
    assert (history["request_id"] == "crm-4711.retry:1").sum() == 1

    own = server.client().post("/score_batch", json={"leads": [{"lead_id": busy_lead}]})
    assert own.headers["x-request-id"] == own.json()[0]["request_id"]  # ours, said in the header

    bad = server.client().post(
        "/score", json={"lead_id": busy_lead}, headers={"X-Request-ID": "a b"}
    )
    assert bad.status_code == 400
    assert bad.json()["detail"][0]["loc"] == ["headers", "X-Request-ID"]
    # refusals the API never saw carry the id back too
    wrong = server.client().post("/score", json={"lead_id": busy_lead, "x": 1}, headers=sent)
    unknown = server.client(token=None).post("/score", json={}, headers=sent)
    assert (wrong.status_code, unknown.status_code) == (400, 401)
    assert wrong.headers["x-request-id"] == unknown.headers["x-request-id"] == "crm-4711.retry:1"


def test_reasons_cite_assets_that_are_in_the_leads_history(
    server: Server, crm: CRMTables, busy_lead: str
) -> None:
    body = server.client().post("/score", json=inline_lead(crm, busy_lead)).json()
    known = set(crm.activities.loc[crm.activities["lead_id"] == busy_lead, "asset"].dropna())
    actions = body["handover_note"].split(" Score ")[0]  # the part that lists actions
    text = " ".join(r["text"] for r in body["reasons"]) + " " + actions
    quoted = set(text.split("'")[1::2])
    assert quoted, text
    assert quoted <= known, quoted - known


def test_inline_and_stored_lead_give_the_same_score(
    server: Server, crm: CRMTables, busy_lead: str, audit_url: str
) -> None:
    inline = server.client().post("/score", json=inline_lead(crm, busy_lead)).json()
    stored = server.client().post("/score", json={"lead_id": busy_lead}).json()
    assert stored["lead_id"] == busy_lead
    # duplicates of the same person are merged from the store; only compare when there are none
    if stored["reasons"] == inline["reasons"]:
        assert stored["probability"] == inline["probability"]
    unknown = server.client().post("/score", json={"lead_id": "NOPE"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "lead_id: 'NOPE' is not in the lead store"}  # an object
    batch = {"leads": [{"lead_id": busy_lead}, {"lead_id": "NOPE"}]}
    unknown = server.client().post("/score_batch", json=batch)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "leads.1.lead_id: 'NOPE' is not in the lead store"}
    # refused before any lead is scored: the inline lead beside it has no record of a score
    # nobody received
    orphan = inline_lead(crm, busy_lead)
    orphan["lead"]["lead_id"] = "ORPHAN-1"
    refused = server.client().post("/score_batch", json={"leads": [orphan, {"lead_id": "NOPE"}]})
    assert refused.status_code == 404, refused.text
    assert AuditLog(audit_url).history("ORPHAN-1").empty


def test_a_misspelt_field_is_named_not_dropped(
    server: Server, crm: CRMTables, busy_lead: str
) -> None:
    """Every field of /score is optional: "activites" would have been dropped, and the lead
    scored as if it had done nothing."""
    body = inline_lead(crm, busy_lead)
    body["activites"] = body.pop("activities")
    answer = server.client().post("/score", json=body)
    assert answer.status_code == 400
    assert [e["loc"] for e in answer.json()["detail"]] == [["activites"]]
    answer = server.client().post("/score_batch", json={"leads": [body]})
    assert answer.status_code == 400
    assert [e["loc"] for e in answer.json()["detail"]] == [["leads", 0, "activites"]]
    answer = server.client().post("/score_batch", json={"leads": [], "langauge": "de"})
    assert answer.status_code == 400
    assert [e["loc"] for e in answer.json()["detail"]] == [["langauge"]]
    # activities beside a lead_id: the store's history is scored, they would be dropped
    stored = {"lead_id": busy_lead, "activities": body["activites"][:1]}
    answer = server.client().post("/score", json=stored)
    assert answer.status_code == 400
    assert [e["loc"] for e in answer.json()["detail"]] == [["activities"]]
    answer = server.client().post("/score_batch", json={"leads": [stored]})
    assert answer.status_code == 400
    assert "'activities' come with 'lead'" in answer.text


def test_activities_after_the_scoring_moment_are_said_to_be_unused(
    server: Server, crm: CRMTables, busy_lead: str
) -> None:
    """A CRM in Berlin that sends its local time without an offset sends the last hour's
    actions "in the future": they are left out, as a planned meeting is, and the answer says so."""
    body = inline_lead(crm, busy_lead)
    answer = server.client().post("/score", json=body)
    assert answer.status_code == 200 and answer.json()["warnings"] == []
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)

    def at(minutes: int, offset: str = "") -> str:
        return (now + pd.Timedelta(minutes=minutes)).isoformat() + offset

    body["activities"] += [
        {"occurred_at": at(50), "activity_type": "demo_request"},  # Berlin's time, no offset
        {"occurred_at": at(7 * 24 * 60, "+01:00"), "activity_type": "meeting"},  # planned
        {"occurred_at": at(-5, "Z"), "activity_type": "blog_read"},  # just now: used
    ]
    warned = server.client().post("/score", json=body).json()["warnings"]
    assert len(warned) == 1 and warned[0].startswith("2 activities at or after the scoring moment")
    batch = server.client().post("/score_batch", json={"leads": [body]}).json()
    assert [w[:45] for w in batch[0]["warnings"]] == [warned[0][:45]]
    body["lead"]["created_at"] = at(60)  # a new lead, in Berlin's time without an offset
    warned = server.client().post("/score", json=body).json()["warnings"]
    assert warned[-1].startswith("lead.created_at is after the scoring moment"), warned
    german = server.client().post("/score", json={**body, "lang": "de"}).json()["warnings"]
    assert german[0].startswith("2 Aktivitäten am oder nach dem Bewertungszeitpunkt"), german
    assert german[-1].startswith("lead.created_at liegt nach dem Bewertungszeitpunkt"), german


def test_a_stored_lead_that_has_bought_is_said_to_be_a_customer(
    server: Server, crm: CRMTables
) -> None:
    won = crm.outcomes.loc[crm.outcomes["won"].astype(bool), "lead_id"].iloc[0]
    answer = server.client().post("/score", json={"lead_id": won})
    assert answer.status_code == 200
    warned = answer.json()["warnings"]
    assert any("a customer, not a lead to hand over" in w for w in warned)
    german = server.client().post("/score", json={"lead_id": won, "lang": "de"}).json()
    assert any("ein Kunde, kein Lead für die Übergabe" in w for w in german["warnings"])
    # the demo CRM ends on 31 Oct 2026: scored now, a store nobody refreshes is said to be one
    newest = crm.activities["occurred_at"].max()
    if pd.Timestamp.now(tz="UTC").tz_localize(None) - newest >= pd.Timedelta(days=14):
        said = f"the lead store's newest activity is from {newest:%Y-%m-%d}"
        assert any(w.startswith(said) for w in warned), warned
        ins_deutsche = f"die neueste Aktivität im Lead-Speicher ist vom {newest:%d.%m.%Y}"
        assert any(w.startswith(ins_deutsche) for w in german["warnings"]), german


def test_a_stored_lead_is_scored_as_of_a_past_moment_on_request(
    server: Server, crm: CRMTables
) -> None:
    """A backfill: what did this lead score on the export's day? Features see only what
    happened before the moment, and a store fresh at that moment is not called stale."""
    lead = str(crm.leads["lead_id"].iloc[3])
    moment = (crm.activities["occurred_at"].max() + pd.Timedelta(days=1)).normalize()
    body = {"lead_id": lead, "as_of": moment.isoformat()}
    answer = server.client().post("/score", json=body)
    assert answer.status_code == 200, answer.text
    scored = answer.json()
    # UTC with its offset, as scored_at is written
    assert scored["as_of"] == moment.tz_localize("UTC").isoformat()
    assert scored["scored_at"].endswith("+00:00")
    assert not any("newest activity" in w for w in scored["warnings"])
    batch = server.client().post(
        "/score_batch", json={"leads": [{"lead_id": lead}], "as_of": moment.isoformat()}
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()[0]["probability"] == scored["probability"]
    assert batch.json()[0]["as_of"] == scored["as_of"]

    future = server.client().post("/score", json={"lead_id": lead, "as_of": "2099-01-01"})
    assert future.status_code == 400 and "as_of" in future.text and "future" in future.text
    # a lead scored before it existed was scored as one with no history (and went to sales)
    young = crm.leads.sort_values("created_at").iloc[-1]
    before = (young["created_at"] - pd.Timedelta(days=1)).isoformat()
    early = server.client().post(
        "/score_batch", json={"leads": [{"lead_id": young["lead_id"]}], "as_of": before}
    )
    assert early.status_code == 400, early.text
    assert early.json()["detail"][0]["loc"] == ["leads", 0, "lead_id"]
    assert "after the scoring moment" in early.text


def test_a_batch_is_one_request_inline_leads_and_stored_ones_alike(
    server: Server, crm: CRMTables, busy_lead: str
) -> None:
    other = str(crm.leads["lead_id"].iloc[7])
    batch = {"leads": [{"lead_id": other}, inline_lead(crm, busy_lead)]}
    answer = server.client().post("/score_batch", json=batch)
    assert answer.status_code == 200, answer.text
    first, second = answer.json()
    assert first["request_id"] == second["request_id"]
    assert first["as_of"] == second["as_of"]


def test_german_reasons_on_request(server: Server, crm: CRMTables, busy_lead: str) -> None:
    body = server.client().post("/score", json=inline_lead(crm, busy_lead) | {"lang": "de"})
    assert body.status_code == 200
    note = body.json()["handover_note"]
    assert "Score" in note and ("Bitte" in note or "Bleibt" in note)


def test_a_lead_without_profiling_consent_gets_no_model_score(
    server: Server, crm: CRMTables, busy_lead: str
) -> None:
    request = inline_lead(crm, busy_lead)
    request["lead"]["consent_profiling"] = False
    body = server.client().post("/score", json=request).json()
    assert body["probability"] is None and body["score"] is None and body["grade"] is None
    assert body["reasons"] == []
    assert "consent" in body["route"]["why"]
    assert "profiling" in body["handover_note"]


def test_score_batch_matches_single_scores(server: Server, crm: CRMTables) -> None:
    ids = list(crm.leads["lead_id"].iloc[[10, 20, 30]])
    batch = server.client().post("/score_batch", json={"leads": [inline_lead(crm, i) for i in ids]})
    assert batch.status_code == 200, batch.text
    results = batch.json()
    assert [r["lead_id"] for r in results] == ids
    single = server.client().post("/score", json=inline_lead(crm, ids[1])).json()
    assert results[1]["probability"] == single["probability"]
    assert len({r["request_id"] for r in results}) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lead": {"lead_id": "X", "created_at": "yesterday"}}, "created_at"),
        ({"lead": {"created_at": "2026-01-01T00:00:00"}}, "lead_id"),
        (
            {
                "lead": {"lead_id": "X", "created_at": "2026-01-01T00:00:00"},
                "activities": [{"occurred_at": "soon", "activity_type": "page_view"}],
            },
            "occurred_at",
        ),
        (
            {
                "lead": {"lead_id": "X", "created_at": "2026-01-01T00:00:00"},
                "activities": [{"occurred_at": "2026-01-02T00:00:00"}],
            },
            "activity_type",
        ),
        ({"lead": {"lead_id": "X", "created_at": "2026-01-01", "employees": -5}}, "employees"),
        (
            {
                "lead": {"lead_id": "X", "created_at": "2026-01-01T00:00:00"},
                "activities": [{"occurred_at": "2300-01-01T00:00:00", "activity_type": "meeting"}],
            },
            "occurred_at",
        ),
        ({"lead_id": "a", "lead": {"lead_id": "b", "created_at": "2026-01-01"}}, "lead_id"),
        ({}, "lead"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(server: Server, body: dict, field: str) -> None:
    response = server.client().post("/score", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"city": "a\\u0000"', "city"),
        ('"budget": "a\\u0000"', "budget"),
        ('"budget": "a\\udccd"', "JSON"),  # half a surrogate pair is not JSON to the parser
    ],
)
def test_text_no_store_can_hold_is_a_4xx_naming_the_field(
    server: Server, text: str, field: str
) -> None:
    # PostgreSQL (the audit log here) refuses NUL in text and JSON
    body = '{"lead": {"lead_id": "X", "created_at": "2026-01-01", ' + text + "}}"
    response = server.client().post(
        "/score", content=body.encode("ascii"), headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


def test_a_clients_mistake_is_one_line_in_the_log_not_a_traceback(server: Server) -> None:
    before = server.log.read_text(errors="replace")
    for _ in range(3):
        bad = server.client().post("/score", json={"lead": {"lead_id": "X", "created_at": "soon"}})
        assert bad.status_code == 400
    time.sleep(0.5)
    added = server.log.read_text(errors="replace")[len(before) :]
    assert added.count("client error on /score [POST]: ValidationError") == 3, added
    assert "Traceback" not in added


def test_a_lead_sent_twice_in_a_batch_is_refused(server: Server, crm: CRMTables) -> None:
    lead_id = str(crm.leads["lead_id"].iloc[10])
    inline = inline_lead(crm, lead_id)
    for twice in ([inline, {"lead_id": lead_id}], [{"lead_id": lead_id}, inline]):
        response = server.client().post("/score_batch", json={"leads": twice})
        assert response.status_code == 400, response.text
        (error,) = response.json()["detail"]
        assert error["loc"][:2] == ["leads", 1] and error["loc"][-1] == "lead_id"
        assert "leads.0" in error["msg"]


def test_malformed_and_oversized_bodies_are_4xx(server: Server) -> None:
    client = server.client()
    bad_json = client.post(
        "/score", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert 400 <= bad_json.status_code < 500
    huge = {"lead": {"lead_id": "X", "created_at": "2026-01-01", "company": "x" * 6_000_000}}
    assert client.post("/score", json=huge).status_code == 413
    body = json.dumps(huge).encode()
    chunks = (body[i : i + 65_536] for i in range(0, len(body), 65_536))  # no Content-Length
    streamed = client.post("/score", content=chunks, headers={"content-type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    small = json.dumps({"lead_id": "NOPE"}).encode()
    streamed = client.post("/score", content=iter([small[:5], small[5:]]))
    assert streamed.status_code == 404, streamed.text  # read whole, then answered
    for form in ("multipart/form-data; boundary=zz", "application/x-www-form-urlencoded"):
        response = client.post("/score", content=small, headers={"content-type": form})
        assert response.status_code == 415, response.text
    packed = client.post(
        "/score", content=gzip.compress(small), headers={"content-encoding": "gzip"}
    )
    assert packed.status_code == 415 and "plain JSON" in packed.json()["error"], packed.text


def test_model_endpoint_describes_the_champion(server: Server) -> None:
    assert server.client(token=None).get("/model").status_code == 401
    response = server.client().get("/model")
    assert response.status_code == 200, response.text
    body = response.json()
    posted = server.client().post("/model").json()
    # the same answer whichever way it is asked; another worker process may give it
    assert isinstance(body.pop("worker"), int) and isinstance(posted.pop("worker"), int)
    assert body == posted
    assert body["loaded"] is True and body["version"].isdigit()
    assert set(body["thresholds"]) == {"A", "B", "C"}
    assert body["metrics"]["roc_auc"] > 0.7
    test_from = body["data_window"]["test_from"]  # a moment as answers write them: UTC
    assert test_from.endswith("+00:00") and pd.Timestamp(test_from) < pd.Timestamp.now(tz="UTC")


def test_a_refusal_of_ours_is_an_object_that_says_why_even_a_503() -> None:
    """BentoML hides a 5xx's message ("An unexpected error has occurred"); a CRM must be able
    to tell a missing model from a crash (the real server's 404 is checked above)."""
    import asyncio
    import json

    from serving.service import ModelUnavailable, answered

    why = "no tabular model loaded: RegistryError: no champion; run leadscore train DATA"

    @answered
    def refuse() -> None:
        raise ModelUnavailable(why)

    @answered
    async def refuse_async() -> None:
        raise ModelUnavailable(why)

    for answer in (refuse(), asyncio.run(refuse_async())):
        assert answer.status_code == 503
        assert json.loads(answer.body) == {"error": why}
