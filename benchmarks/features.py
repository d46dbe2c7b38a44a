"""Feature pipeline speed: our build_features against DuckDB SQL and against itself at scale.

Prints one table. Run: ``uv run python -m benchmarks.features [--leads 100000]`` (as a module:
a script named features.py would shadow the package).

- batch: all leads at one ``as_of``: the whole pipeline, its behaviour part alone, and an
  equivalent DuckDB aggregate (counts per type and window, recency, decayed engagement) over the
  same Parquet files (the floor a SQL user would get);
- one lead with ~200 activities (the path inside every HTTP request);
- many snapshots (1, 2, 4, 8 ``as_of`` dates per lead) to show the cost grows about linearly.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.behaviour import behaviour_features, events_before
from features.contract import ACTIVITY_TYPES
from features.demo import write_demo_crm
from features.loaders import load_tables
from features.pipeline import build_features
from features.registry import WINDOWS


def timed(function: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def duckdb_aggregate(folder: Path, as_of: pd.Timestamp, half_life: float) -> pd.DataFrame:
    counts = ",\n".join(
        f"count(*) FILTER (WHERE activity_type = '{t}' AND age < {w}) AS n_{t}_{w}d"
        for t in ACTIVITY_TYPES
        for w in WINDOWS
    )
    query = f"""
        WITH events AS (
            SELECT lead_id, activity_type, asset,
                   epoch(TIMESTAMP '{as_of}' - occurred_at) / 86400.0 AS age
            FROM read_parquet('{folder / "activities.parquet"}')
            WHERE occurred_at < TIMESTAMP '{as_of}'
        )
        SELECT lead_id, {counts},
               min(age) AS days_since_last_activity,
               sum(power(0.5, age / {half_life})) AS engagement_decayed,
               count(DISTINCT asset) AS distinct_assets
        FROM events GROUP BY lead_id
    """
    connection = duckdb.connect()
    connection.execute("SET threads TO 2")
    return connection.execute(query).df()


def peak_memory_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(n_leads: int, seed: int) -> None:
    console = Console()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "crm"
        with console.status(f"Generating {n_leads:,} demo leads"):
            write_demo_crm(folder, n_leads=n_leads, seed=seed, fmt="parquet")
        load_time, tables = timed(lambda: load_tables(folder))
        n_events = len(tables.activities)
        as_of = tables.activities["occurred_at"].quantile(0.9).floor("D")
        rows.append(("load + validate (Parquet)", f"{load_time:.2f} s", f"{n_events:,} events"))

        build_features(tables.for_leads(tables.leads["lead_id"].head(50)), as_of=as_of)  # warm
        full_time, frame = timed(lambda: build_features(tables, as_of=as_of))
        rows.append(("build_features, all leads", f"{full_time:.2f} s", f"{len(frame):,} leads"))

        snaps = frame[["lead_id", "as_of"]].assign(key=frame["person_id"].to_numpy())
        created = tables.leads.set_index("lead_id").loc[snaps["lead_id"], "created_at"]

        def behaviour_only() -> pd.DataFrame:
            events = events_before(tables.activities, snaps)
            return behaviour_features(tables.activities, snaps, created, events=events)

        behaviour_time, _ = timed(behaviour_only, repeat=2)
        duck_time, duck = timed(lambda: duckdb_aggregate(folder, as_of, 30.0), repeat=2)
        rows.append(("  behaviour part alone", f"{behaviour_time:.2f} s", ""))
        rows.append(
            ("  DuckDB SQL aggregate (floor)", f"{duck_time:.2f} s", f"{len(duck):,} leads")
        )
        rows.append(("  behaviour / DuckDB", f"{behaviour_time / duck_time:.2f}x", "target <= 2x"))

        counts = tables.activities.groupby("lead_id").size()
        lead = counts.index[np.argmin(np.abs(counts.to_numpy() - 200))]
        person = frame.loc[frame["lead_id"] == lead, "person_id"].iloc[0]
        group = frame.loc[frame["person_id"] == person, "lead_id"]
        one = tables.for_leads(group)
        now = one.activities["occurred_at"].max() + pd.Timedelta(hours=1)
        build_features(one, as_of=now)
        samples = [timed(lambda: build_features(one, as_of=now))[0] for _ in range(50)]
        rows.append(
            (
                "one lead (p50 / p99)",
                f"{np.median(samples) * 1e3:.1f} / {np.quantile(samples, 0.99) * 1e3:.1f} ms",
                f"{len(one.activities)} events; target <= 2 ms",
            )
        )

        base = None
        for k in (1, 2, 4, 8):
            moments = [as_of - pd.Timedelta(days=30 * i) for i in range(k)]
            snapshots = pd.concat(
                [pd.DataFrame({"lead_id": frame["lead_id"], "as_of": m}) for m in moments],
                ignore_index=True,
            )
            took, _ = timed(lambda s=snapshots: build_features(tables, snapshots=s))
            base = base or took
            rows.append(
                (
                    f"{k} snapshot(s) per lead",
                    f"{took:.2f} s",
                    f"{len(snapshots):,} rows, {took / base:.1f}x of one",
                )
            )
        rows.append(("peak memory (process)", f"{peak_memory_gb():.2f} GB", "target <= 4 GB"))

    table = Table(title=f"Feature pipeline, {n_leads:,} demo leads, 2 cores")
    for column in ("what", "time", "notes"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main(args.leads, args.seed)
