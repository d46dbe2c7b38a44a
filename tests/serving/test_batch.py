"""Batch scoring writes every text column by column (Scorer.score_frame); it must say, word for
word, what the lead-by-lead path (Scorer.score_features, which the HTTP service uses) says."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.batch_texts import BatchEvents, feature_reasons
from features.contract import CRMTables
from features.pipeline import feature_columns_and_events
from features.registry import FEATURES
from features.texts import number_field, number_text, render_reason, template_fields
from leadscore.settings import Settings
from serving.audit import AuditLog
from serving.routing import load_routing
from serving.scorer import ModelRef, Scorer, results_from_frame
from tests.serving.conftest import leadscore
from training.registry import load_version
from training.snapshots import closed_by


@pytest.fixture(scope="module")
def scorer(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    model = load_version(Settings(models_dir=models_dir), "1")
    audit = AuditLog(f"sqlite:///{tmp_path_factory.mktemp('audit') / 'audit.db'}")
    return Scorer(model, ModelRef("leadscore", "1"), load_routing(), audit)


def _snapshots(crm: CRMTables, moment: pd.Timestamp) -> pd.DataFrame:
    created = crm.leads["created_at"] <= moment
    return pd.DataFrame({"lead_id": crm.leads.loc[created, "lead_id"], "as_of": moment})


def _same(
    scorer: Scorer,
    features: dict,
    events: dict,
    leads: pd.DataFrame,
    lang: str,
    chunk: int = 10_000,
) -> None:
    one_by_one = scorer.score_features(features, events, leads, lang, request_id="r")  # type: ignore[arg-type]
    frame = scorer.score_frame(features, events, leads, lang, request_id="r", chunk=chunk)  # type: ignore[arg-type]
    batch = results_from_frame(frame)
    assert [r.lead_id for r in batch] == [r.lead_id for r in one_by_one]
    for alone, together in zip(one_by_one, batch, strict=True):
        assert together.model_dump(exclude={"scored_at"}) == alone.model_dump(exclude={"scored_at"})


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_batch_frame_says_what_scoring_lead_by_lead_says(
    scorer: Scorer, crm: CRMTables, lang: str
) -> None:
    moment = crm.activities["occurred_at"].max()
    features, events = feature_columns_and_events(
        crm, _snapshots(crm, moment), scorer.model.feature_config
    )
    # in chunks: the model scores the next chunk while the texts of the last one are written
    _same(scorer, features, events, crm.leads, lang, chunk=1500)

    frame = scorer.score_frame(features, events, crm.leads, lang)  # type: ignore[arg-type]
    # the comparison above covered every kind of lead and text
    assert (~frame["consent_profiling"]).any() and frame["consent_profiling"].any()
    assert set(frame["action"]) == {"sales", "nurture", "review"}
    assert frame["quality_flags"].map(len).gt(0).any()
    texts = frame.filter(like="_text").stack()
    assert texts.str.contains("'" if lang == "en" else "„").any()  # asset names are cited
    assert frame["handover_note"].str.len().gt(0).all()


def test_leads_without_events_and_events_without_the_pipelines_codes(
    scorer: Scorer, crm: CRMTables
) -> None:
    """Leads scored at the moment they were created (no events before it yet), few leads (the
    small-batch paths) and events as the older frame without codes: still the same texts."""
    leads = crm.leads.sample(60, random_state=3)
    moment = crm.activities["occurred_at"].max()
    as_of = leads["created_at"].where(pd.Series(range(60), index=leads.index) < 30, moment)
    snapshots = pd.DataFrame({"lead_id": leads["lead_id"], "as_of": as_of})
    features, events = feature_columns_and_events(crm, snapshots, scorer.model.feature_config)
    counts = pd.Series(events["snap"]).value_counts()
    assert len(counts) < len(snapshots)  # some leads have no events
    plain = {k: v for k, v in events.items() if not k.endswith("_code")}
    for lang in ("en", "de"):
        _same(scorer, features, plain, crm.leads, lang)
        _same(scorer, features, events, crm.leads, lang)


def cli_env(models_dir: Path, audit: Path) -> dict[str, str]:
    """The environment a user's shell gives the command: this registry, its own audit log."""
    env = {
        **os.environ,
        "LEADSCORE_MODELS_DIR": str(models_dir),
        "LEADSCORE_AUDIT_DATABASE": f"sqlite:///{audit}",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def test_score_command_writes_every_lead_and_audits_every_score(
    models_dir: Path, crm_dir: Path, crm: CRMTables, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    env = cli_env(models_dir, audit)
    out = tmp_path / "scores.csv"
    moment = str(crm.activities["occurred_at"].max())
    done = leadscore("score", str(crm_dir), "--out", str(out), "--as-of", moment, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    scores = pd.read_csv(out)
    existing = crm.leads["created_at"] <= pd.Timestamp(moment)
    closed = crm.leads["lead_id"].isin(closed_by(crm, pd.Timestamp(moment)))
    assert 0 < closed.sum() < existing.sum()
    assert set(scores["lead_id"]) == set(crm.leads.loc[existing & ~closed, "lead_id"])
    said = " ".join(done.stdout.split())
    assert f"{closed.sum():,} lead(s) that had bought or lost their last deal" in said
    assert AuditLog(f"sqlite:///{audit}").count() == len(scores)
    first = scores.dropna(subset=["reason_1_text"]).iloc[0]
    assert first["reasons"].startswith(first["reason_1_text"])
    assert {"action", "team", "track", "why", "handover_note", "quality_flags"} <= set(scores)


def test_score_says_how_many_leads_did_not_exist_yet_and_explain_refuses_one(
    models_dir: Path, crm_dir: Path, crm: CRMTables, tmp_path: Path
) -> None:
    env = cli_env(models_dir, tmp_path / "audit.db")
    moment = crm.leads["created_at"].quantile(0.9).floor("D")
    later = crm.leads.loc[crm.leads["created_at"] > moment]
    out = tmp_path / "scores.csv"
    done = leadscore(
        "score", str(crm_dir), "--out", str(out), "--as-of", moment.isoformat(), env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(later):,} lead(s) created after" in " ".join(done.stdout.split())
    scores = pd.read_csv(out, dtype=str)
    closed = closed_by(crm, moment)
    assert len(scores) == len(crm.leads) - len(later) - len(closed - set(later["lead_id"]))
    assert not scores["score"].dropna().str.contains(".", regex=False).any()  # 64, not 64.0

    young = str(later["lead_id"].iloc[0])
    refused = leadscore("explain", young, str(crm_dir), "--as-of", moment.isoformat(), env=env)
    assert refused.returncode == 1
    assert "after --as-of" in " ".join(refused.stderr.split())
    assert "newest activity" not in refused.stderr  # the moment was given
    typed = leadscore("explain", young.lower(), str(crm_dir), env=env)
    assert typed.returncode == 1
    assert f"(did you mean {young!r}?)" in " ".join(typed.stderr.split())


def test_an_old_export_scored_now_is_said_to_be_quiet_with_the_as_of_that_fits(
    models_dir: Path, crm_dir: Path, crm: CRMTables, tmp_path: Path
) -> None:
    """The demo CRM ends in 2026; scored today every lead has been idle for weeks."""
    env = cli_env(models_dir, tmp_path / "audit.db")
    newest = crm.activities["occurred_at"].max()
    fits = (newest + pd.Timedelta(1, "D")).normalize()
    lead = str(crm.leads["lead_id"].iloc[0])
    done = leadscore("explain", lead, str(crm_dir), env=env)
    said = " ".join(done.stderr.split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"The newest activity in this CRM is from {newest:%d %b %Y}" in said
    assert f"pass --as-of {fits:%Y-%m-%d}" in said

    # the German card writes its moment as a German reader writes dates
    german = leadscore(
        *("explain", lead, str(crm_dir), "--as-of", f"{fits:%Y-%m-%d}", "--lang", "de"), env=env
    )
    assert german.returncode == 0, german.stdout + german.stderr
    assert f"Stand {fits:%d.%m.%Y} 00:00" in german.stdout


def test_leads_that_bought_or_lost_are_not_routed_again_unless_asked(
    scorer: Scorer, crm: CRMTables
) -> None:
    moment = crm.activities["occurred_at"].max()
    open_only = scorer.score_table(crm, moment)
    everyone = scorer.score_table(crm, moment, include_closed=True)
    left_out = set(everyone["lead_id"]) - set(open_only["lead_id"])
    assert left_out and left_out == closed_by(crm, moment) & set(everyone["lead_id"])
    won = crm.outcomes.loc[crm.outcomes["won"].astype(bool) & (crm.outcomes["closed_at"] <= moment)]
    assert not set(won["lead_id"]) & set(open_only["lead_id"])  # a customer is not a lead


def test_a_moment_before_any_lead_scores_nobody_without_failing(
    scorer: Scorer, crm: CRMTables
) -> None:
    before = crm.leads["created_at"].min() - pd.Timedelta(days=1)
    frame = scorer.score_table(crm, as_of=before)
    assert len(frame) == 0
    assert {"lead_id", "probability", "handover_note", "reason_1_text"} <= set(frame.columns)


def test_odd_numbers_and_no_events_at_all_read_as_one_lead_reads_them() -> None:
    nothing = {"snap": np.empty(0, np.int64), "activity_type": np.empty(0, object)}
    events = BatchEvents(nothing, 3)
    values = np.array([np.inf, 1e20, -0.0])
    for feature in ("n_page_view_7d", "n_activities_30d"):
        for up in (True, False):
            batch = feature_reasons(
                feature, np.arange(3), np.full(3, up), {feature: values}, events, "en"
            )
            direction = "up" if up else "down"
            assert list(batch) == [
                render_reason(feature, v, direction, {}, [], "en") for v in values
            ]


# Around the numbers that read "1": days are written rounded half to even ("0" for 0.5, "2" for
# 1.5 and 2.5), counts as they are ("0.7", "1.0" for 0.96)
ROUNDING = [0.4999999, 0.5, 0.5000001, 0.7, 0.96, 1.0, 1.4, 1.4999999, 1.5, 2.0, 2.5, 3.5, -0.7]
COUNTING = sorted(
    name
    for name, feature in FEATURES.items()
    if any(
        number_field(template_fields(feature.template(lang, d)))
        for lang in ("en", "de")
        for d in ("up", "down")
    )
)


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize(
    "values",
    [
        np.array([*ROUNDING, np.nan]),
        np.array(ROUNDING, dtype=np.float32),
        np.array([0, 1, 2, 3, 1]),
        np.array([1, 0.7, np.int64(1), None, True, 1.5, "1", "unknown"], dtype=object),
        np.array(["1", "1-9", None, "unknown", "10-49"], dtype=object),
    ],
    ids=["float", "float32", "int", "mixed", "words"],
)
def test_the_singular_follows_the_number_as_written_in_both_paths(
    values: np.ndarray, lang: str
) -> None:
    """0.7 and 1.4 days read "1 day", 1.5 days "2 days": the batch writes each number and picks
    singular or plural as one lead's text does."""
    n = len(values)
    events = BatchEvents({"snap": np.empty(0, np.int64), "activity_type": np.empty(0, object)}, n)
    rows = np.arange(n)
    for feature in [*COUNTING, "size_band"]:
        lead = {feature: values}
        for up in (True, False):
            batch = feature_reasons(feature, rows, np.full(n, up), lead, events, lang)  # type: ignore[arg-type]
            direction = "up" if up else "down"
            alone = [render_reason(feature, v, direction, {}, [], lang) for v in values]  # type: ignore[arg-type]
            assert list(batch) == alone, feature


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_value_unread_or_doubted_by_its_flag_is_not_judged_in_either_path(lang: str) -> None:
    """ "Seniority fits: test (no level recognised)": the model's sign, on a title the parser did
    not understand, read like an endorsement."""
    values = np.array(["other", "head", None, "other"], dtype=object)
    titles = np.array(["test", "Head of Marketing", None, "CRM-Verantwortlicher"], dtype=object)
    n = len(values)
    events = BatchEvents({"snap": np.empty(0, np.int64), "activity_type": np.empty(0, object)}, n)
    lead = {"seniority": values, "job_title": titles}
    for up in (True, False):
        batch = feature_reasons("seniority", np.arange(n), np.full(n, up), lead, events, lang)  # type: ignore[arg-type]
        alone = [
            render_reason("seniority", v, "up" if up else "down", {"job_title": t}, [], lang)  # type: ignore[arg-type]
            for v, t in zip(values, titles, strict=True)
        ]
        assert list(batch) == alone
        neutral = FEATURES["seniority"].template(lang, "neutral")
        assert alone[0] == neutral.format(title="test")
        assert alone[3] == neutral.format(title="CRM-Verantwortlicher")
        assert ("fits" in alone[1]) or ("passt" in alone[1])  # a level read is still judged

    # a value its quality flag doubts: "Country fits: Afghanistan" beside "the drop-down's
    # first entry, contradicted by the phone number"
    flag = "flag_country_first_in_list"
    lead = {"country_code": np.array(["AF", "AF", "DE"], dtype=object)}
    lead[flag] = np.array([True, False, False])
    events = BatchEvents({"snap": np.empty(0, np.int64), "activity_type": np.empty(0, object)}, 3)
    batch = feature_reasons("country_code", np.arange(3), np.full(3, True), lead, events, lang)  # type: ignore[arg-type]
    alone = [
        render_reason("country_code", v, "up", {flag: f}, [], lang)  # type: ignore[arg-type]
        for v, f in zip(lead["country_code"], lead[flag], strict=True)
    ]
    assert list(batch) == alone
    assert alone[0] == FEATURES["country_code"].template(lang, "neutral").format(
        value="Afghanistan"
    )
    assert alone[1] != alone[0] and alone[1].endswith("Afghanistan")


def test_days_are_counted_on_the_calendar_of_the_date_they_cite_in_both_paths() -> None:
    """Actions on 28 Nov at 23:00 and at 06:00, scored on 6 Dec at 20:00, were 7.9 and 8.6 days
    before: both read "8 days ago", as the date beside them says, not "8" and "9"."""
    moment = np.datetime64("2026-12-06T20:00")
    at_23, at_06 = (
        (moment - np.datetime64("2026-11-28T23:00")),
        (moment - np.datetime64("2026-11-28T06:00")),
    )
    days = np.array([at_23, at_06]) / np.timedelta64(1, "D")
    more = np.array([0.1, 0.9, 0.8333, 20.84, 20.83, np.nan])
    values = np.concatenate([days, more])
    n = len(values)
    lead = {"as_of": np.full(n, moment, "datetime64[ns]")}
    events = BatchEvents({"snap": np.empty(0, np.int64), "activity_type": np.empty(0, object)}, n)
    for feature in ("days_since_last_activity", "lead_age_days"):
        batch = feature_reasons(
            feature, np.arange(n), np.full(n, False), lead | {feature: values}, events, "en"
        )
        alone = [
            render_reason(feature, v, "down", {"as_of": pd.Timestamp(moment)}, [], "en")
            for v in values
        ]
        assert list(batch) == alone
    texts = [
        render_reason("days_since_last_activity", v, "down", {"as_of": pd.Timestamp(moment)}, [])
        for v in values[:-1]
    ]
    assert texts == [
        "No activity for 8 days",  # 28 Nov, 23:00
        "No activity for 8 days",  # 28 Nov, 06:00
        "No activity for less than a day",  # 6 Dec, 17:36
        "No activity for 1 day",  # 5 Dec, 22:24
        "No activity for less than a day",  # 6 Dec, 00:00:03
        "No activity for 21 days",  # 15 Nov, 23:50
        "No activity for 20 days",  # 16 Nov, 00:04
    ]


def test_the_batch_writes_days_that_read_one_as_one_lead_does(
    scorer: Scorer, crm: CRMTables
) -> None:
    """Real leads whose days and counts are set around one, through Scorer.score_frame."""
    leads = crm.leads.sample(300, random_state=7)
    moment = crm.activities["occurred_at"].max()
    snapshots = pd.DataFrame({"lead_id": leads["lead_id"], "as_of": moment})
    features, events = feature_columns_and_events(crm, snapshots, scorer.model.feature_config)
    cycle = np.resize(np.array([0.5, 0.7, 1.0, 1.4, 1.5, 2.5]), len(snapshots))
    for name in ("days_since_last_activity", "days_since_high_intent", "lead_age_days"):
        features[name] = cycle.copy()
    for lang, one in (("en", " 1 day"), ("de", " 1 Tag")):
        _same(scorer, features, events, crm.leads, lang)
        frame = scorer.score_frame(features, events, crm.leads, lang)  # type: ignore[arg-type]
        texts = frame.filter(like="_text").stack()
        assert texts.str.contains(one + r"\b").any()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_order_a_crm_stores_its_events_in_changes_no_text(
    scorer: Scorer, crm: CRMTables, seed: int
) -> None:
    """A database returns events of the same moment in its own order, a file in the file's:
    the reasons and notes of the same CRM must not depend on which one it came from."""
    some = crm.for_leads(crm.leads["lead_id"].sample(800, random_state=seed))
    same_moment = some.activities.duplicated(["lead_id", "occurred_at"], keep=False)
    assert same_moment.sum() > 20  # the demo has such events: a click and the visit it led to
    shuffled = CRMTables(
        some.leads,
        some.activities.sample(frac=1, random_state=seed).reset_index(drop=True),
        some.outcomes,
    )
    moment = crm.activities["occurred_at"].max()
    stored = scorer.score_frame(
        *feature_columns_and_events(some, _snapshots(some, moment), scorer.model.feature_config),
        some.leads,
        "en",
        request_id="r",
    )
    reordered = scorer.score_frame(
        *feature_columns_and_events(
            shuffled, _snapshots(shuffled, moment), scorer.model.feature_config
        ),
        shuffled.leads,
        "en",
        request_id="r",
    )
    varying = ["scored_at"]
    pd.testing.assert_frame_equal(stored.drop(columns=varying), reordered.drop(columns=varying))


def test_every_reason_says_what_the_lead_did_whichever_way_the_model_weighed_it(
    scorer: Scorer, crm: CRMTables
) -> None:
    """The sign beside a reason is the model's; the sentence is about the lead and must be true:
    a count is said as it is ("read 8 blog articles", never "read no blog article" for 8), and
    an email we sent is never cited as the lead's own action."""
    moment = crm.activities["occurred_at"].max()
    features, events = feature_columns_and_events(
        crm, _snapshots(crm, moment), scorer.model.feature_config
    )
    frame = scorer.score_frame(features, events, crm.leads, "en")
    values = pd.DataFrame({k: np.asarray(v) for k, v in features.items() if np.ndim(v) == 1})
    values = values.drop_duplicates("lead_id").set_index("lead_id")
    checked = 0
    for k in range(1, 8):
        for lead_id, feature, text in (
            frame[["lead_id", f"reason_{k}_feature", f"reason_{k}_text"]]
            .dropna()
            .itertuples(index=False)
        ):
            spec = FEATURES[feature]
            if feature in ("days_since_last_activity", "n_activities_30d"):
                assert " sent on " not in text, text  # "email 'Newsletter' sent" is ours
            if feature == "days_since_high_intent" and "yet" not in text:
                assert re.search(r"\d{4}\)$", text), text  # dated, from the event or the value
            if not spec.by_value:
                continue
            value = float(values.at[lead_id, feature])
            if value == 0:
                assert text == spec.template("en", "down"), (feature, value, text)
            elif number_text(value) == "1":  # "once", "1 webinar"
                assert text != spec.template("en", "down"), (feature, value, text)
            else:
                assert number_field(template_fields(spec.template("en", "up"))) == "n"
                assert f" {number_text(value)} " in f" {text} ", (feature, value, text)
            checked += 1
    assert checked > 500
    assert not frame["handover_note"].str.contains("Was sent ").any()  # our emails, not its acts
    texts = frame.filter(regex=r"^reason_\d_text$")
    said_twice = texts.apply(lambda row: row.dropna().duplicated().any(), axis=1)
    assert not said_twice.any(), [
        list(zip(frame.loc[i].filter(regex=r"^reason_\d_feature$"), t, strict=False))
        for i, t in texts[said_twice].head(2).iterrows()
    ]
