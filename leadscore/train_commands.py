"""``leadscore train``, ``leadscore models`` and ``leadscore thresholds``.

Kept out of ``cli.py`` so the training stack (LightGBM, MLflow) is imported only when one of
these commands runs; ``cli.py`` calls :func:`register` at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TimeElapsedColumn
from rich.table import Table

from leadscore.data_commands import (
    INPUT_ERROR,
    IdOpt,
    LabelOpt,
    MappingOpt,
    TimeOpt,
    is_tabular,
    open_table,
)

if TYPE_CHECKING:
    from serving.routing import RoutingConfig
    from training.evaluate import Capacity
    from training.workflow import RunOutcome, ThresholdAdvice

console = Console()
err_console = Console(stderr=True)

TRAIN_STEPS = (
    "Labelling snapshots",
    "Computing point-in-time features",
    "Fitting LightGBM",
    "Fitting baselines",
    "Evaluating on the test window",
    "Comparing with the champion",
    "Writing the report",
    "Logging to MLflow",
)
TABLE_METRICS = (
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("brier", "Brier", "{:.4f}"),
    ("log_loss", "log-loss", "{:.4f}"),
    ("ece", "ECE", "{:.4f}"),
    ("mean_probability", "mean predicted", "{:.1%}"),
    ("base_rate", "observed rate", "{:.1%}"),
    ("lift_top10", "lift@10%", "{:.2f}"),
    ("capture_top20", "capture@20%", "{:.0%}"),
    ("precision_at_capacity", "precision@capacity", "{:.0%}"),
    ("recall_at_capacity", "recall@capacity", "{:.0%}"),
)


def _settings():
    from leadscore.settings import load_settings

    return load_settings()


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total}",
        TimeElapsedColumn(),
        console=err_console,
    )


def _cell(values: dict[str, float] | None, key: str, pattern: str) -> str:
    if not values or key not in values or values[key] != values[key]:
        return "–"
    return pattern.format(values[key])


def metrics_table(
    metrics: dict[str, dict[str, float] | None], title: str, ours: str = "LightGBM"
) -> Table:
    """``ours``: the trained model's column header (its family when that is not LightGBM)."""
    names = {
        "lightgbm": ours,
        "rules": "points model",
        "logistic": "logistic reg.",
        "champion": "champion",
    }
    table = Table(title=title)
    table.add_column("metric")
    for name in metrics:
        table.add_column(names.get(name, name), justify="right")
    for key, label, pattern in TABLE_METRICS:
        table.add_row(label, *[_cell(values, key, pattern) for values in metrics.values()])
    return table


def _print_outcome(outcome: RunOutcome) -> None:
    window = outcome.result.model.data_window
    won = f"({int(outcome.result.test_labels.sum())} won of {len(outcome.result.test_labels):,})"
    if window.get("row_order"):
        what = f"Test window: from the file's {window.get('test_from')} on"
    elif window.get("mode") == "tabular" and window.get("test_from") is not None:
        what = f"Test window: rows created from {window.get('test_from')}"
    elif window.get("test_from") is not None:  # a lead at each scoring moment is one example
        what = f"Test window: snapshots of leads created from {window.get('test_from')}"
        labels = outcome.result.test_labels
        won = f"({int(labels.sum())} of {len(labels):,} snapshots won)"
    else:
        what = "Test rows: a stratified share (the table has no date)"
    from training.report import challenger_name

    ours = challenger_name(outcome.result.model.kind)
    console.print(metrics_table(outcome.metrics, f"{what} {won}", ours))
    verdict = (
        "[green]promoted to champion[/green]"
        if outcome.promoted
        else "[yellow]not promoted[/yellow]"
    )
    aliases = ", ".join(outcome.version.aliases)
    console.print(f"Version {outcome.version.version} ({aliases}): {verdict}: {outcome.reason}")
    console.print(f"Report: {outcome.report}")
    for note in outcome.notes:
        console.print(f"[yellow]Note:[/yellow] {note}")


def _load(data: str):
    from features.loaders import ContractError, load_tables

    try:
        return load_tables(data)
    except ContractError as error:
        err_console.print(str(error))
        raise typer.Exit(code=1) from error


