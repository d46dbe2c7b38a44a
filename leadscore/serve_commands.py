"""Commands that use the champion: batch scores, a lead card, the HTTP service, the audit log."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from leadscore.data_commands import (
    INPUT_ERROR,
    IdOpt,
    LabelOpt,
    MappingOpt,
    TimeOpt,
    is_tabular,
    language,
    open_table,
    out_file,
    parse_moment,
    write_frame,
)

if TYPE_CHECKING:
    import pandas as pd

    from features.contract import CRMTables, TabularData
    from leadscore.settings import Settings
    from serving.runtime import Runtime
    from serving.scorer import Scorer, ScoreResult
    from serving.tabular import TabularScorer

console = Console()
err_console = Console(stderr=True)

LangOpt = Annotated[
    str | None,
    typer.Option("--lang", help="Language of reasons and notes: en or de.", callback=language),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Score as of this moment (default: now).")
]
VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version",
        help="Score with this registered version instead of the champion (to see what a "
        "challenger or an older champion makes of the same leads; audited under its version).",
    ),
]


# The lead card's own words; the reasons and the note come in the chosen language already.
CARD_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "lead": "Lead",
        "score": "Score",
        "route": "Route",
        "model": "Model",
        "as_of": "as of",
        "reason": "reason",
        "impact": "impact",
        "no_score": "no model score (objected to profiling)",
        "last_actions": "Last actions",
        "quality_flags": "Quality flags",
        "none": "none",
        "handover_note": "Handover note",
        "row_says": "What the row says",
        "sales": "sales",
        "nurture": "nurture",
        "review": "review",
        "closed": "Closed",
        "same_person": "Same person",
        "counts_too": "their actions count too",
    },
    "de": {
        "lead": "Lead",
        "score": "Score",
        "route": "Zuordnung",
        "model": "Modell",
        "as_of": "Stand",
        "reason": "Grund",
        "impact": "Gewicht",
        "no_score": "kein Modell-Score (Widerspruch gegen Profiling)",
        "last_actions": "Letzte Aktionen",
        "quality_flags": "Qualitätshinweise",
        "none": "keine",
        "handover_note": "Übergabenotiz",
        "row_says": "Was die Zeile sagt",
        "sales": "Vertrieb",
        "nurture": "Nurturing",
        "review": "Prüfung",
        "closed": "Abgeschlossen",
        "same_person": "Dieselbe Person",
        "counts_too": "deren Aktionen zählen mit",
    },
}


T = TypeVar("T")


def _moment_text(moment: str, lang: str) -> str:
    """The scoring moment as the card's reader writes dates: 01.11.2026 00:00 in German."""
    import pandas as pd

    ts = pd.Timestamp(moment)
    return f"{ts:%d.%m.%Y %H:%M}" if lang == "de" else f"{ts:%Y-%m-%d %H:%M}"


def _words(lang: str | None) -> dict[str, str]:
    return CARD_WORDS.get(lang or "en", CARD_WORDS["en"])


def _scorer(lang: str | None, version: str | None = None) -> Scorer:
    from leadscore.settings import Settings
    from serving.runtime import Runtime

    settings = Settings()
    try:
        runtime = Runtime(settings)
    except ValueError as error:  # the routing file
        err_console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(code=INPUT_ERROR) from error
    if version is not None:
        return _version_scorer(runtime, version, lang)
    logging.getLogger("leadscore.runtime").setLevel(logging.ERROR)  # the line below says it
    runtime.try_reload()
    if runtime.scorer is None:  # perhaps only a tabular champion: that one reads an export
        hint = (
            "; a one-row-per-lead export is scored by the tabular champion: add --mapping FILE "
            "or --label COLUMN"
            if runtime.tabular is not None
            else ""
        )
        why = str(runtime.last_error).removeprefix("RegistryError: ")
        err_console.print(f"[red]No CRM model to score with:[/red] {why}{hint}")
        raise typer.Exit(code=1)
    if lang:
        runtime.scorer.lang = lang  # type: ignore[assignment]
    return runtime.scorer


