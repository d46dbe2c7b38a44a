"""The ``leadscore`` command line: one command per stage, names fixed by the architecture doc."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from leadscore.data_commands import (
    IdOpt,
    LabelOpt,
    MappingOpt,
    NewLeadsOpt,
    TimeOpt,
    is_tabular,
    language,
    mapping_owns,
    open_table,
    out_file,
    parse_moment,
    write_frame,
)

if TYPE_CHECKING:
    import pandas as pd

    from features.contract import TabularData
    from features.loaders import Problem

app = typer.Typer(
    help="Predictive lead scoring that explains every score in the lead's own actions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

DataArg = Annotated[
    str,
    typer.Argument(
        metavar="DATA",
        help="A folder with leads/activities/outcomes (CSV or Parquet), a single export file "
        "(tabular mode, with --label), or a database URL.",
    ),
]


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the demo CRM into.")],
    leads: Annotated[int, typer.Option("--leads", min=100, help="Number of leads.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same data.")] = 0,
    fmt: Annotated[
        Literal["parquet", "csv"], typer.Option("--format", help="File format.")
    ] = "parquet",
) -> None:
    """Write a realistic demo CRM (leads, activities, outcomes) and its hidden ground truth."""
    from features.demo import write_demo_crm

    with _progress() as progress:
        task = progress.add_task("Generating leads", total=leads)
        summary = write_demo_crm(
            out,
            n_leads=leads,
            seed=seed,
            fmt=fmt,
            progress=lambda n: progress.update(task, completed=n),
        )
    table = Table(title=f"Demo CRM in {out}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("leads", f"{summary.n_leads:,}")
    table.add_row("activities", f"{summary.n_activities:,}")
    table.add_row("outcomes", f"{summary.n_outcomes:,}")
    table.add_row("won", f"{summary.n_won:,}")
    console.print(table)


@app.command()
def validate(
    data: DataArg,
    label: LabelOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    mapping: MappingOpt = None,
    new_leads: NewLeadsOpt = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write every problem to this CSV file.")
    ] = None,
    show: Annotated[int, typer.Option("--show", help="How many problems to print.")] = 50,
) -> None:
    """Check DATA against the data contract; every problem names table, row and column."""
    from features.loaders import read_crm, read_tabular, write_csv_problems

    labelled = "new leads, no label read" if new_leads else "label {!r}"
    mapping_owns(mapping, id_column, time_column)
    if mapping is not None:
        tabular, problems = _mapped(data, mapping, new_leads)
        summary = (
            f"{len(tabular.frame):,} rows, {labelled.format(tabular.label)}" if tabular else ""
        )
    elif label:
        tabular, problems = read_tabular(data, label, id_column, time_column, new_leads)
        rows = len(tabular.frame) if tabular else 0
        summary = f"{rows:,} rows, {labelled.format(label)}"
    else:
        tables, problems = read_crm(data)
        summary = (
            f"{len(tables.leads):,} leads, {len(tables.activities):,} activities, "
            f"{len(tables.outcomes):,} outcomes"
            if tables
            else ""
        )
    if report:
        write_csv_problems(problems, report)
    if not problems:
        console.print(f"[green]OK[/green] {data}: {summary}, no problems.")
        return
    table = Table(title=f"{len(problems):,} problem(s) in {data}")
    for column in ("table", "row", "column", "problem"):
        table.add_column(column, overflow="fold")
    for problem in problems[:show]:
        row = "" if problem.row is None else str(problem.row)
        table.add_row(problem.table, row, problem.column or "", problem.message)
    console.print(table)
    if len(problems) > show:
        console.print(f"... {len(problems) - show:,} more (use --show or --report FILE).")
    raise typer.Exit(code=1)


def _mapped(
    data: str, mapping: Path, new_leads: bool = False
) -> tuple[TabularData | None, list[Problem]]:
    """The export through its mapping, or every problem: the data's name file, row and column,
    the mapping's name the YAML key to fix."""
    from features.loaders import ContractError, Problem
    from features.mapping import MappingError, apply_mapping

    try:
        return apply_mapping(data, mapping, without_label=new_leads), []
    except ContractError as error:
        return None, error.problems
    except MappingError as error:
        return None, [Problem(error.source, message) for message in error.problems]