def train(
    data: Annotated[
        str,
        typer.Argument(metavar="DATA", help="CRM folder, database URL, or one file with --label."),
    ],
    horizon_days: Annotated[
        int | None,
        typer.Option(
            "--horizon-days",
            min=1,
            help="A won deal within this many days (default: LEADSCORE_HORIZON_DAYS, 90).",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Tabular mode: the column with the label.")
    ] = None,
    tune: Annotated[
        int, typer.Option("--tune", min=0, help="Optuna trials on time folds within train.")
    ] = 0,
    tune_minutes: Annotated[
        float, typer.Option("--tune-minutes", help="Time limit for --tune.")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of LightGBM and the search.")] = 0,
    threads: Annotated[
        int, typer.Option("--threads", min=1, help="LightGBM threads (fixed: same result).")
    ] = 1,
    every_days: Annotated[
        int, typer.Option("--snapshot-every-days", min=1, help="Days between snapshots.")
    ] = 30,
    calibration: Annotated[
        Literal["isotonic", "sigmoid"], typer.Option("--calibration", help="Calibration method.")
    ] = "isotonic",
    min_positives: Annotated[
        int, typer.Option("--min-positives", help="Fewer won deals than this: cold start.")
    ] = 100,
    capacity: Annotated[
        int, typer.Option("--capacity", min=1, help="Leads sales can take per --per.")
    ] = 50,
    per: Annotated[
        Literal["day", "week", "month"], typer.Option("--per", help="Capacity period.")
    ] = "week",
    rules: Annotated[
        bool, typer.Option("--rules", help="Register the points model (cold start).")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the report folder here.")
    ] = None,
    max_auc_drop: Annotated[
        float, typer.Option("--max-auc-drop", help="Gate: ROC-AUC may be this much lower.")
    ] = 0.005,
    max_brier_rise: Annotated[
        float, typer.Option("--max-brier-rise", help="Gate: Brier may be this much higher.")
    ] = 0.0,
    id_column: Annotated[str | None, typer.Option("--id", help="Tabular: the id column.")] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="Tabular: the lead's date column.")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Tabular: a column-mapping YAML (see examples/)."),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="Tabular: keep a column the leakage audit flags (repeat)."),
    ] = None,
) -> None:
    """Fit, evaluate, log to MLflow, register; promote only if not worse than the champion on
    its newest test window (better, when trained on the same data; never on older data)."""
    import dataclasses

    from features.pipeline import FeatureConfig
    from training.evaluate import Capacity, GateTolerance
    from training.model import BoosterParams
    from training.snapshots import SnapshotConfig
    from training.split import DataError, SplitConfig
    from training.train import ColdStartError, TrainConfig
    from training.workflow import register_rules, run_training

    settings = _settings()
    config = TrainConfig(
        snapshots=SnapshotConfig(
            every_days=every_days, horizon_days=horizon_days or settings.horizon_days
        ),
        feature_config=FeatureConfig(half_life_days=settings.half_life_days),
        split=SplitConfig(seed=seed),
        booster=dataclasses.replace(BoosterParams(), seed=seed, num_threads=threads),
        calibration=calibration,
        min_positives=min_positives,
        source=_source_name(data),
        capacity=Capacity(capacity, per),
    )
    if label or mapping:
        from features.loaders import ContractError
        from features.mapping import MappingError
        from training.tabular import run_tabular

        with _progress() as progress:
            task = progress.add_task("Reading the table", total=6)
            try:
                outcome = run_tabular(
                    data,
                    label or "",
                    config,
                    settings,
                    id_column=id_column,
                    time_column=time_column,
                    mapping=mapping,
                    allow=tuple(allow or ()),
                    progress=lambda step: progress.update(task, description=step, advance=1),
                )
            except (ContractError, MappingError) as error:
                progress.stop()
                err_console.print(str(error), style="red", markup=False, highlight=False)
                raise typer.Exit(code=2) from error
            except ColdStartError as error:  # the points model speaks about events, not tables
                progress.stop()
                err_console.print(
                    f"[red]Too few won deals to learn from: {error.positives} in {error.where}; "
                    f"a model needs at least {error.minimum}.[/red]"
                )
                raise typer.Exit(code=2) from error
        _print_outcome(outcome)
        return
    tables = _load(data)
    total = len(TRAIN_STEPS) + (1 if tune else 0)
    with _progress() as progress:
        task = progress.add_task("Loading", total=total)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)

        try:
            if rules:
                version = register_rules(tables, config, settings, step)
            else:
                outcome = run_training(
                    tables,
                    config,
                    settings,
                    step,
                    tolerance=GateTolerance(max_auc_drop, max_brier_rise),
                    report_dir=report,
                    tune_trials=tune,
                    tune_timeout_s=tune_minutes * 60,
                )
        except (ColdStartError, DataError) as error:
            progress.stop()
            err_console.print(f"[red]{error}[/red]")
            raise typer.Exit(code=2) from error
        progress.update(task, completed=total)
    if rules:
        console.print(
            f"Points model registered as version {version.version} "
            f"({', '.join(version.aliases)}): {version.tags.get('gate_reason', '')}"
        )
        return
    _print_outcome(outcome)


