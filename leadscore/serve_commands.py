"""Commands that use the champion: batch scores, a lead card, the HTTP service, the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

    from features.contract import CRMTables
    from serving.scorer import Scorer, ScoreResult

console = Console()
err_console = Console(stderr=True)

LangOpt = Annotated[
    str | None, typer.Option("--lang", help="Language of reasons and notes: en or de.")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Score as of this moment (default: now).")
]


def _scorer(lang: str | None) -> Scorer:
    from leadscore.settings import Settings
    from serving.runtime import Runtime

    settings = Settings()
    runtime = Runtime(settings)
    if not runtime.try_reload():
        err_console.print(f"[red]No model to score with:[/red] {runtime.last_error}")
        raise typer.Exit(code=1)
    assert runtime.scorer is not None
    if lang:
        runtime.scorer.lang = lang  # type: ignore[assignment]
    return runtime.scorer


def _tables(data: str) -> CRMTables:
    from features.loaders import ContractError, load_tables

    try:
        return load_tables(data)
    except ContractError as error:
        err_console.print(str(error))
        raise typer.Exit(code=1) from error


def _moment(as_of: str | None) -> pd.Timestamp | None:
    import pandas as pd

    if as_of is None:
        return None
    try:
        return pd.Timestamp(as_of)
    except ValueError as error:
        raise typer.BadParameter(f"--as-of {as_of!r} is not a date") from error


def score(
    data: Annotated[str, typer.Argument(help="CRM folder or database URL.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write scores (.parquet/.csv).")],
    as_of: AsOfOpt = None,
    lang: LangOpt = None,
    show_top: Annotated[
        int, typer.Option("--show-top", help="Also print the lead cards of the N best leads.")
    ] = 0,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Tabular mode: a column-mapping YAML (see examples/)."),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Tabular mode: the label column of the file.")
    ] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Tabular: the id column.")] = None,
) -> None:
    """Score every lead with the champion: probability, grade, route, reasons, handover note."""

    if mapping or label:
        frame = score_tabular(data, mapping, label, id_column)
        _write(frame, out)
        console.print(f"Scored {len(frame):,} rows with the tabular champion; wrote {out}")
        return

    from serving.scorer import results_from_frame

    scorer = _scorer(lang)
    tables = _tables(data)
    with err_console.status(f"Scoring {len(tables.leads):,} leads"):
        scored = scorer.score_table(tables, as_of=_moment(as_of), lang=lang)
    frame = readable_scores(scored)
    _write(frame, out)
    summary = Table(title=f"{len(frame):,} leads scored with model v{scorer.ref.version}")
    summary.add_column("route")
    summary.add_column("leads", justify="right")
    for action, count in frame["action"].value_counts().items():
        summary.add_row(str(action), f"{count:,}")
    console.print(summary)
    console.print(f"Wrote {out}")
    best = scored[scored["consent_profiling"]].nlargest(show_top, "probability")
    for result in results_from_frame(best):
        console.print(lead_card(result, tables, [result.lead_id], lang or scorer.lang))


def readable_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """The batch frame as a file for people: reasons also as one text, flags as words."""
    slots = sum(1 for c in scored.columns if c.startswith("reason_") and c.endswith("_text"))
    pairs = zip(
        *(
            zip(scored[f"reason_{k}_text"], scored[f"reason_{k}_contribution"], strict=True)
            for k in range(1, slots + 1)
        ),
        strict=True,
    )
    reasons = [" | ".join(f"{t} ({c:+.2f})" for t, c in row if t is not None) for row in pairs]
    frame = scored.drop(columns=["quality_texts"])
    frame.insert(frame.columns.get_loc("why") + 1, "reasons", reasons)
    frame["quality_flags"] = [", ".join(flags) for flags in scored["quality_flags"]]
    return frame


def _write(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def score_tabular(
    data: str, mapping: Path | None, label: str | None, id_column: str | None
) -> pd.DataFrame:
    """A plain export scored by the ``leadscore-tabular`` champion: score, grade, route and
    reasons, each score written to the audit log before the file is.

    New leads have no label yet, so the label column may be missing. An export has no events
    to cite, so a reason names the column and its value.
    """
    import uuid

    import numpy as np
    import pandas as pd

    from leadscore.settings import Settings
    from serving.audit import AuditLog, now_utc
    from serving.reasons import ReasonGroups, check_additivity, top_reasons
    from serving.routing import grades_of, load_routing, route_lead
    from serving.scorer import json_value
    from training.registry import RegistryError, load_champion
    from training.tabular import TABULAR_MODEL_NAME, feature_frame, read_table

    settings = Settings()
    try:
        model, info = load_champion(settings, name=TABULAR_MODEL_NAME)
    except RegistryError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(code=1) from error
    table = read_table(data, label, id_column, None, mapping, without_label=True)
    features, _ = feature_frame(table)
    missing = [c for c in model.columns if c not in features.columns]
    if missing:
        err_console.print(
            f"[red]{data} lacks columns the tabular champion was trained on: {missing[:5]}[/red]"
        )
        raise typer.Exit(code=1)
    matrix = model.encode(features)
    raw = model.predict_raw(matrix)
    probability = model.calibrator.transform(raw)
    routing = load_routing(settings.routing_file)
    scores = model.score(probability)
    grades = grades_of(probability, routing.cutoffs(model.thresholds))  # as the service grades
    contributions = model.contributions(matrix)
    check_additivity(contributions, raw)
    picked, totals = top_reasons(
        contributions[:, : len(model.columns)], ReasonGroups.of(tuple(model.columns))
    )
    values = features[model.columns].astype(object).where(features[model.columns].notna(), None)
    rows = values.to_dict("records")
    fields = table.frame.astype(object).where(table.frame.notna(), None).to_dict("records")
    lead_ids = table.frame["lead_id"].astype(str).tolist()
    request_id, scored_at = uuid.uuid4().hex, now_utc()
    records, out = [], []
    for i, (lead_id, row) in enumerate(zip(lead_ids, rows, strict=True)):
        reasons = [
            {
                "feature": model.columns[c],
                "contribution": round(float(t), 6),
                "text": f"{model.columns[c]} = {row[model.columns[c]]}",
            }
            for c, t in zip(picked[i], totals[i], strict=True)
            if c >= 0
        ]
        route = route_lead(fields[i], str(grades[i]), [], routing)  # rules may read any field
        records.append(
            {
                "request_id": request_id,
                "lead_id": lead_id,
                "scored_at": scored_at,
                "model_name": TABULAR_MODEL_NAME,
                "model_version": str(info.version),
                "probability": round(float(probability[i]), 6),
                "score": int(scores[i]),
                "grade": str(grades[i]),
                "action": route.action,
                "route": route.model_dump(),
                "reasons": reasons,
                "quality_flags": [],
                "features": {k: json_value(v) for k, v in row.items()},
                "handover_note": "",
            }
        )
        out.append(" | ".join(f"{r['text']} ({r['contribution']:+.2f})" for r in reasons))
    AuditLog(settings.audit_url()).write(records)
    return pd.DataFrame(
        {
            "lead_id": lead_ids,
            "probability": np.round(probability, 6),
            "score": scores,
            "grade": grades,
            "action": [r["action"] for r in records],
            "team": [r["route"]["team"] for r in records],
            "track": [r["route"]["track"] for r in records],
            "reasons": out,
            "model_version": info.version,
        }
    )


def explain(
    lead_id: Annotated[str, typer.Argument(help="The lead to explain.")],
    data: Annotated[str, typer.Argument(help="CRM folder or database URL.")],
    as_of: AsOfOpt = None,
    lang: LangOpt = None,
) -> None:
    """One lead's card: score, grade, route, reasons, quality flags and its last actions."""
    from features.pipeline import person_of

    scorer = _scorer(lang)
    tables = _tables(data)
    if lead_id not in set(tables.leads["lead_id"]):
        err_console.print(f"[red]lead_id {lead_id!r} is not in {data}[/red]")
        raise typer.Exit(code=1)
    leads = tables.leads.drop_duplicates("lead_id").set_index("lead_id", drop=False)
    person = person_of(leads, scorer.model.feature_config)
    group = list(person.index[person == person[lead_id]])
    result = scorer.score(tables.for_leads(group), lead_ids=[lead_id], as_of=_moment(as_of))[0]
    console.print(lead_card(result, tables, group, lang or scorer.lang))