@app.command()
def features(
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA", help="CRM folder, database URL, or one export file in tabular mode."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Scoring moment; only events strictly before it count (tabular: only rows "
            "created before it).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the feature table here (.parquet/.csv).", callback=out_file
        ),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print the feature registry.")] = False,
    lang: Annotated[
        str,
        typer.Option("--lang", help="Language of the reason texts: en or de.", callback=language),
    ] = "en",
    label: LabelOpt = None,
    mapping: MappingOpt = None,
    id_column: IdOpt = None,
    time_column: TimeOpt = None,
    new_leads: NewLeadsOpt = False,
) -> None:
    """Point-in-time features of every lead at --as-of, or the registry with --list."""
    if data is not None and is_tabular(label, mapping):
        if out is None:
            raise typer.BadParameter("give --out FILE for the feature table")
        table = open_table(data, label, mapping, time_column, id_column, new_leads)
        frame, summary = table_features(table, as_of)
        write_frame(frame, out)
        console.print(summary)
        console.print(f"Wrote {len(frame):,} rows x {frame.shape[1]} columns to {out}")
        return
    if list_:
        from features.registry import FEATURES

        table = Table(title=f"{len(FEATURES)} features", show_lines=True)
        for column in ("name", "group", "kind"):
            table.add_column(column, overflow="fold")
        table.add_column("reason texts", ratio=1)
        for feature in FEATURES.values():
            texts = dict.fromkeys(feature.template(lang, key) for key in feature.directions())
            table.add_row(feature.name, feature.group, feature.kind, escape("\n".join(texts)))
        console.print(table)
        return
    if data is None or as_of is None or out is None:
        raise typer.BadParameter("give DATA, --as-of and --out (or --list)")

    from features.loaders import ContractError, load_tables
    from features.pipeline import build_features

    moment = parse_moment(as_of)
    try:
        tables = load_tables(data)
    except ContractError as error:
        err_console.print(str(error))
        raise typer.Exit(code=1) from error
    with err_console.status(f"Computing features of {len(tables.leads):,} leads at {moment}"):
        frame = build_features(tables, as_of=moment)
    write_frame(frame, out)
    console.print(f"Wrote {len(frame):,} rows x {frame.shape[1]} columns to {out}")


def table_features(table: TabularData, as_of: str | None) -> tuple[pd.DataFrame, Table]:
    """Tabular mode: the columns training and scoring see (``training.tabular.feature_frame``),
    with ``lead_id`` first, and a summary per column. With ``--as-of`` and a time column, rows
    created at or after that moment are left out (they did not exist yet)."""
    import pandas as pd

    from features.mapping import value_text
    from training.tabular import feature_frame, row_ordered

    frame = table.frame
    if as_of is not None:
        if not table.time_column or "created_at" not in frame.columns or row_ordered(table):
            raise typer.BadParameter(
                "--as-of needs the lead's date (--time, or a mapping with a time column)"
            )
        moment = parse_moment(as_of)  # naive UTC, as the dates are read
        frame = frame.loc[frame["created_at"] < moment].reset_index(drop=True)
        frame.attrs = dict(table.frame.attrs)
    values, columns = feature_frame(dataclasses.replace(table, frame=frame))
    out = pd.concat([frame[["lead_id"]], values], axis=1)
    summary = Table(title=f"{len(columns)} feature columns of {len(out):,} rows")
    for name, justify in (("column", "left"), ("kind", "left"), ("missing", "right")):
        summary.add_column(name, justify=justify)  # type: ignore[arg-type]
    summary.add_column("distinct", justify="right")
    summary.add_column("examples", overflow="fold")
    for column in columns:
        kind = "number" if pd.api.types.is_float_dtype(values[column]) else "category"
        known = values[column].dropna()
        examples = ", ".join(map(value_text, known.value_counts().index[:3]))
        summary.add_row(
            column,
            kind,
            f"{values[column].isna().mean():.0%}",
            f"{known.nunique():,}",
            examples,
        )
    return out, summary


def _register_commands() -> None:
    """Commands that live in modules of their own, so ``leadscore --help`` lists them all."""
    from leadscore import data_commands, serve_commands, train_commands

    train_commands.register(app)
    serve_commands.register(app)
    data_commands.register(app)


_register_commands()


def main() -> None:
    """The console script: a bad ``LEADSCORE_*`` setting is named, and a database that cannot be
    read (a damaged model store, an audit log on a server that is down) is one line, not a
    traceback of MLflow's and SQLAlchemy's insides."""
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as error:
        if error.title != "Settings":
            raise
        for problem in error.errors():
            name = "LEADSCORE_" + "_".join(map(str, problem["loc"])).upper()
            err_console.print(f"{name}: {problem['msg']}", style="red", markup=False)
        raise SystemExit(2) from None
    except Exception as error:
        from training.registry import RegistryError

        if isinstance(error, RegistryError):  # what the model store cannot do, in its words
            err_console.print(str(error), style="red", markup=False)
            raise SystemExit(1) from None
        broken = _database_error(error)
        if broken is None:
            raise
        why = getattr(broken, "orig", None) or broken
        if isinstance(broken, ModuleNotFoundError):
            why = f"no driver for it ({broken.name}); leadscore reads SQLite and PostgreSQL"
        err_console.print(f"A database cannot be used: {why}", style="red", markup=False)
        err_console.print(_stores(), markup=False, soft_wrap=True)  # URLs stay whole
        raise SystemExit(2) from None


def _database_error(error: BaseException) -> BaseException | None:
    """The SQLAlchemy database error behind ``error`` (MLflow wraps them), if there is one: a
    database that fails, a URL SQLAlchemy cannot read, or one of a database without a driver
    here (``mysql://``)."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, DBAPIError | ArgumentError):
            return current
        if isinstance(current, ModuleNotFoundError) and current.name in DATABASE_DRIVERS:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


# the modules SQLAlchemy imports for databases other than SQLite and PostgreSQL
DATABASE_DRIVERS = frozenset(
    {"MySQLdb", "pymysql", "mysql", "cx_Oracle", "oracledb", "pyodbc", "pymssql", "psycopg2"}
)


def _stores() -> str:
    from leadscore.settings import Settings
    from serving.runtime import without_passwords

    settings = Settings()
    return without_passwords(
        f"The model store is {settings.tracking_uri()}, the audit log "
        f"{settings.audit_url()}; a CRM given as a database URL is the third."
    )
