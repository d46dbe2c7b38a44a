"""The evaluation report: PNG plots and one Markdown file a person reads before trusting a model.

Everything is written into one folder (logged to MLflow as it is):
``reliability.png``, ``gains.png``, ``shap_groups.png``, ``report.md`` and ``metrics.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.evaluate import gains_table, group_importance, reliability_table

MODEL_LABELS = {
    "lightgbm": "LightGBM (challenger)",
    "rules": "Points model (rules.yaml)",
    "logistic": "Logistic regression",
    "champion": "Current champion",
}


def challenger_name(kind: str) -> str:
    """The trained model's name in tables and plots: its family when that is not LightGBM (a
    tabular run may keep logistic regression, alone or with trees on top)."""
    return "LightGBM" if kind == "lightgbm" else kind.replace("+", " + ")


def labels_for(kind: str) -> dict[str, str]:
    return {**MODEL_LABELS, "lightgbm": f"{challenger_name(kind)} (challenger)"}


HEADLINE = [
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("brier", "Brier", "{:.4f}"),
    ("log_loss", "log-loss", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
    ("mean_probability", "mean predicted", "{:.1%}"),
    ("base_rate", "observed rate", "{:.1%}"),
    ("lift_top10", "lift top 10 %", "{:.2f}"),
    ("capture_top10", "capture top 10 %", "{:.0%}"),
    ("lift_top20", "lift top 20 %", "{:.2f}"),
    ("capture_top20", "capture top 20 %", "{:.0%}"),
    ("precision_at_capacity", "precision at capacity", "{:.0%}"),
    ("recall_at_capacity", "recall at capacity", "{:.0%}"),
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_reliability(
    label: np.ndarray,
    probabilities: dict[str, np.ndarray],
    path: Path,
    labels: dict[str, str] = MODEL_LABELS,
) -> Path:
    """Predicted against observed buying rate per probability bin; the diagonal is honesty."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = 0.0
    for name, probability in probabilities.items():
        table = reliability_table(label, probability)
        ax.plot(table["predicted"], table["observed"], marker="o", label=labels[name])
        top = max(top, table["predicted"].max(), table["observed"].max())
    top = min(1.0, top * 1.1 + 0.01)
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="predicted probability", ylabel="observed rate")
    ax.set_title("Reliability on the test window")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


LIFT_FROM = 0.02