def _version_scorer(runtime: Runtime, version: str, lang: str | None) -> Scorer:
    """A registered version that need not be the champion, with the routing and audit log the
    champion would have."""
    from serving.scorer import ModelRef, Scorer
    from training import registry
    from training.model import ModelMismatchError

    settings = runtime.settings
    client = registry.client_for(settings)
    try:
        client.get_model_version(registry.MODEL_NAME, version)
    except Exception as error:
        known = ", ".join(v.version for v in registry.list_versions(settings)) or "none"
        err_console.print(
            f"[red]{registry.MODEL_NAME} has no version {version!r}[/red] (versions: {known})"
        )
        raise typer.Exit(code=1) from error
    try:
        model = registry.load_version(settings, version)
    except (registry.RegistryError, ModelMismatchError) as error:
        err_console.print(f"[red]Version {version} cannot score:[/red] {error}")
        raise typer.Exit(code=1) from error
    champion = registry.version_by_alias(client, registry.CHAMPION, registry.MODEL_NAME)
    if champion is None or str(champion.version) != str(version):
        now = f"version {champion.version}" if champion is not None else "none yet"
        err_console.print(f"Scoring with version {version}, not the champion ({now}).")
    ref = ModelRef(registry.MODEL_NAME, version)
    return Scorer(model, ref, runtime.routing, runtime.audit, lang or settings.language)


def _tables(data: str) -> CRMTables:
    from features.loaders import ContractError, load_tables

    try:
        return load_tables(data)
    except ContractError as error:
        err_console.print(str(error))
        raise typer.Exit(code=1) from error


def _no_version_for_tables(version: str | None) -> None:
    if version is not None:
        err_console.print(
            "[red]--version picks a version of the CRM model; the tabular champion scores an "
            "export (leadscore models --promote V changes it)[/red]"
        )
        raise typer.Exit(code=INPUT_ERROR)


def _moment(as_of: str | None) -> pd.Timestamp | None:
    if as_of is None:
        return None
    return parse_moment(as_of)


def _quiet_export_note(tables: CRMTables, as_of: str | None) -> None:
    """Scored at now, an export pulled weeks ago makes every lead look idle since: its recency
    features fall and its scores with them. Say so once, with the --as-of that fits the file."""
    import pandas as pd

    from serving.runtime import QUIET_DAYS

    newest = tables.activities["occurred_at"].max()
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    if as_of is not None or pd.isna(newest) or now - newest < pd.Timedelta(QUIET_DAYS, "D"):
        return
    after = (newest + pd.Timedelta(1, "D")).normalize()
    err_console.print(
        f"[yellow]The newest activity in this CRM is from {newest:%d %b %Y}, "
        f"{(now.normalize() - newest.normalize()).days} days ago: scored now, every lead has "
        f"been quiet since. For an older export, pass --as-of {after:%Y-%m-%d}.[/yellow]"
    )