def models(
    tabular: Annotated[
        bool,
        typer.Option("--tabular", help="The models trained on exports (leadscore-tabular)."),
    ] = False,
    promote: Annotated[
        str | None, typer.Option("--promote", help="Make this version the champion.")
    ] = None,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Give the champion back to the previous one.")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (recorded in the champion history).")
    ] = None,
) -> None:
    """Versions, aliases, metrics and champion history; promote or roll back by hand."""
    from training import registry
    from training.model import ModelMismatchError

    if promote and rollback:
        raise typer.BadParameter("give --promote VERSION or --rollback, not both")
    settings = _settings()
    name = registry.MODEL_NAME
    if tabular:
        from training.tabular import TABULAR_MODEL_NAME as name
    try:
        if promote:
            info = registry.promote(settings, promote, reason or "promoted by hand", name)
            console.print(f"Version {info.version} is now the champion.")
        elif rollback:
            info = registry.rollback(settings, reason or "rolled back by hand", name)
            console.print(f"Rolled back: version {info.version} is the champion again.")
    except (registry.RegistryError, ModelMismatchError) as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error

    versions = registry.list_versions(settings, name)
    if not versions:
        hint = "" if tabular else " (models trained on an export: --tabular)"
        console.print(f"No registered versions in {registry.tracking_uri(settings)} yet{hint}.")
        if not settings.models_dir.is_absolute() and not settings.mlflow_tracking_uri:
            console.print(
                f"The models folder is '{settings.models_dir}' of the current folder: run from "
                "the project's folder, or set LEADSCORE_MODELS_DIR."
            )
        return
    table = Table(
        title=f"Registered model {name!r}", caption="AUC: ROC-AUC on each version's test window"
    )
    # 80 columns: no cell breaks inside a word; date and time, kinds and aliases take lines
    table.add_column("v", no_wrap=True)
    for column in ("created", "kind", "aliases"):
        table.add_column(column, no_wrap=True)
    for column in ("AUC", "Brier", "ECE"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("gate", ratio=1, overflow="fold")
    for info in versions:
        m = info.metrics
        table.add_row(
            info.version,
            info.created_at.strftime("%Y-%m-%d\n%H:%M"),
            _kind(info.tags),
            "\n".join(info.aliases),
            _cell(m, "roc_auc", "{:.3f}"),
            _cell(m, "brier", "{:.4f}"),
            _cell(m, "ece", "{:.4f}"),
            info.tags.get("gate", ""),
        )
    console.print(table)
    trained_on = [info for info in versions if "data" in info.tags]
    if trained_on:  # a path is long: a table of its own, the full width for it
        data = Table(title="Trained on")
        data.add_column("v", no_wrap=True)
        # one folder or database refreshed each month reads the same: its window tells them apart
        data.add_column("data ends", no_wrap=True)
        data.add_column("tested from", no_wrap=True)
        data.add_column("data", ratio=1, overflow="fold")
        for info in trained_on:
            data.add_row(
                info.version,
                _day(info.tags.get("data_end")),
                _day(info.tags.get("test_from")),
                info.tags["data"],
            )
        console.print(data)
    events = registry.history(settings, name)
    if events:
        past = Table(title="Champion history")
        for column in ("when", "action", "version", "before", "after"):
            past.add_column(column, no_wrap=True)
        past.add_column("why", ratio=1, overflow="fold")
        for event in events:
            past.add_row(
                str(event["at"])[:16].replace("T", " "),
                event["action"],
                str(event["version"]),
                str(event.get("previous") or "–"),
                str(event.get("champion") or "–"),
                event.get("reason", ""),
            )
        console.print(past)


def thresholds(
    capacity: Annotated[int, typer.Option("--capacity", min=1, help="Leads sales can take.")],
    per: Annotated[
        Literal["day", "week", "month"], typer.Option("--per", help="Per day, week or month.")
    ] = "week",
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="[DATA]",
            help="CRM to take recent open leads from; without it, the scores of the open "
            "leads the champion stored at training are cut.",
        ),
    ] = None,
    weeks: Annotated[
        int, typer.Option("--weeks", min=1, max=1040, help="How recent is 'recent' (weeks).")
    ] = 13,
    label: LabelOpt = None,
    mapping: MappingOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
) -> None:
    """The whole score that would have sent at most N leads a period to sales, and precision."""
    from serving.routing import load_routing, score_cutoff
    from training import registry
    from training.evaluate import Capacity
    from training.model import ModelMismatchError
    from training.workflow import stored_thresholds, table_thresholds

    settings = _settings()
    try:
        routing = load_routing(settings.routing_file)
    except ValueError as error:
        err_console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(code=INPUT_ERROR) from error
    try:
        if data and is_tabular(label, mapping):
            from training.tabular import TABULAR_MODEL_NAME

            champion, _ = registry.load_champion(settings, TABULAR_MODEL_NAME)
            table = open_table(
                data, label, mapping, time_column, id_column, True, champion.categories
            )
            advice = table_thresholds(table, settings, Capacity(capacity, per), weeks=weeks)
            source = f"{advice.scored:,} rows of the table's last {weeks} weeks (tabular champion)"
        elif data:
            advice = _crm_advice(data, Capacity(capacity, per), weeks)
            source = f"{advice.scored:,} open-lead snapshots of the last {weeks} weeks"
        else:
            advice = stored_thresholds(settings, Capacity(capacity, per))
            source = (
                "the champion's scores of the recent open leads stored at training"
                if advice.open_leads
                else "the champion's test window (newest labelled snapshots; train again to "
                "cut the open leads' scores)"
            )
    except (registry.RegistryError, ModelMismatchError, ValueError) as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    table = Table(title=f"{capacity} leads per {per} to sales (champion v{advice.model_version})")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("probability cut-off", f"{advice.cutoff:.3f}")
    table.add_row("score cut-off (0-100)", f"{score_cutoff(advice.cutoff)}")
    table.add_row(f"leads up for a decision per {per}", f"{advice.volume:,.0f}")
    if advice.always is not None:
        table.add_row("  asked for contact: sales at any score", f"{advice.always:,.0f}")
        table.add_row("  review flag or no consent: not by score", f"{advice.never or 0:,.0f}")
    table.add_row(f"handed over by score per {per}", f"{advice.by_score:,.0f} ({advice.share:.1%})")
    if advice.one_lower is not None:
        lower = score_cutoff(advice.cutoff) - 1
        total = f" ({advice.one_lower + advice.always:,.0f} in all)" if advice.always else ""
        table.add_row(f"  from score {lower} instead", f"{advice.one_lower:,.0f}{total}")
    if advice.expected_precision == advice.expected_precision:  # NaN: none by score
        table.add_row(
            "expected precision (mean probability above)", f"{advice.expected_precision:.0%}"
        )
    if advice.always_precision is not None:
        table.add_row("expected precision of those who asked", f"{advice.always_precision:.0%}")
    in_force = _sales_cutoff(routing, advice.grade_cutoffs)
    grades = ", ".join(routing.sales_grades)
    if in_force is not None:
        table.add_row(
            "cut-off routing uses now", f"{in_force:.3f} (score {score_cutoff(in_force)})"
        )
    console.print(table)
    console.print(f"From {source}.")
    if in_force is not None and abs(in_force - advice.cutoff) >= 0.0005:
        advised = _advised_grades(routing, advice.grade_cutoffs, advice.cutoff)
        written = ", ".join(f"{g}: {c:.3f}" for g, c in advised.items())
        console.print(
            f"Routing hands over from {in_force:.3f} (grade{'s' * (len(grades) > 1)} {grades}; "
            "the model's cut-offs come from its calibration slice at training). To hand over "
            f"from {advice.cutoff:.3f}, set it in the routing file: grades: {{{written}}}"
            + (
                " (the other grades moved to keep their order: as they were, one would be empty)."
                if len(advised) > 1
                else "."
            )
        )
    if advice.share >= 1 and advice.cutoff == 0:
        console.print(
            f"Sales can take every lead the score decides ({advice.by_score:,.0f} per {per}): "
            "at a cut-off of 0 every one of them is handed over."
        )
    asking = routing.hand_raisers
    if asking.sales_if_any and not is_tabular(label, mapping):
        kinds = ", ".join(
            r.type + (f" ({', '.join(r.assets)})" if r.assets else "") for r in asking.sales_if_any
        )
        if advice.always is None:
            console.print(
                f"On top of the cut-off, leads that asked for contact in their last "
                f"{asking.within_days} days go to sales whatever their score (hand_raisers in "
                f"the routing file: {kinds}); plan capacity for them too, or give DATA to count "
                "them.",
            )
        else:
            console.print(
                f"Counted first: leads that asked for contact in their last {asking.within_days} "
                f"days go to sales whatever their score (hand_raisers in the routing file: "
                f"{kinds}); the cut-off fills the capacity they leave."
            )
    if advice.at_once is not None:
        moment, by_score, asked = advice.at_once
        console.print(
            f"One batch over every open lead (leadscore score at {moment:%Y-%m-%d %H:%M}) "
            f"would send {by_score + asked:,} to sales at this cut-off ({by_score:,} by score, "
            f"{asked:,} who asked): the whole open pool at once. A CRM that scores each new or "
            f"changed lead hands them over as they reach the cut-off, about the numbers per "
            f"{per} above."
        )
    if advice.always is not None and advice.always >= capacity:
        console.print(
            f"[yellow]Leads that asked for contact alone fill the capacity ({advice.always:,.0f} "
            f"per {per} against {capacity}): no lead is handed over by score.[/yellow]"
        )


