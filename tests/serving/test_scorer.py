"""The Scorer in-process: a batch gives each lead exactly what scoring it alone gives, and the
reasons chosen for all rows at once are the ones a lead-by-lead reading of the contributions
picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features.contract import CRMTables
from features.pipeline import build_features, explain_events, objecting_leads
from leadscore.settings import Settings
from serving.audit import AuditLog
from serving.reasons import ReasonGroups, group_of, top_reasons
from serving.routing import ContactRules, load_routing
from serving.scorer import ModelRef, Scorer, closed_text
from tests.factories import make_crm
from training.registry import load_version

COLUMNS = (
    "pricing_page_view_7d",
    "pricing_page_view_30d",
    "webinar_attended_90d",
    "industry",
    "employees_log",
    "webinar_attended_30d",
)


def leads_of(*lead_ids: str, **fields: object) -> list[dict[str, object]]:
    """Leads of the data contract, created on 1 Jan 2025 with a plausible email and phone."""
    return [
        {"lead_id": lead_id, "created_at": "2025-01-01", "email": f"{lead_id}@acme.de",
         "phone": "+49 30 2345671", **fields}
        for lead_id in lead_ids
    ]  # fmt: skip


@pytest.fixture(scope="module")
def scorer(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    # version 1, the champion the CLI trained (the reload tests register others after it)
    model = load_version(Settings(models_dir=models_dir), "1")
    audit = AuditLog(f"sqlite:///{tmp_path_factory.mktemp('audit') / 'audit.db'}")
    return Scorer(model, ModelRef("leadscore", "1"), load_routing(), audit)


def test_a_batch_gives_each_lead_what_scoring_it_alone_gives(
    scorer: Scorer, crm: CRMTables
) -> None:
    moment = crm.activities["occurred_at"].max()
    features = build_features(crm, as_of=moment, config=scorer.model.feature_config)
    events = explain_events(crm, features, scorer.model.feature_config)
    batch = {r.lead_id: r for r in scorer.score_features(features, events, crm.leads, "en")}
    assert len(batch) == len(features)
    sample = features["lead_id"].sample(25, random_state=1).tolist()
    for lead_id in sample:
        person = features.loc[features["lead_id"] == lead_id, "person_id"].iloc[0]
        group = features.loc[features["person_id"] == person, "lead_id"].tolist()
        alone = scorer.score(crm.for_leads(group), lead_ids=[lead_id], as_of=moment)[0]
        expected = batch[lead_id].model_dump(exclude={"scored_at", "request_id"})
        assert alone.model_dump(exclude={"scored_at", "request_id"}) == expected


def test_every_scored_lead_has_its_audit_record(scorer: Scorer, crm: CRMTables) -> None:
    before = scorer.audit.count()
    lead_ids = crm.leads["lead_id"].head(3).tolist()
    results = scorer.score(crm.for_leads(lead_ids), lead_ids=lead_ids)
    assert scorer.audit.count() == before + 3
    history = scorer.audit.history(lead_ids[0])
    assert history["request_id"].iloc[-1] == results[0].request_id
    recorded = history["features"].iloc[-1]
    assert set(recorded) == {"as_of", *scorer.model.columns}
    assert recorded["as_of"] == results[0].as_of  # a backfill is told from a live score


def test_a_lead_whose_duplicate_objected_is_not_profiled_nor_kept_as_a_profile(
    scorer: Scorer, crm: CRMTables
) -> None:
    """The demo has people with two records, one of which objected to profiling: the other
    record's score would be computed from the objecting one's events too."""
    objecting = objecting_leads(crm.leads)
    own = set(crm.leads.loc[crm.leads["consent_profiling"].eq(False), "lead_id"])
    merged = sorted(objecting - own)
    assert merged, "the demo CRM should have a consenting record of an objecting person"
    before = scorer.audit.count()
    results = scorer.score(crm, lead_ids=merged[:3])
    assert [r.probability for r in results] == [None] * len(results)
    assert all(r.reasons == [] and not r.consent_profiling for r in results)
    assert scorer.audit.count() == before + len(results)
    recorded = scorer.audit.history(merged[0])["features"].iloc[-1]
    assert set(recorded) == {"as_of"}


def test_a_lead_without_consent_goes_to_sales_only_on_its_own_recent_request(
    scorer: Scorer,
) -> None:
    """A demo request three days ago is a request, also behind many page views since; one from
    last year was answered, and a call sales made is not the lead asking."""
    moment = pd.Timestamp("2026-06-01")
    ids = ("asked", "asked_last_year", "was_called", "asked_then_browsed")
    leads = leads_of(*ids, consent_profiling="false")
    browsing = [
        {"lead_id": "asked_then_browsed", "occurred_at": f"2026-05-{day:02d} 1{hour}:00",
         "activity_type": "page_view"}
        for day in range(20, 31) for hour in range(4)
    ]  # fmt: skip
    activities = [
        *browsing,
        {
            "lead_id": "asked_then_browsed",
            "occurred_at": "2026-05-18",
            "activity_type": "demo_request",
        },
        {"lead_id": "asked", "occurred_at": "2026-05-29", "activity_type": "demo_request"},
        {
            "lead_id": "asked_last_year",
            "occurred_at": "2025-05-29",
            "activity_type": "demo_request",
        },
        {"lead_id": "was_called", "occurred_at": "2026-05-30", "activity_type": "sales_call"},
    ]
    crm = make_crm(leads, activities, [])
    one_by_one = {r.lead_id: r.route.action for r in scorer.score(crm, as_of=moment)}
    frame = scorer.score_table(crm, moment)
    expected = {
        "asked": "sales",
        "asked_last_year": "nurture",
        "was_called": "nurture",
        "asked_then_browsed": "sales",  # the request lies behind 44 page views
    }
    assert one_by_one == expected
    assert dict(zip(frame["lead_id"], frame["action"], strict=True)) == expected


def test_a_lead_that_asks_for_a_call_back_goes_to_sales_a_newsletter_sign_up_does_not(
    scorer: Scorer,
) -> None:
    moment = pd.Timestamp("2026-06-01")
    leads = leads_of("call_back", "newsletter", country="Germany")
    activities = [
        {"lead_id": "call_back", "occurred_at": "2026-05-29", "activity_type": "Form Submit",
         "asset": "Rückruf anfordern"},
        {"lead_id": "newsletter", "occurred_at": "2026-05-29", "activity_type": "form_submit",
         "asset": "Newsletter-Anmeldung"},
    ]  # fmt: skip
    crm = make_crm(leads, activities, [])
    alone = {r.lead_id: r.route for r in scorer.score(crm, as_of=moment)}
    frame = scorer.score_table(crm, moment).set_index("lead_id")
    grade = frame.at["call_back", "grade"]
    assert grade != "A"  # not sent by its grade: the model knows little of either lead
    assert (alone["call_back"].action, alone["call_back"].why) == (
        "sales",
        f"asked for contact: a form (grade {grade})",
    )
    assert alone["newsletter"].action == "nurture"
    for lead_id, route in alone.items():
        assert (frame.at[lead_id, "action"], frame.at[lead_id, "why"]) == (route.action, route.why)


def test_a_request_of_the_crms_own_type_is_seen_behind_many_later_actions(
    scorer: Scorer,
) -> None:
    """A CRM's own activity type can be a request for contact; like a demo request it is
    looked for beyond the thirty actions a card cites."""
    asking = ContactRules.model_validate({"sales_if_any": ["Trial Signup"]})
    routing = scorer.routing.model_copy(update={"hand_raisers": asking})
    own = Scorer(scorer.model, scorer.ref, routing, None)
    moment = pd.Timestamp("2026-06-01")
    leads = leads_of("trial_then_browsed", "browsed", country="Germany")
    browsing = [
        {"lead_id": lead_id, "occurred_at": f"2026-05-{day:02d} 1{hour}:00",
         "activity_type": "page_view"}
        for lead_id in ("trial_then_browsed", "browsed")
        for day in range(20, 31) for hour in range(4)
    ]  # fmt: skip
    trial = {"lead_id": "trial_then_browsed", "occurred_at": "2026-05-18"}
    crm = make_crm(leads, [*browsing, {**trial, "activity_type": "Trial Signup"}], [])
    alone = {r.lead_id: r.route for r in own.score(crm, as_of=moment)}
    frame = own.score_table(crm, moment).set_index("lead_id")
    assert alone["trial_then_browsed"].action == "sales"
    assert "asked for contact" in alone["trial_then_browsed"].why
    assert alone["browsed"].action != "sales" or "asked" not in alone["browsed"].why
    for lead_id, route in alone.items():
        assert (frame.at[lead_id, "action"], frame.at[lead_id, "why"]) == (route.action, route.why)


def test_capacity_planning_counts_the_leads_routing_sends_whatever_the_score(
    scorer: Scorer,
) -> None:
    """``leadscore thresholds`` cuts only the leads a cut-off decides: a hand-raiser goes to
    sales at any score, a flagged lead to review, a lead without consent by its requests."""
    moment = pd.Timestamp("2026-06-01")
    people = {
        "asked": ("asked@acme.de", True, "demo_request"),
        "quiet": ("quiet@acme.de", True, "page_view"),
        "flagged_asked": ("x@mailinator.com", True, "demo_request"),
        "objected_asked": ("objected@acme.de", False, "demo_request"),
        "objected_quiet": ("quiet2@acme.de", False, "page_view"),
    }
    leads = [
        {"lead_id": lead_id, "created_at": "2025-01-01", "email": email,
         "phone": "+49 30 2345671", "country": "Germany", "consent_profiling": consent}
        for lead_id, (email, consent, _) in people.items()
    ]  # fmt: skip
    activities = [
        {"lead_id": lead_id, "occurred_at": "2026-05-29", "activity_type": kind}
        for lead_id, (_, _, kind) in people.items()
    ]
    crm = make_crm(leads, activities, [])
    basis = scorer.hand_over_basis(crm, pd.DataFrame({"lead_id": list(people), "as_of": moment}))
    always = dict(zip(people, basis.always.tolist(), strict=True))
    never = dict(zip(people, basis.never.tolist(), strict=True))
    assert [k for k, v in always.items() if v] == ["asked", "objected_asked"]
    assert [k for k, v in never.items() if v] == ["flagged_asked", "objected_quiet"]

    frame = scorer.score_table(crm, moment).set_index("lead_id").loc[list(people)]
    assert (frame["action"] == "sales").tolist() == basis.always.tolist()  # grades C/D here
    assert frame.at["flagged_asked", "action"] == "review"
    scored = frame["probability"].to_numpy(dtype=float)
    assert np.array_equal(np.round(basis.probability, 6), scored, equal_nan=True)


def test_a_closed_lead_is_said_to_be_closed_in_both_languages() -> None:
    leads = [{"lead_id": x, "created_at": "2025-01-01"} for x in ("won", "lost", "open")]
    outcomes = [
        {"lead_id": "won", "closed_at": "2025-03-01", "won": False},
        {"lead_id": "won", "closed_at": "2025-06-15", "won": True},
        {"lead_id": "lost", "closed_at": "2025-04-02", "won": False},
    ]
    crm = make_crm(leads, [], outcomes)
    after = pd.Timestamp("2026-01-01")
    assert (
        closed_text(crm, "won", after)
        == "bought on 15 Jun 2025: a customer, not a lead to hand over"
    )
    assert closed_text(crm, "lost", after, "de") == (
        "hat am 02.04.2025 das letzte Geschäft verloren: kein offener Lead"
    )
    assert closed_text(crm, "open", after) is None
    assert closed_text(crm, "won", pd.Timestamp("2025-05-01")) is None  # lost, then bought


def reference_reasons(row: np.ndarray, columns: tuple[str, ...]) -> list[tuple[str, float]]:
    """The choice of reasons read lead by lead: sum each group, strongest speaker, top 4 / 3."""
    groups: dict[str, list[int]] = {}
    for i, column in enumerate(columns):
        groups.setdefault(group_of(column), []).append(i)
    summed = [
        (sum(float(row[i]) for i in m), max(m, key=lambda i: abs(row[i]))) for m in groups.values()
    ]
    ups = sorted((s for s in summed if s[0] > 1e-9), key=lambda s: -s[0])[:4]
    downs = sorted((s for s in summed if s[0] < -1e-9), key=lambda s: s[0])[:3]
    return [(columns[i], total) for total, i in sorted(ups + downs, key=lambda s: -abs(s[0]))]


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.just(len(COLUMNS))),
        elements=st.sampled_from(
            [0.0, 0.25, -0.25, 0.5, -1.0, 1e-12, 2.0, -3.0, 0.1, -0.1, 1 / 3, -1 / 3, 0.2]
        ),
    )
)
def test_reasons_for_all_rows_at_once_match_a_lead_by_lead_reading(matrix: np.ndarray) -> None:
    picked, totals = top_reasons(matrix, ReasonGroups.of(COLUMNS))
    for row, columns, sums in zip(matrix, picked, totals, strict=True):
        chosen = [(COLUMNS[c], t) for c, t in zip(columns, sums, strict=True) if c >= 0]
        expected = reference_reasons(row, COLUMNS)
        assert [c for c, _ in chosen] == [c for c, _ in expected]
        alone = top_reasons(row[None, :], ReasonGroups.of(COLUMNS))
        np.testing.assert_array_equal(alone[0][0], columns)  # a row alone: the same reasons
        np.testing.assert_allclose([t for _, t in chosen], [t for _, t in expected], atol=1e-12)


def test_grouped_reasons_add_up_to_the_row(scorer: Scorer, crm: CRMTables) -> None:
    """Grouping only sums contributions: the groups together still equal the margin."""
    some = crm.for_leads(crm.leads["lead_id"].head(50).tolist())
    features = build_features(some, as_of=crm.activities["occurred_at"].max())
    matrix = scorer.model.encode(features)
    contributions = scorer.model.contributions(matrix)
    groups = ReasonGroups.of(tuple(scorer.model.columns))
    summed = contributions[:, :-1] @ groups.matrix
    np.testing.assert_allclose(
        summed.sum(axis=1) + contributions[:, -1], scorer.model.predict_raw(matrix), atol=1e-9
    )
    assert (
        pd.Series([group_of(c) for c in scorer.model.columns]).nunique() == groups.matrix.shape[1]
    )


def test_the_lead_store_follows_its_folder_and_survives_a_broken_file(
    scorer: Scorer, crm_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from serving.runtime import LeadStore, Runtime

    folder = tmp_path / "crm"
    shutil.copytree(crm_dir, folder)
    runtime = Runtime(Settings(models_dir=tmp_path / "models", data=str(folder)))
    runtime.scorer = scorer
    runtime.store = LeadStore.load(str(folder), scorer.model.feature_config)
    assert not runtime.refresh_store()  # nothing changed
    newest = pd.read_parquet(folder / "activities.parquet")["occurred_at"].max()
    assert runtime.store.newest == newest  # how fresh the store is, for the answers' warnings
    assert runtime.store.quiet_days(newest + pd.Timedelta(days=13)) is None
    assert runtime.store.quiet_days(newest.normalize() + pd.Timedelta(days=20)) == 20

    leads = pd.read_parquet(folder / "leads.parquet")
    new = leads.head(1).assign(lead_id="L-NEW-1", email="new.lead@example.org")
    pd.concat([leads, new]).to_parquet(folder / "leads.parquet", index=False)
    assert "L-NEW-1" not in runtime.store.known_ids
    assert runtime.refresh_store()
    assert "L-NEW-1" in runtime.store.known_ids

    (folder / "leads.parquet").write_text("not parquet")
    assert not runtime.refresh_store()
    assert "L-NEW-1" in runtime.store.known_ids  # the last good store keeps serving
    assert runtime.store_error is not None


def test_non_finite_feature_values_are_audited_as_null(scorer: Scorer, crm: CRMTables) -> None:
    lead_ids = crm.leads["lead_id"].head(2).tolist()
    moment = crm.activities["occurred_at"].max()
    features = build_features(crm.for_leads(lead_ids), as_of=moment)
    numeric = next(c for c in scorer.model.columns if features[c].dtype == float)
    features[numeric] = [np.inf, np.nan]
    events = explain_events(crm, features, scorer.model.feature_config)
    results = scorer.score_features(features, events, crm.leads, "en")
    records = scorer.audit_records(results, features)
    assert scorer.audit.write(records) == 2
    assert records[0]["features"][numeric] is None


def test_the_route_says_why_in_the_leads_language() -> None:
    from serving.routing import load_routing, route_lead

    routing = load_routing()
    english = route_lead({"country_code": "DE"}, "D", [], routing)
    german = route_lead({"country_code": "DE"}, "D", [], routing, lang="de")
    assert (english.action, english.track) == (german.action, german.track)
    assert english.why == "grade D: nurture by interest"
    assert german.why == "Note D: Nurturing nach Interesse"


def test_an_exports_columns_are_each_a_reason_whatever_they_are_called() -> None:
    """A HubSpot export may hold 'job_title' and 'job_function', or 'employees' beside
    'company_size': columns of a tabular model are never merged by registry names."""
    columns = ("job_function", "seniority", "employees", "size_band", "n_blog_read_7d", "Region")
    assert ReasonGroups.of(columns).matrix.shape[1] == 4  # registry features grouped, Region
    assert ReasonGroups.of(columns, registry=False).matrix.shape[1] == len(columns)
    assert group_of("company_size") == "company_size"  # a column, not the registry's group


def test_the_card_names_the_other_record_of_the_person_whose_actions_it_cites(
    scorer: Scorer, crm: CRMTables
) -> None:
    """Sales open this record in the CRM and look for the actions the card cites."""
    from rich.console import Console

    from features.pipeline import person_of
    from leadscore.serve_commands import lead_card

    leads = crm.leads.drop_duplicates("lead_id").set_index("lead_id", drop=False)
    person = person_of(leads, scorer.model.feature_config)
    active = set(crm.activities["lead_id"])
    pairs = person[person.duplicated(keep=False)].groupby(person).groups.values()
    group = next(list(ids) for ids in pairs if len(ids) == 2 and set(ids) <= active)
    moment = crm.activities["occurred_at"].max()
    result = scorer.score(crm.for_leads(group), lead_ids=[group[0]], as_of=moment)[0]
    console = Console(width=120, record=True)
    console.print(lead_card(result, crm, group, "en"))
    shown = console.export_text()
    assert f"Same person  {group[1]}: their actions count too" in shown
    assert f"({group[1]})" in shown.split("Last actions")[1]  # the other record's own action


def test_a_second_record_of_a_person_says_whose_it_is_in_its_note(scorer: Scorer) -> None:
    """Two records of one person pool their actions and can both go to sales: the second
    one's note names the first, so that one person is not called twice."""
    moment = pd.Timestamp("2026-06-01")
    leads = [
        {"lead_id": lead_id, "created_at": created, "email": "anna.schmidt@acme.de",
         "first_name": "Anna", "last_name": "Schmidt", "phone": "+49 30 2345671",
         "country": "Germany"}
        for lead_id, created in (("first", "2025-01-01"), ("second", "2026-03-01"))
    ]  # fmt: skip
    activities = [
        {"lead_id": "second", "occurred_at": "2026-05-29", "activity_type": "demo_request"}
    ]
    crm = make_crm(leads, activities, [])
    alone = {r.lead_id: r.handover_note for r in scorer.score(crm, as_of=moment)}
    frame = scorer.score_table(crm, moment).set_index("lead_id")
    assert alone["second"].endswith("The same person as record first.")
    assert "same person" not in alone["first"]
    assert frame.at["second", "handover_note"] == alone["second"]
    german = scorer.score(crm, ["second"], moment, "de")[0].handover_note
    assert german.endswith("Dieselbe Person wie Datensatz first.")