def plot_gains(
    label: np.ndarray,
    probabilities: dict[str, np.ndarray],
    path: Path,
    labels: dict[str, str] = MODEL_LABELS,
) -> Path:
    """Cumulative gains and lift: which share of buyers the top x % of leads contain."""
    plt = _pyplot()
    fig, (gain_ax, lift_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    shown = 1.0  # the highest lift from 2 % of leads on: the first few leads' lift is noise
    for name, probability in probabilities.items():
        table = gains_table(label, probability)
        gain_ax.plot(table["share"], table["capture"], label=labels[name])
        lift_ax.plot(table["share"], table["lift"], label=labels[name])
        lifts = table.loc[table["share"] >= LIFT_FROM, "lift"]
        shown = max(shown, float(lifts.max()) if len(lifts) else shown)
    gain_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="random")
    gain_ax.set(xlabel="share of leads contacted", ylabel="share of buyers reached")
    gain_ax.set_title("Cumulative gains")
    lift_ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    lift_ax.set(
        xlabel="share of leads contacted", ylabel="lift", xlim=(LIFT_FROM, 1), ylim=(0, shown * 1.1)
    )
    lift_ax.set_title("Lift")
    gain_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_importance(importance: pd.DataFrame, path: Path, top: int = 20) -> Path:
    """SHAP summary: mean |contribution| per feature group and for the top features."""
    plt = _pyplot()
    groups = group_importance(importance)
    colours = dict(
        zip(
            ["behaviour", "fit", "quality", "interest"],
            ["tab:blue", "tab:orange", "tab:red", "tab:green"],
            strict=True,
        )
    )
    fig, (group_ax, feature_ax) = plt.subplots(
        1, 2, figsize=(11, 6), gridspec_kw={"width_ratios": [1, 2]}
    )
    group_ax.barh(
        groups["group"][::-1],
        groups["mean_abs"][::-1],
        color=[colours.get(g, "grey") for g in groups["group"][::-1]],
    )
    group_ax.set(xlabel="mean |SHAP| (log-odds)", title="By feature group")
    head = importance.head(top)[::-1]
    feature_ax.barh(
        head["feature"], head["mean_abs"], color=[colours.get(g, "grey") for g in head["group"]]
    )
    feature_ax.set(xlabel="mean |SHAP| (log-odds)", title=f"Top {top} features")
    feature_ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _format(metric: str, value: float | None, pattern: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return pattern.format(value)


def metric_table(
    metrics: dict[str, dict[str, float] | None], labels: dict[str, str] = MODEL_LABELS
) -> str:
    """Markdown table: one row per metric, one column per scorer."""
    names = [n for n, m in metrics.items() if m is not None]
    lines = [
        "| metric | " + " | ".join(labels.get(n, n) for n in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for key, title, pattern in HEADLINE:
        cells = [_format(key, metrics[n].get(key), pattern) for n in names]  # type: ignore[union-attr]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _counts_table(counts: dict[str, Any]) -> str:
    lines = ["| what | count |", "| --- | ---: |"]
    lines += [f"| {k.replace('_', ' ')} | {v:,} |" for k, v in counts.items()]
    return "\n".join(lines)


def _data_section(window: dict[str, Any], share: dict[str, int]) -> list[str]:
    """What the model learnt from and how it was split: CRM snapshots, or an export's rows
    (by date when it has one, stratified by label when it has none)."""
    counts = _counts_table(window.get("counts", {}))
    if window.get("mode") == "tabular":
        dated = window.get("test_from") is not None
        if window.get("row_order"):
            how = "The rows are in time order (the row_order mapping): the last are the test rows."
        elif dated:
            how = (
                f"Rows are assigned to slices by their date; the newest are the test rows. Data "
                f"ends {window.get('data_end')}."
            )
        else:
            how = "The table has no date: rows are split at random, stratified by the label."

        rows = [
            "| slice | rows from | rows |",
            "| --- | --- | ---: |",
            *[
                f"| {name} | {(window.get(f'{key}_from') or 'start') if dated else '-'} "
                f"| {share.get(key, 0):,} |"
                for name, key in (
                    ("fit", "fit"),
                    ("valid (early stopping)", "valid"),
                    ("cal (calibration)", "cal"),
                    ("test", "test"),
                )
            ],
        ]
        return [
            "## Data",
            "",
            "One row per lead of the export; label: its label column.",
            "",
            counts,
            "",
            "## Split",
            "",
            how,
            "",
            *rows,
            "",
        ]
    return [
        "## Data",
        "",
        f"Snapshots every {window.get('snapshot_every_days')} days from each lead's creation; "
        f"label: a won deal within {window.get('horizon_days')} days after the snapshot. "
        f"Data ends {window.get('data_end')}.",
        "",
        counts,
        "",
        "## Time split",
        "",
        "Leads are assigned to slices by creation time; snapshots whose label window reaches "
        + (
            "into the next slice were dropped (training: the calibration period; calibration: "
            "the test period)."
            if window.get("purge") == "each"
            else "into the test period were dropped from training and calibration."
        ),
        "",
        "| slice | leads created from | snapshots | purged |",
        "| --- | --- | ---: | ---: |",
        f"| fit | start | {share.get('fit', 0):,} | {window['purged'].get('fit', 0):,} |",
        f"| valid (early stopping) | {window.get('valid_from')} | {share.get('valid', 0):,} "
        f"| {window['purged'].get('valid', 0):,} |",
        f"| cal (calibration) | {window.get('cal_from')} | {share.get('cal', 0):,} "
        f"| {window['purged'].get('cal', 0):,} |",
        f"| test | {window.get('test_from')} | {share.get('test', 0):,} | 0 |",
        "",
    ]


def write_report(
    out_dir: Path,
    metrics: dict[str, dict[str, float] | None],
    probabilities: dict[str, np.ndarray],
    label: np.ndarray,
    importance: pd.DataFrame,
    window: dict[str, Any],
    decision: tuple[bool, str],
    params: dict[str, Any],
    notes: list[str] | None = None,
    kind: str = "lightgbm",
) -> Path:
    """Write the plots, ``metrics.json`` and ``report.md`` into ``out_dir``; return the report.
    ``kind``: the trained model's, which names its column and lines."""
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = labels_for(kind)
    plot_reliability(label, probabilities, out_dir / "reliability.png", labels)
    plot_gains(label, probabilities, out_dir / "gains.png", labels)
    plot_importance(importance, out_dir / "shap_groups.png")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    importance.to_csv(out_dir / "importance.csv", index=False)

    promoted, reason = decision
    groups = group_importance(importance)
    share = window.get("sizes", {})
    lines = [
        "# Lead scoring model report",
        "",
        f"**Gate decision:** {'promoted to champion' if promoted else 'not promoted'}: {reason}.",
        "",
        *_data_section(window, share),
        "## Test window: challenger, baselines and champion",
        "",
        metric_table(metrics, labels),
        "",
        f"Sales capacity: the top {metrics['lightgbm']['sales_share']:.1%} of scored "  # type: ignore[index]
        f"{'rows' if window.get('mode') == 'tabular' else 'snapshots'} "
        + (
            f"(about {window.get('weekly_volume', 0):,.0f} open leads are up for a decision per "
            "week; the capacity is divided by that volume)."
            if window.get("weekly_volume")
            else "(the default share: without dates, a row order included, there is no weekly "
            "volume to divide by)."
        ),
        "",
        "![reliability](reliability.png)",
        "",
        "![gains](gains.png)",
        "",
        "## What drives the score (mean |SHAP contribution| on the test window)",
        "",
        "| group | mean abs SHAP |",
        "| --- | ---: |",
        *[f"| {g} | {v:.3f} |" for g, v in zip(groups["group"], groups["mean_abs"], strict=True)],
        "",
        "| rank | feature | group | mean abs SHAP |",
        "| ---: | --- | --- | ---: |",
        *[
            f"| {i + 1} | {r.feature} | {r.group} | {r.mean_abs:.4f} |"
            for i, r in enumerate(importance.head(15).itertuples())
        ],
        "",
        "![shap](shap_groups.png)",
        "",
        "## Parameters",
        "",
        "| parameter | value |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in params.items()],
    ]
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
