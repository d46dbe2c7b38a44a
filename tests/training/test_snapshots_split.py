"""Labels come from after the snapshot, splits from the calendar: small CRMs written by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.pipeline import FeatureConfig, build_features, objecting_leads
from tests.factories import make_crm
from training.snapshots import SnapshotConfig, label_snapshots, open_snapshots
from training.split import SplitConfig, time_split

CONFIG = SnapshotConfig(every_days=30, horizon_days=90)


def _crm():
    """A bought on day 100, B lost on day 50, C still open, D objected, E created late."""
    leads = [
        {"lead_id": "A", "created_at": "2025-01-01"},
        {"lead_id": "B", "created_at": "2025-01-01"},
        {"lead_id": "C", "created_at": "2025-01-01"},
        {"lead_id": "D", "created_at": "2025-01-01", "consent_profiling": "false"},
        {"lead_id": "E", "created_at": "2025-12-01"},
    ]
    outcomes = [
        {"lead_id": "A", "closed_at": "2025-04-11", "won": True},  # day 100
        {"lead_id": "B", "closed_at": "2025-02-20", "won": False},  # day 50
        {"lead_id": "D", "closed_at": "2025-03-01", "won": True},
    ]
    activities = [{"lead_id": "C", "occurred_at": "2026-01-01", "activity_type": "page_view"}]
    return make_crm(leads, activities, outcomes)


def _rows(labelled, lead_id: str) -> pd.DataFrame:
    frame = labelled.snapshots
    return frame[frame["lead_id"] == lead_id].reset_index(drop=True)


def test_label_is_a_win_within_the_horizon_after_the_snapshot() -> None:
    labelled = label_snapshots(_crm(), CONFIG)
    a = _rows(labelled, "A")
    # day 0, 30, 60, 90 are before the close on day 100; the win is 100, 70, 40, 10 days ahead
    assert a["as_of"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-01-01",
        "2025-01-31",
        "2025-03-02",
        "2025-04-01",
    ]
    assert a["label"].tolist() == [0, 1, 1, 1]


def test_snapshots_at_or_after_the_close_are_dropped() -> None:
    labelled = label_snapshots(_crm(), CONFIG)
    b = _rows(labelled, "B")
    assert b["as_of"].max() < pd.Timestamp("2025-02-20")
    assert b["label"].sum() == 0
    assert labelled.counts["snapshots_after_close"] > 0


def test_snapshots_whose_horizon_is_still_open_are_excluded_and_counted() -> None:
    labelled = label_snapshots(_crm(), CONFIG)
    end = labelled.data_end
    assert end == pd.Timestamp("2026-01-01")
    assert (labelled.snapshots["as_of"] + pd.Timedelta(days=90) <= end).all()
    assert _rows(labelled, "E").empty  # created a month before the data ends
    c = _rows(labelled, "C")
    open_c = int((end - pd.Timestamp("2025-01-01")).days // 30) + 1 - len(c)
    assert open_c == 3  # days 300, 330, 360 cannot be labelled yet
    assert labelled.counts["snapshots_horizon_open"] >= open_c + 2  # plus E's two


def test_leads_that_objected_to_profiling_are_left_out_and_counted() -> None:
    labelled = label_snapshots(_crm(), CONFIG)
    assert "D" not in set(labelled.snapshots["lead_id"])
    assert labelled.counts["leads_without_consent"] == 1


def test_an_objection_on_one_record_covers_the_person_it_is_merged_into() -> None:
    """Laura's second record objects; her first one would pool its events, so neither is used."""
    leads = [
        {"lead_id": "L1", "created_at": "2025-01-01", "email": "laura.jaeger@acme.de"},
        {"lead_id": "L2", "created_at": "2025-02-01", "email": "laura.jaeger@acme.de",
         "consent_profiling": "false"},
        {"lead_id": "X", "created_at": "2025-01-01", "email": "x@other.de"},
    ]  # fmt: skip
    activities = [
        {"lead_id": "L2", "occurred_at": "2025-03-01", "activity_type": "page_view"},
        {"lead_id": "X", "occurred_at": "2026-01-01", "activity_type": "page_view"},
    ]
    crm = make_crm(leads, activities, [])
    assert objecting_leads(crm.leads) == {"L1", "L2"}
    assert objecting_leads(crm.leads, FeatureConfig(merge_duplicates=False)) == {"L2"}
    labelled = label_snapshots(crm, CONFIG)
    assert set(labelled.snapshots["lead_id"]) == {"X"}
    assert labelled.counts["leads_without_consent"] == 2
    assert set(open_snapshots(crm, CONFIG, weeks=13)["lead_id"]) == {"X"}
    features = build_features(crm, as_of="2025-06-01")
    assert dict(zip(features["lead_id"], features["consent_profiling"], strict=True)) == {
        "L1": False,
        "L2": False,
        "X": True,
    }