def score(
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA", help="CRM folder, database URL, or one export file in tabular mode."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Where to write scores (.parquet/.csv).", callback=out_file),
    ],
    as_of: AsOfOpt = None,
    lang: LangOpt = None,
    version: VersionOpt = None,
    show_top: Annotated[
        int, typer.Option("--show-top", help="Also print the lead cards of the N best leads.")
    ] = 0,
    mapping: MappingOpt = None,
    label: LabelOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    include_closed: Annotated[
        bool,
        typer.Option(
            "--include-closed",
            help="Also score leads that had bought, or lost their last deal, by --as-of (as "
            "in training, a lead whose last deal was lost counts as closed); in tabular mode, "
            "rows whose label says they converted.",
        ),
    ] = False,
) -> None:
    """Score every open lead with the champion: probability, grade, route, reasons, handover
    note."""

    if is_tabular(label, mapping):
        _no_version_for_tables(version)
        scorer, table = _open_export(data, label, mapping, time_column, id_column, as_of, lang)
        source = Path(data).name
        converted = 0
        if not include_closed:
            table, converted = _without_converted(scorer, table, source)
        with err_console.status(f"Scoring {len(table.frame):,} rows"):
            frame = _score_rows(scorer, table, lang, source)
        write_frame(frame, out)
        console.print(routes_table(frame, f"rows scored with tabular model v{scorer.version}"))
        if converted:
            console.print(
                f"{converted:,} row(s) whose label says they converted already left out: there "
                "is nothing to route (--include-closed scores them too)."
            )
        console.print(f"Wrote {out}")
        best = frame[frame["consent_profiling"]].nlargest(show_top, "probability")
        for _, row in best.iterrows():
            console.print(table_card(scorer, table, row["lead_id"], lang, row))
        return

    import pandas as pd

    from serving.scorer import results_from_frame

    scorer = _scorer(lang, version)
    tables = _tables(data)
    moment = _moment(as_of)
    _quiet_export_note(tables, as_of)
    with err_console.status(f"Scoring {len(tables.leads):,} leads"):
        scored = scorer.score_table(tables, moment, lang, include_closed)
    frame = readable_scores(scored)
    write_frame(frame, out)
    console.print(routes_table(frame, f"leads scored with model v{scorer.ref.version}"))
    to_sales = int((frame["action"] == "sales").sum())
    if to_sales:  # read beside `thresholds`, whose numbers are per week
        console.print(
            f"{to_sales:,} to sales from every open lead at once (the whole open pool, not one "
            "week's hand-overs; leadscore thresholds DATA says both)."
        )
    when = moment if moment is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    said = f"{when:%Y-%m-%d %H:%M}" + ("" if moment is not None else " UTC")
    existing = tables.leads.loc[tables.leads["created_at"] <= when, "lead_id"].nunique()
    later = tables.leads["lead_id"].nunique() - existing
    if later > 0:
        console.print(f"{later:,} lead(s) created after {said} left out: they did not exist yet.")
    closed = existing - len(frame)
    if closed > 0:
        console.print(
            f"{closed:,} lead(s) that had bought or lost their last deal by {said} left out: "
            "there is nothing to route (--include-closed scores them too)."
        )
    console.print(f"Wrote {out}")
    best = scored[scored["consent_profiling"]].nlargest(show_top, "probability")
    for result in results_from_frame(best):
        console.print(lead_card(result, tables, [result.lead_id], lang or scorer.lang))


def routes_table(frame: pd.DataFrame, what: str) -> Table:
    """How many leads each route got."""
    summary = Table(title=f"{len(frame):,} {what}")
    summary.add_column("route")
    summary.add_column("leads", justify="right")
    for action, count in frame["action"].value_counts().items():
        summary.add_row(str(action), f"{count:,}")
    return summary


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
    frame["score"] = frame["score"].astype("Int64")  # 64, not 64.0; empty without consent
    return frame


def _tabular_scorer(lang: str | None) -> TabularScorer:
    from leadscore.settings import Settings
    from serving.tabular import TabularScorer
    from training.model import ModelMismatchError
    from training.registry import RegistryError

    try:
        return TabularScorer.load(Settings(), lang)  # type: ignore[arg-type]
    except (RegistryError, ModelMismatchError) as error:
        err_console.print(f"[red]No tabular model to score with:[/red] {error}")
        raise typer.Exit(code=1) from error


def _open_export(
    data: str,
    label: str | None,
    mapping: Path | None,
    time_column: str | None,
    id_column: str | None,
    as_of: str | None,
    lang: str | None,
) -> tuple[TabularScorer, TabularData]:
    """The tabular champion and the export of new leads, read as the champion learnt it."""
    if as_of is not None:
        raise typer.BadParameter("--as-of is for a CRM's events; an export's rows are as given")
    scorer = _tabular_scorer(lang)
    if mapping is None and id_column is None:
        id_column = _champions_id(scorer, data)
    table = open_table(data, label, mapping, time_column, id_column, True, scorer.model.categories)
    return scorer, table