def lead_card(result: ScoreResult, tables: CRMTables, group: list[str], lang: str = "en") -> Panel:
    """The terminal card sales and data scientists look at."""
    from features.texts import event_phrase, format_date

    lead = tables.leads.set_index("lead_id").loc[result.lead_id]
    name = " ".join(
        str(lead.get(k)) for k in ("first_name", "last_name") if isinstance(lead.get(k), str)
    )
    head = Table.grid(padding=(0, 2))
    head.add_row("Lead", f"{result.lead_id}  {name}  {lead.get('company') or ''}")
    if result.score is None:
        head.add_row("Score", "no model score (objected to profiling)")
    else:
        head.add_row(
            "Score", f"[bold]{result.score}[/bold] ({result.grade}), p = {result.probability:.3f}"
        )
    route = result.route
    head.add_row(
        "Route", f"{route.action} {route.team or route.track or ''}  [dim]{route.why}[/dim]"
    )
    head.add_row("Model", f"{result.model.name} v{result.model.version}, as of {result.as_of[:16]}")
    reasons = Table(show_header=True, header_style="bold", expand=True)
    reasons.add_column("reason", ratio=5)
    reasons.add_column("impact", justify="right", ratio=1)
    for reason in result.reasons:
        colour = "green" if reason.contribution > 0 else "red"
        reasons.add_row(reason.text, f"[{colour}]{reason.contribution:+.2f}[/{colour}]")
    actions = tables.activities[tables.activities["lead_id"].isin(group)]
    actions = actions[actions["occurred_at"] < result.as_of].sort_values("occurred_at").tail(8)
    last = Table(show_header=False, box=None)
    for row in actions.itertuples():
        last.add_row(
            format_date(row.occurred_at, lang), event_phrase(row.activity_type, row.asset, lang)
        )
    flags = "\n".join(f"- {f.text}" for f in result.quality_flags) or "none"
    from rich.console import Group

    return Panel(
        Group(
            head,
            "",
            reasons,
            "",
            "[bold]Last actions[/bold]",
            last,
            "",
            f"[bold]Quality flags[/bold]\n{flags}",
            "",
            f"[bold]Handover note[/bold]\n{result.handover_note}",
        ),
        title="leadscore lead card",
    )