def test_a_loss_then_a_win_labels_the_snapshots_before_the_win() -> None:
    leads = [{"lead_id": "A", "created_at": "2025-01-01"}]
    outcomes = [
        {"lead_id": "A", "closed_at": "2025-01-20", "won": False},
        {"lead_id": "A", "closed_at": "2025-03-15", "won": True},
    ]
    activities = [{"lead_id": "A", "occurred_at": "2026-01-01", "activity_type": "page_view"}]
    labelled = label_snapshots(make_crm(leads, activities, outcomes), CONFIG)
    assert labelled.snapshots["label"].tolist() == [1, 1, 1]


def test_open_snapshots_are_the_recent_open_consenting_leads() -> None:
    recent = open_snapshots(_crm(), CONFIG, weeks=13)
    assert set(recent["lead_id"]) == {"C", "E"}
    assert (recent["as_of"] > pd.Timestamp("2026-01-01") - pd.Timedelta(weeks=13)).all()


def _many_snapshots(n_leads: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Leads created over two years, a snapshot every 30 days until a random end."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 600, n_leads), unit="D")
    life = rng.integers(1, 12, n_leads)
    rows = [
        (f"L{i}", c + pd.Timedelta(days=30 * k), c)
        for i, (c, n) in enumerate(zip(created, life, strict=True))
        for k in range(n)
    ]
    frame = pd.DataFrame(rows, columns=["lead_id", "as_of", "created_at"])
    frame = frame[frame["as_of"] + pd.Timedelta(days=90) <= pd.Timestamp("2025-12-31")]
    return frame.assign(label=rng.integers(0, 2, len(frame))).reset_index(drop=True)


def test_time_split_keeps_every_lead_on_one_side_and_test_newest() -> None:
    split = time_split(_many_snapshots(), horizon_days=90)
    sides = split.frame.groupby("lead_id")["slice"].nunique()
    assert (sides == 1).all()
    created = split.frame.groupby("slice")["created_at"]
    assert created.max()["fit"] < created.min()["valid"]
    assert created.max()["valid"] < created.min()["cal"]
    assert created.max()["cal"] < created.min()["test"]
    sizes = split.sizes()
    assert sizes["test"] >= 0.2 * sum(sizes.values()) - 1
    assert sizes["cal"] >= 0.15 * sum(sizes.values()) - 1


@pytest.mark.parametrize("purge", ["test", "each"])
def test_no_training_or_calibration_label_comes_from_a_later_period(purge: str) -> None:
    split = time_split(_many_snapshots(), horizon_days=90, config=SplitConfig(purge=purge))
    label_end = split.frame["as_of"] + pd.Timedelta(days=90)
    not_test = split.frame["slice"] != "test"
    assert (label_end[not_test] <= split.boundaries["test_from"]).all()
    if purge == "each":
        train = split.frame["slice"].isin(["fit", "valid"])
        assert (label_end[train] <= split.boundaries["cal_from"]).all()
    assert sum(split.purged.values()) > 0


def test_a_window_too_short_for_the_horizon_is_refused_with_advice() -> None:
    frame = _many_snapshots()
    frame = frame[frame["created_at"] < frame["created_at"].min() + pd.Timedelta(days=20)]
    with pytest.raises(ValueError, match="too short for a time split with a 90-day horizon"):
        time_split(frame, horizon_days=90)