def _without_converted(
    scorer: TabularScorer, table: TabularData, source: str
) -> tuple[TabularData, int]:
    """The export without the rows its label column marks as converted (an export of every
    lead: 953 of 995 X Education rows sent to sales had bought already), and their count.
    Its cells are checked first, so that a bad one is named by its row in the file."""
    from training.tabular import model_inputs

    converted = set(table.frame.attrs.get("converted", ()))
    if not converted:
        return table, 0
    _named_problems(lambda: model_inputs(scorer.model, table, source))
    keep = ~table.frame["lead_id"].isin(converted).to_numpy(dtype=bool)
    frame = table.frame.loc[keep].reset_index(drop=True)
    frame.attrs = dict(table.frame.attrs)
    return dataclasses.replace(table, frame=frame), int((~keep).sum())


def _champions_id(scorer: TabularScorer, data: str) -> str | None:
    """The id column the champion's plain export had (``--id`` at training), when this file
    has it too: scores that can be joined back to the CRM without repeating ``--id``."""
    from features.loaders import export_columns
    from training.tabular import mapping_of

    mapping = mapping_of(scorer.model)
    if mapping:  # trained through a mapping, scored without one: its id, as the export names it
        renamed = {new: old for old, new in (mapping.get("rename") or {}).items()}
        column = renamed.get(mapping.get("id"), mapping.get("id"))
    else:
        column = (scorer.model.params.get("reading") or {}).get("id")
    if column and column in export_columns(data):
        err_console.print(f"Ids from column {column!r}, as the champion was trained.")
        return column
    return None


def _score_rows(
    scorer: TabularScorer, table: TabularData, lang: str | None, source: str
) -> pd.DataFrame:
    """The table scored, or what is wrong with it named (columns, or row and column), exit 2."""
    return _named_problems(lambda: scorer.score_table(table, lang, source))  # type: ignore[arg-type]


def _named_problems(read: Callable[[], T]) -> T:
    """``read()``, or the columns, rows and cells it could not read printed, exit 2."""
    from features.loaders import ContractError
    from serving.tabular import MissingColumnsError

    try:
        return read()
    except (MissingColumnsError, ContractError) as error:
        err_console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(code=2) from error


def table_card(
    scorer: TabularScorer,
    table: TabularData,
    lead_id: str,
    lang: str | None,
    scored: pd.Series | None = None,
    source: str = "the table",
) -> Panel:
    """The lead card of one row of an export: score, route, reasons and the row's values.

    ``scored``: the row's line of :meth:`TabularScorer.score_table`, if it was scored already
    (else it is scored, and audited, now)."""
    import pandas as pd
    from rich.console import Group

    from features.texts import number_text

    rows = table.frame.index[table.frame["lead_id"].astype(str) == lead_id]
    one = dataclasses.replace(table, frame=table.frame.loc[rows[-1:]].reset_index(drop=True))
    one.frame.attrs = dict(table.frame.attrs)
    if scored is None:
        scored = _score_rows(scorer, one, lang, source).iloc[0]
    w = _words(lang or scorer.lang)
    head = Table.grid(padding=(0, 2))
    head.add_row(w["lead"], lead_id)
    if pd.isna(scored["probability"]):
        head.add_row(w["score"], w["no_score"])
    else:
        head.add_row(
            w["score"],
            f"[bold]{scored['score']}[/bold] ({scored['grade']}), "
            f"p = {number_text(scored['probability'], lang or scorer.lang, '.3f')}",
        )
    where = next((str(v) for v in (scored["team"], scored["track"]) if pd.notna(v) and v), "")
    action = w.get(scored["action"], scored["action"])
    head.add_row(w["route"], f"{action} {where}  [dim]{scored['why']}[/dim]")
    head.add_row(w["model"], f"{scorer.name} v{scorer.version}")
    reasons = Table(show_header=True, header_style="bold", expand=True)
    reasons.add_column(w["reason"], ratio=5)
    reasons.add_column(w["impact"], justify="right", ratio=1)
    k = 1
    while f"reason_{k}_text" in scored and pd.notna(scored[f"reason_{k}_text"]):
        contribution = float(scored[f"reason_{k}_contribution"])
        colour = "green" if contribution > 0 else "red"
        reasons.add_row(
            scored[f"reason_{k}_text"],
            f"[{colour}]{number_text(contribution, lang or scorer.lang, '+.2f')}[/{colour}]",
        )
        k += 1
    features = scorer.features(one, source)
    values = Table(show_header=False, box=None)
    language = lang or scorer.lang
    for column in scorer.model.columns:
        value = features[column].iloc[0]
        values.add_row(scorer.column_text(column, None if pd.isna(value) else value, language))
    return Panel(
        Group(head, "", reasons, "", f"[bold]{w['row_says']}[/bold]", values),
        title="leadscore lead card (tabular)",
    )


