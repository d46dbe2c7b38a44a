"""``leadscore audit-data``: the leakage audit of a one-row-per-lead export, as a report.

Kept out of ``cli.py`` (like the training and serving commands) so scikit-learn is imported only
when the command runs; ``cli.py`` calls :func:`register` at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

    from features.contract import TabularData
    from training.leakage import LeakageReport

console = Console()
err_console = Console(stderr=True)
INPUT_ERROR = 2


# Tabular mode: the same options on every command that takes DATA (architecture doc).
LabelOpt = Annotated[
    str | None, typer.Option("--label", help="Tabular mode: the column that holds the label.")
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="Tabular mode: a column-mapping YAML (see examples/)."),
]
TimeOpt = Annotated[
    str | None, typer.Option("--time", help="Tabular mode: the column with the lead's date.")
]
IdOpt = Annotated[
    str | None, typer.Option("--id", help="Tabular mode: the column with the lead id.")
]
NewLeadsOpt = Annotated[
    bool,
    typer.Option("--new-leads", help="Tabular mode: new leads, whose label column may be missing."),
]


# What --out writes, by the file's suffix (any case); pandas compresses .gz by itself.
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def out_file(out: Path | None) -> Path | None:
    """``--out``, checked before any work (a score is audited before its file is written): a
    file, not a folder, with a suffix that says CSV or Parquet."""
    if out is None:
        return None
    if out.is_dir():
        raise typer.BadParameter(f"{out} is a folder; give a file such as {out / 'scores.csv'}")
    if not out.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        raise typer.BadParameter(f"{out.name}: write .csv, .csv.gz or .parquet")
    return out


def write_frame(frame: pd.DataFrame, out: Path) -> None:
    """A result file: CSV or Parquet by its suffix (:func:`out_file`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.name.lower().endswith(CSV_SUFFIXES):
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def language(value: str | None) -> str | None:
    """``--lang``: reasons and notes are written in English and German."""
    if value is not None and value not in ("en", "de"):
        raise typer.BadParameter(f"{value!r}: reasons and notes are written in en or de")
    return value


def parse_moment(as_of: str) -> pd.Timestamp:
    """``--as-of`` in ISO 8601 (or ``now``, ``today``: this moment): "02.01.2018" is 2 January to
    a German reader and 1 February to pandas."""
    import pandas as pd

    from features.contract import EARLIEST, LATEST, MOMENT_RANGE

    if as_of.strip().lower() in ("now", "today"):  # in UTC, as the data and the default are
        return pd.Timestamp.now(tz="UTC").tz_localize(None)
    try:
        moment = pd.to_datetime(as_of.strip() or "empty", format="ISO8601")
    except pd.errors.OutOfBoundsDatetime as error:
        raise typer.BadParameter(f"--as-of {as_of!r} is outside {MOMENT_RANGE}") from error
    except (ValueError, TypeError) as error:
        raise typer.BadParameter(
            f"--as-of {as_of!r} is not an ISO 8601 date (e.g. 2026-06-01 or 2026-06-01T09:00)"
        ) from error
    if moment.tzinfo is not None:  # the CRM's timestamps are read as naive UTC
        moment = moment.tz_convert("UTC").tz_localize(None)
    if not EARLIEST <= moment <= LATEST:  # ages in nanoseconds would wrap around
        raise typer.BadParameter(f"--as-of {as_of!r} is outside {MOMENT_RANGE}")
    if moment > pd.Timestamp.now(tz="UTC").tz_localize(None):  # as the HTTP as_of
        raise typer.BadParameter(
            f"--as-of {as_of!r} is in the future: a score is taken at a past moment (or now); "
            "every lead would read as quiet since its last action"
        )
    return moment


def is_tabular(label: str | None, mapping: Path | None) -> bool:
    """``--label`` or ``--mapping`` switch a command to tabular mode."""
    return bool(label or mapping)


def mapping_owns(mapping: Path | None, id_column: str | None, time_column: str | None) -> None:
    """A mapping declares the id and the time: an option beside it would be ignored."""
    if mapping is None:
        return
    if id_column:
        raise typer.BadParameter("--id: the mapping declares the id (its id key)")
    if time_column:
        raise typer.BadParameter("--time: the mapping declares the time (its time section)")


def load_table(
    data: str,
    label: str | None,
    mapping: Path | None,
    time_column: str | None,
    id_column: str | None = None,
    without_label: bool = False,
    categorical: Iterable[str] = (),
) -> TabularData:
    """The export as tabular data (:func:`training.tabular.read_table`), after the checks of
    what the command line may combine.

    ``without_label``: new leads to score, whose label column may be missing.
    ``categorical``: columns to keep as text (the model's categories, when scoring).
    """
    from training.tabular import read_table

    mapping_owns(mapping, id_column, time_column)
    if mapping is None and not label:
        raise typer.BadParameter("give --label COLUMN, or a --mapping that declares the label")
    table = read_table(data, label, id_column, time_column, mapping, without_label, categorical)
    if mapping is not None and label and label != table.label:
        raise typer.BadParameter(
            f"--label {label!r} but the mapping's label is {table.label!r}; drop --label"
        )
    return table


def open_table(
    data: str,
    label: str | None,
    mapping: Path | None,
    time_column: str | None = None,
    id_column: str | None = None,
    without_label: bool = False,
    categorical: Iterable[str] = (),
) -> TabularData:
    """:func:`load_table`, or every problem printed (file, row, column or YAML key) and exit 2."""
    from features.loaders import ContractError
    from features.mapping import MappingError

    try:
        return load_table(data, label, mapping, time_column, id_column, without_label, categorical)
    except (ContractError, MappingError) as error:
        err_console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(code=INPUT_ERROR) from error


def findings_table(report: LeakageReport, title: str, allow: set[str]) -> Table:
    """Leaks first, then what is only watched; one row per finding."""
    table = Table(title=title, show_lines=True, caption_justify="left")
    if report.single_column_auc:
        where = "the newest rows" if report.time_column else "held-out rows"
        table.caption = (
            f"AUC alone: the column by itself on {where}, its label rates learnt on the others; "
            "0.5 is no signal; below 0.5 it ranks them backwards (as a column that marks the "
            "period can, once the period changes)."
        )
    table.add_column("column", overflow="fold", max_width=22)
    table.add_column("finding", no_wrap=True)
    table.add_column("reason", ratio=1, min_width=24)
    order = {"leak": 0, "watch": 1}
    for finding in sorted(report.findings, key=lambda f: order[f.severity]):
        severity = finding.severity
        if severity == "leak" and finding.column in allow:
            severity_text = "[yellow]leak (allowed)[/yellow]"
        else:
            severity_text = "[red]leak[/red]" if severity == "leak" else "[cyan]watch[/cyan]"
        auc = report.single_column_auc.get(finding.column, float("nan"))
        alone = "" if auc != auc else f"\n[dim]AUC alone {auc:.3f}[/dim]"
        table.add_row(
            escape(finding.column),
            f"{finding.kind}\n{severity_text}{alone}",
            escape(finding.reason),
        )
    return table


def audit_data(
    data: Annotated[
        str, typer.Argument(metavar="DATA", help="A single export file (CSV, .csv.gz, Parquet).")
    ],
    label: Annotated[
        str | None,
        typer.Option("--label", help="The label column (optional with a --mapping)."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Column mapping (YAML), e.g. examples/x-education.yaml."),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="The lead's date: held-out rows are the newest, later dates are flagged.",
        ),
    ] = None,
    id_column: IdOpt = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="A flagged column you decided to keep (repeatable)."),
    ] = None,
    fail_on_findings: Annotated[
        bool,
        typer.Option("--fail-on-findings", help="Exit 1 if any column is flagged (for CI)."),
    ] = False,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Also write the findings to this CSV file.")
    ] = None,
) -> None:
    """Leakage audit: post-outcome, too-good-to-be-true, id-like and future-date columns."""
    from training.leakage import audit_columns
    from training.tabular import consenting

    table, _ = consenting(open_table(data, label, mapping, time_column, id_column))  # as train
    with err_console.status(
        f"Auditing {table.frame.shape[1]} columns of {len(table.frame):,} rows"
    ):
        report = audit_columns(table.frame, table.label, table.time_column)
    allowed = set(allow or [])
    refused = [c for c in report.flagged if c not in allowed]
    title = (
        f"Leakage audit of {Path(data).name}: {len(report.audited)} columns, "
        f"label {report.label!r}"
        + (f", time {report.time_column!r}" if report.time_column else ", no time column")
    )
    if report.findings:
        console.print(findings_table(report, title, allowed))
    else:
        console.print(f"{title}: [green]nothing found[/green].")
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report.to_frame().to_csv(report_file, index=False)
    if refused:
        console.print(
            f"[red]{len(refused)} flagged[/red] (refused by training unless allowed with "
            f"--allow): {', '.join(refused)}"
        )
    else:
        console.print("[green]No column is refused.[/green]")
    if report.watched:
        console.print(f"Watch (kept, worth a look): {', '.join(report.watched)}")
    if fail_on_findings and refused:
        raise typer.Exit(code=1)