def _crm_advice(data: str, capacity: Capacity, weeks: int) -> ThresholdAdvice:
    """Cut the champion's scores of the recent open leads as routing would route them: the
    leads that asked for contact take their part of the capacity first, and leads with a review
    flag or without profiling consent are not the cut-off's (:meth:`Scorer.hand_over_basis`)."""
    import dataclasses

    from leadscore.serve_commands import _scorer
    from serving.scorer import existing_at
    from training.evaluate import volume_per_period
    from training.snapshots import SnapshotConfig, data_end
    from training.workflow import advice_for, at_once, recent_open

    tables = _load(data)
    scorer = _scorer(None)
    every = SnapshotConfig().every_days
    recent = recent_open(tables, scorer.model, weeks, every)
    basis = scorer.hand_over_basis(tables, recent)
    advice = advice_for(
        basis.probability,
        volume_per_period(recent["as_of"], every, capacity.per),
        capacity,
        scorer.ref.version,
        scorer.model.thresholds,
        always=basis.always,
        never=basis.never,
    )
    # the open pool a batch (`leadscore score`) routes at once, as it would route it
    end = data_end(tables)
    now = scorer.hand_over_basis(tables, existing_at(tables, end))
    return dataclasses.replace(
        advice, at_once=(end, *at_once(now.probability, now.always, now.never, advice.cutoff))
    )