def explain(
    lead_id: Annotated[str, typer.Argument(help="The lead to explain.", metavar="LEAD_ID")],
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA", help="CRM folder, database URL, or one export file in tabular mode."
        ),
    ],
    as_of: AsOfOpt = None,
    lang: LangOpt = None,
    version: VersionOpt = None,
    mapping: MappingOpt = None,
    label: LabelOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
) -> None:
    """One lead's card: score, grade, route, reasons, quality flags and its last actions."""
    from features.pipeline import person_of

    if is_tabular(label, mapping):
        _no_version_for_tables(version)
        scorer, table = _open_export(data, label, mapping, time_column, id_column, as_of, lang)
        if lead_id not in set(table.frame["lead_id"].astype(str)):
            hint = "" if id_column or mapping else " (without --id, rows are called row-1, ...)"
            err_console.print(f"[red]lead_id {lead_id!r} is not in {data}{hint}[/red]")
            raise typer.Exit(code=1)
        console.print(table_card(scorer, table, lead_id, lang, source=Path(data).name))
        return
    scorer = _scorer(lang, version)
    tables = _tables(data)
    if lead_id not in set(tables.leads["lead_id"]):
        ids = tables.leads["lead_id"].tolist()
        close = [i for i in ids if i.casefold() == lead_id.casefold()]
        if not close and len(ids) <= 50_000:  # difflib reads every id
            close = difflib.get_close_matches(lead_id, ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        err_console.print(f"[red]lead_id {lead_id!r} is not in {data}{hint}[/red]")
        raise typer.Exit(code=1)
    leads = tables.leads.drop_duplicates("lead_id").set_index("lead_id", drop=False)
    person = person_of(leads, scorer.model.feature_config)
    group = list(person.index[person == person[lead_id]])
    moment = _moment(as_of)
    _quiet_export_note(tables, as_of)
    created = leads.at[lead_id, "created_at"]
    if moment is not None and not created <= moment:  # batch scoring leaves such leads out too
        err_console.print(
            f"[red]lead_id {lead_id!r} was created on {created:%Y-%m-%d %H:%M}, after --as-of "
            f"{moment:%Y-%m-%d %H:%M}: there was no lead to score yet[/red]"
        )
        raise typer.Exit(code=1)
    result = scorer.score(tables.for_leads(group), lead_ids=[lead_id], as_of=moment)[0]
    console.print(lead_card(result, tables, group, lang or scorer.lang))


def lead_card(result: ScoreResult, tables: CRMTables, group: list[str], lang: str = "en") -> Panel:
    """The terminal card sales and data scientists look at."""
    from features.texts import event_phrase, format_date, number_text
    from serving.scorer import closed_text

    lead = tables.leads.set_index("lead_id").loc[result.lead_id]
    name = " ".join(
        str(lead.get(k)) for k in ("first_name", "last_name") if isinstance(lead.get(k), str)
    )
    w = _words(lang)
    head = Table.grid(padding=(0, 2))
    head.add_row(w["lead"], f"{result.lead_id}  {name}  {lead.get('company') or ''}")
    if result.score is None:
        head.add_row(w["score"], w["no_score"])
    else:
        head.add_row(
            w["score"],
            f"[bold]{result.score}[/bold] ({result.grade}), "
            f"p = {number_text(result.probability, lang or 'en', '.3f')}",
        )
    route = result.route
    action = w.get(route.action, route.action)
    head.add_row(w["route"], f"{action} {route.team or route.track or ''}  [dim]{route.why}[/dim]")
    closed = closed_text(tables, result.lead_id, result.as_of, lang)  # type: ignore[arg-type]
    if closed is not None:
        head.add_row(w["closed"], f"[yellow]{closed}[/yellow]")
    others = [lead_id for lead_id in group if lead_id != result.lead_id]
    if others:  # the card cites their actions: sales would not find them on this record
        head.add_row(w["same_person"], f"{', '.join(others)}: {w['counts_too']}")
    head.add_row(
        w["model"],
        f"{result.model.name} v{result.model.version}, {w['as_of']} "
        f"{_moment_text(result.as_of, lang or 'en')}",
    )
    reasons = Table(show_header=True, header_style="bold", expand=True)
    reasons.add_column(w["reason"], ratio=5)
    reasons.add_column(w["impact"], justify="right", ratio=1)
    for reason in result.reasons:
        colour = "green" if reason.contribution > 0 else "red"
        reasons.add_row(
            reason.text,
            f"[{colour}]{number_text(reason.contribution, lang or 'en', '+.2f')}[/{colour}]",
        )
    from features.contract import naive_moment
    from features.registry import OUTBOUND

    activities = tables.activities
    own = ~activities["activity_type"].isin(OUTBOUND)  # what the lead did, not what we sent
    actions = activities[activities["lead_id"].isin(group) & own]
    before = actions["occurred_at"] < naive_moment(result.as_of)
    actions = actions[before].sort_values("occurred_at").tail(8)
    last = Table(show_header=False, box=None)
    for row in actions.itertuples():
        record = f" ({row.lead_id})" if row.lead_id != result.lead_id else ""
        last.add_row(
            format_date(row.occurred_at, lang),
            event_phrase(row.activity_type, row.asset, lang) + record,
        )
    flags = "\n".join(f"- {f.text}" for f in result.quality_flags) or w["none"]
    from rich.console import Group

    return Panel(
        Group(
            head,
            "",
            *([reasons, ""] if result.reasons else []),
            f"[bold]{w['last_actions']}[/bold]",
            last,
            "",
            f"[bold]{w['quality_flags']}[/bold]\n{flags}",
            "",
            f"[bold]{w['handover_note']}[/bold]\n{result.handover_note}",
        ),
        title="leadscore lead card",
    )


def serve(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Start the BentoML HTTP service (POST /score, /score_batch, /score_rows; GET /model)."""
    from leadscore.settings import Settings
    from serving.routing import load_routing

    settings = Settings()
    try:
        load_routing(settings.routing_file)  # a mistake there stops every worker at start
    except ValueError as error:
        err_console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(code=INPUT_ERROR) from error
    if not settings.token_set():
        err_console.print(
            "[yellow]LEADSCORE_API_TOKENS is empty: every scoring request will get 401.[/yellow]"
        )
    token = next(iter(settings.token_set()), "<token>")
    console.print(
        f"Example:\n  curl -s -X POST http://{host}:{port}/score "
        f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        '-d \'{"lead": {"lead_id": "L-1", "created_at": "2026-11-01T09:00:00", '
        '"email": "anna.berg@berg-maschinenbau.de", "job_title": "Head of Marketing", '
        '"country": "Germany"}, "activities": '
        '[{"occurred_at": "2026-11-20T10:00:00", "activity_type": "pricing_page_view"}]}\'',
        soft_wrap=True,
        markup=False,
    )
    tabular = _tabular_hint(settings)
    if tabular:
        console.print(tabular, soft_wrap=True, markup=False)
    root = Path(__file__).resolve().parents[1]
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScore",
        "--port", str(port), "--host", host, "--working-dir", str(root),
    ]  # fmt: skip
    sys.stdout.flush()
    # the server takes this process's place: a supervisor's SIGTERM reaches it, not a parent
    # that would exit and leave the workers serving on the port
    os.execv(sys.executable, command)


def _tabular_hint(settings: Settings) -> str | None:
    """What /score_rows expects, when the registry holds a tabular champion."""
    from training.registry import load_champion
    from training.tabular import TABULAR_MODEL_NAME, row_columns

    try:
        model, info = load_champion(settings, name=TABULAR_MODEL_NAME)
    except Exception:  # no tabular champion (or none that loads): /score_rows answers 503
        return None
    if not model.params.get("reading"):
        return None  # trained before models kept how to read rows: /score_rows refuses it
    id_column = row_columns(model)[0][0]
    return (
        f"Tabular model v{info.version}: POST /score_rows with "
        f'{{"rows": [{{"{id_column}": "...", <the export\'s other columns>}}]}}, one object per '
        "lead, cells as the export holds them."
    )


def audit(
    lead_id: Annotated[
        str, typer.Argument(help="The lead whose scores to show.", metavar="LEAD_ID")
    ],
    erase: Annotated[
        bool,
        typer.Option(
            "--erase", help="Erase every score of this lead (a person who asks to be forgotten)."
        ),
    ] = False,
) -> None:
    """Every score this lead was given, with model version, route and reasons."""
    from leadscore.settings import Settings
    from serving.audit import AuditLog

    log = AuditLog(Settings().audit_url())
    if erase:
        removed = log.erase(lead_id)
        if removed == 0:
            console.print(
                f"[yellow]No score of {lead_id!r} is on record: nothing was erased.[/yellow] "
                "Check the id (`leadscore audit ID` lists a lead's scores).",
                soft_wrap=True,
            )
            return
        console.print(
            f"Erased {removed} score record(s) of {lead_id!r} from the audit log, with their "
            "reasons, features and handover notes. The model store keeps no lead's data (the "
            "example stored with a model is made of typical values). Still to erase: the lead "
            "in the CRM, and any record of the same person (its duplicates share its history "
            "and have scores of their own: erase their ids too); files written with "
            "`score --out` or `features --out`. A model trained before learnt from the lead "
            "only in aggregate; the next training will not see it.",
            soft_wrap=True,
        )
        return
    history = log.history(lead_id)
    if history.empty:
        console.print(f"No scores recorded for {lead_id!r}.")
        return
    names = set(history["model_name"])
    model = next(iter(names)) if len(names) == 1 else None
    table = Table(
        title=f"Scores given to {lead_id}" + (f" by {model}" if model else ""), show_lines=True
    )
    for column in ("scored at / as of", "model", "score", "request"):
        table.add_column(column, no_wrap=True)
    table.add_column("route and top reasons", ratio=1, min_width=24)
    for row in history.itertuples():
        scored = "-" if row.score is None or row.score != row.score else str(int(row.score))
        where = row.route.get("team") or row.route.get("track") or ""
        reasons = "\n".join(f"[dim]{escape(r['text'])}[/dim]" for r in row.reasons[:3])
        as_of = str(row.features.get("as_of") or "-")[:16].replace("T", " ")
        table.add_row(
            f"{str(row.scored_at)[:16]}\n[dim]as of {as_of}[/dim]",
            f"v{row.model_version}" if model else f"{row.model_name} v{row.model_version}",
            f"{scored} {row.grade or ''}".strip(),
            row.request_id[:8],
            f"{row.action} {escape(where)}".strip() + (f"\n{reasons}" if reasons else ""),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(explain)
    app.command()(serve)
    app.command()(audit)
