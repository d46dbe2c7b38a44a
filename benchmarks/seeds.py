"""How much of "ours vs logistic regression" is LightGBM's seed: the quality protocol, seed by seed.

Run: ``uv run python -m benchmarks.seeds --only olist --seeds 20``. Prints one table and writes
``benchmarks/results/seeds.md``.

:mod:`benchmarks.quality` trains with seed 0. Bagging (80 % of rows per tree) and feature
sampling (half the columns) make each seed a slightly different model; the logistic regression
does not change. This script repeats the same protocol on the same split with seeds 0 to N-1
(nothing else changes, and nothing is chosen from it) and shows the spread of the two gaps the
issue's bar reads: ROC-AUC and Brier, ours minus logistic regression. It describes the quality
benchmark's result; it does not replace it.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import track
from rich.table import Table

from benchmarks.quality import DATASET_LIST, FLOAT_NOISE, OURS, RESULTS, brier_text, run_dataset
from training.train import TrainConfig

LOGISTIC = "logistic regression"


def gaps_by_seed(name: str, seeds: int) -> pd.DataFrame:
    """One row per seed: the family kept and both gaps, ours minus logistic regression."""
    dataset = next(d for d in DATASET_LIST if d.name == name)
    base = TrainConfig()
    rows = []
    for seed in track(range(seeds), description=f"{name}: seeds"):
        config = dataclasses.replace(base, booster=dataclasses.replace(base.booster, seed=seed))
        outcome = run_dataset(dataset, config)
        ours, logistic = outcome.scores[OURS], outcome.scores[LOGISTIC]
        rows.append(
            {
                "dataset": name,
                "seed": seed,
                "family": outcome.families[0][0] if len(outcome.families) == 1 else "per fold",
                "roc_auc_gap": ours["roc_auc"] - logistic["roc_auc"],
                "brier_gap": _rounding_is_zero(ours["brier"] - logistic["brier"]),
            }
        )
    return pd.DataFrame(rows)


def _rounding_is_zero(gap: float) -> float:
    """The same model computed two ways differs in the 17th digit: that is no gap."""
    return 0.0 if abs(gap) < FLOAT_NOISE else gap


def summary(frame: pd.DataFrame) -> dict[str, object]:
    brier, auc = frame["brier_gap"], frame["roc_auc_gap"]
    return {
        "dataset": frame["dataset"].iloc[0],
        "seeds": len(frame),
        "Brier gap: mean": brier_text(float(brier.mean())),
        "min to max": f"{brier_text(float(brier.min()))} to {brier_text(float(brier.max()))}",
        "seeds with a higher Brier": f"{int((brier > 0).sum())} of {len(frame)}",
        "ROC-AUC gap: mean": f"{auc.mean():+.4f}",
        "ROC-AUC min to max": f"{auc.min():+.4f} to {auc.max():+.4f}",
    }


def markdown(frames: list[pd.DataFrame]) -> str:
    lines = [
        "# Quality benchmark, seed by seed",
        "",
        "Written by `uv run python -m benchmarks.seeds`; do not edit by hand. The protocol, split "
        "and test rows of `benchmarks/quality.py`, LightGBM's seed varied (the quality table "
        "uses seed 0). Gaps are ours minus logistic regression: a negative Brier gap and a "
        "positive ROC-AUC gap favour ours.",
        "",
    ]
    summaries = pd.DataFrame([summary(f) for f in frames])
    lines += [_table(summaries), "", "## Every seed", ""]
    every = pd.concat(frames, ignore_index=True)
    every["brier_gap"] = every["brier_gap"].map(brier_text)
    every["roc_auc_gap"] = every["roc_auc_gap"].map("{:+.4f}".format)
    lines.append(_table(every))
    return "\n".join(lines) + "\n"


def _table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([head, rule, *body])


def main(only: list[str], seeds: int, out: Path) -> list[pd.DataFrame]:
    console = Console()
    frames = [gaps_by_seed(name, seeds) for name in only]
    table = Table(title="Ours minus logistic regression, seed by seed")
    summaries = [summary(f) for f in frames]
    for column in summaries[0]:
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for row in summaries:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seeds.md").write_text(markdown(frames))
    console.print(f"Wrote {out / 'seeds.md'}")
    return frames


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [d.name for d in DATASET_LIST]
    parser.add_argument("--only", nargs="*", default=names, choices=names)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not all(next(d for d in DATASET_LIST if d.name == n).path.exists() for n in args.only):
        raise SystemExit("a dataset is missing under ../shared/datasets")
    main(args.only, args.seeds, args.out)