def _day(moment: str | None) -> str:
    """A stored moment as its day ("2026-10-31"); a row number or nothing as it is."""
    if not moment or moment in ("None", "NaT"):  # a table without dates has no window
        return "-"
    return moment[:10] if moment[:4].isdigit() else moment


def _kind(tags: dict[str, str]) -> str:
    """The model kind, and the horizon it predicts (models of two horizons are not compared)."""
    kind = tags.get("kind", "?").replace("+", "+\n")
    horizon = tags.get("horizon_days", "-")
    return kind if horizon in ("-", "None", "") else f"{kind}\n{horizon} days"


def _source_name(data: str) -> str:
    """Where a run's data came from, to keep with its version: a file or folder as its full
    path, a database URL without its password."""
    if "://" in data:
        from serving.runtime import without_passwords

        return without_passwords(data)
    return str(Path(data).resolve())


def _advised_grades(
    routing: RoutingConfig, model_cutoffs: dict[str, float], cutoff: float
) -> dict[str, float]:
    """The routing file's ``grades`` that hand over from ``cutoff``: the lowest sales grade
    at it, and any grade on either side that would no longer be above or below it moved a
    point (setting A to the model's B cut-off left grade B empty, without a word)."""
    from serving.routing import GRADES

    current = routing.cutoffs(model_cutoffs)
    sales = routing.sales_grades[-1]
    advised = {sales: cutoff}
    at = GRADES.index(sales)
    above = cutoff
    for grade in reversed(GRADES[:at]):  # better grades stay above it
        if current[grade] <= above:
            advised[grade] = above = min(1.0, round(above + 0.01, 3))
        else:
            above = current[grade]
    below = cutoff
    for grade in GRADES[at + 1 :]:  # worse grades stay below it
        if current[grade] >= below:
            advised[grade] = below = max(0.0, round(below - 0.01, 3))
        else:
            below = current[grade]
    return {g: advised[g] for g in GRADES if g in advised}


def _sales_cutoff(routing: RoutingConfig, model_cutoffs: dict[str, float]) -> float | None:
    """The lowest probability routing sends to sales now (the routing file over the model's)."""
    cutoffs = routing.cutoffs(model_cutoffs)
    grades = [g for g in routing.sales_grades if g in cutoffs]
    return min(cutoffs[g] for g in grades) if grades and model_cutoffs else None


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``leadscore`` app."""
    app.command("train")(train)
    app.command("models")(models)
    app.command("thresholds")(thresholds)