def nurture(
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA", help="A CRM folder (leads/activities/outcomes) or a database URL."
        ),
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count only events and deals strictly before this moment."),
    ] = None,
    min_sent: Annotated[
        int, typer.Option("--min-sent", min=1, help="Leave out emails sent to fewer leads.")
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the table here (.csv/.parquet).", callback=out_file),
    ] = None,
) -> None:
    """Nurture emails compared: position in the track, opens, clicks, what clicks led to, deals."""
    import pandas as pd

    from features.loaders import ContractError, load_tables
    from features.nurture import default_as_of, nurture_table, won_share
    from features.texts import label_text

    moment = parse_moment(as_of) if as_of is not None else None
    try:
        tables = load_tables(data)
    except ContractError as error:
        err_console.print(str(error), markup=False)
        raise typer.Exit(code=1) from error
    moment = moment if moment is not None else default_as_of(tables)
    frame = nurture_table(tables, moment)
    frame = frame.loc[frame["sent"] >= min_sent].reset_index(drop=True)
    if out is not None:
        write_frame(frame, out)
    if frame.empty:
        console.print(f"No email sent to {min_sent}+ leads in {data}.")
        return
    table = Table(title=f"{len(frame)} emails in {data} before {moment:%Y-%m-%d %H:%M}")
    # 80 columns: short headers, numbers whole, the subject and the next action wrap by word
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("email", ratio=3)
    for name in ("sent", "opened", "clicked"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("clicks led to", ratio=2)
    table.add_column("won", justify="right", no_wrap=True)  # a share, as the rates
    tracks = _track_names()
    shown: object = ""
    for row in frame.itertuples():
        if row.track != shown:  # one section per track, the newsletter and one-offs last
            shown = row.track
            name = "no track" if row.track is None else tracks.get(row.track, label_text(row.track))
            table.add_section()
            table.add_row("", f"[bold]{name}[/bold]")
        table.add_row(
            "" if pd.isna(row.position) else str(row.position),
            row.email or "(no subject)",
            f"{row.sent:,}",
            f"{row.open_rate:.0%}",
            f"{row.click_rate:.1%}",
            row.clicks_led_to,
            f"{row.conversion:.1%}",
        )
    console.print(table)
    base = won_share(tables, moment)
    console.print(
        f"Rates are shares of the leads each email was sent to; 'won' counts deals won after it "
        f"was sent (descriptive, not causal; recent emails have had less time). Of all leads "
        f"created by then, {base:.1%} won."
    )
    if out is not None:
        console.print(f"Wrote {len(frame)} rows to {out}")


def _track_names() -> dict[str, str]:
    """Topic -> the nurture track's name in the routing file ("CRM Integration"); none if the
    file cannot be read (the nurture table does not depend on it)."""
    from leadscore.settings import Settings
    from serving.routing import load_routing

    try:
        return dict(load_routing(Settings().routing_file).tracks)
    except ValueError:
        return {}


def register(app: typer.Typer) -> None:
    """Add the data commands to the ``leadscore`` app."""
    app.command("audit-data")(audit_data)
    app.command("nurture")(nurture)