def serve(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Start the BentoML HTTP service (POST /score, /score_batch; GET /model, /healthz)."""
    from leadscore.settings import Settings

    settings = Settings()
    if not settings.token_set():
        err_console.print(
            "[yellow]LEADSCORE_API_TOKENS is empty: every scoring request will get 401.[/yellow]"
        )
    token = next(iter(settings.token_set()), "<token>")
    console.print(
        f"Example:\n  curl -s -X POST http://{host}:{port}/score "
        f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        '-d \'{"lead": {"lead_id": "L-1", "created_at": "2026-11-01T09:00:00", '
        '"job_title": "Head of Marketing", "country": "Germany"}, "activities": '
        '[{"occurred_at": "2026-11-20T10:00:00", "activity_type": "pricing_page_view"}]}\'',
        soft_wrap=True,
        markup=False,
    )
    root = Path(__file__).resolve().parents[1]
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScore",
        "--port", str(port), "--host", host, "--working-dir", str(root),
    ]  # fmt: skip
    raise typer.Exit(subprocess.call(command, env=os.environ.copy()))


def audit(
    lead_id: Annotated[str, typer.Argument(help="The lead whose scores to show.")],
) -> None:
    """Every score this lead was given, with model version, route and reasons."""
    from leadscore.settings import Settings
    from serving.audit import AuditLog

    log = AuditLog(Settings().audit_url())
    history = log.history(lead_id)
    if history.empty:
        console.print(f"No scores recorded for {lead_id!r}.")
        return
    table = Table(title=f"Scores given to {lead_id}")
    for column in ("scored at", "model", "score", "grade", "route", "top reasons", "request"):
        table.add_column(column, overflow="fold")
    for row in history.itertuples():
        reasons = "; ".join(r["text"] for r in row.reasons[:3])
        table.add_row(
            str(row.scored_at)[:19],
            f"{row.model_name} v{row.model_version}",
            "-" if row.score is None or row.score != row.score else str(int(row.score)),
            row.grade or "-",
            row.action,
            reasons,
            row.request_id[:8],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(explain)
    app.command()(serve)
    app.command()(audit)
