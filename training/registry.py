"""MLflow: experiment runs, the registered model ``leadscore``, its aliases and champion history.

Every trained version gets the alias ``challenger``; ``champion`` moves only when the gate says
so (or a person promotes or rolls back). Each move of the champion, and each challenger the gate
turned down, is written as a registered-model tag ``history.NNNN`` (JSON: when, action, version,
previous champion, why), so ``leadscore models`` can show who served when and why.

Serving calls :func:`load_champion`; it downloads the champion's ``leadmodel`` folder once into
``models/cache`` and loads the :class:`~training.model.LeadModel` directly (no pyfunc layer).

The tracking URI comes from :class:`leadscore.settings.Settings` (SQLite under ``models/``
unless ``MLFLOW_TRACKING_URI`` is set); artifacts always go under ``models/artifacts``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training.model import DamagedModelError, LeadModel, ModelMismatchError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from leadscore.settings import Settings

MODEL_NAME = "leadscore"
TABULAR_MODEL_NAME = "leadscore-tabular"  # the champion trained on a one-row-per-lead export
EXPERIMENT = "leadscore"
CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_PREFIX = "history."
METRIC_TAG = "metric."
MODEL_FILE = Path(__file__).with_name("mlflow_model.py")


@dataclass
class VersionInfo:
    """A registered version as serving and the CLI see it."""

    name: str
    version: str
    run_id: str | None
    aliases: list[str]
    created_at: datetime
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return {
            k.removeprefix(METRIC_TAG): float(v)
            for k, v in self.tags.items()
            if k.startswith(METRIC_TAG)
        }


class RegistryError(RuntimeError):
    """The registry cannot do what was asked (no champion, unknown version, ...)."""


def tracking_uri(settings: Settings) -> str:
    from features.loaders import sqlalchemy_url

    uri = settings.tracking_uri()
    return sqlalchemy_url(uri) if uri.startswith(("postgresql://", "postgres://")) else uri


_REACHED: set[str] = set()


def _check_store(uri: str) -> None:
    """A model store that cannot work says so at once. MLflow takes a bare path for a file store
    it no longer supports, and retries a database it cannot reach nine times (two minutes of
    warnings) before it gives the reason; one connection of ours gives it in seconds."""
    if "://" not in uri and not uri.startswith("databricks"):
        raise RegistryError(
            f"the model store {uri!r} (MLFLOW_TRACKING_URI) is not a URL: give "
            "sqlite:///path/to/mlflow.db, postgresql://user@host/database or an MLflow "
            "server's http(s):// address"
        )
    if uri in _REACHED or uri.startswith(("sqlite:", "file:", "http:", "https:", "databricks")):
        return
    import sqlalchemy as sa

    timeout = {"connect_timeout": 10} if uri.startswith("postgresql") else {}
    engine = sa.create_engine(uri, connect_args=timeout)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()
    _REACHED.add(uri)


def client_for(settings: Settings) -> MlflowClient:
    """An MLflow client on the configured store; the fluent API is pointed there too."""
    import mlflow
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # a uv environment has no pip: MLflow warns that conda.yaml lists pip unpinned, at every
    # registration, though the model's own pip requirements are pinned (pip_requirements)
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    uri = tracking_uri(settings)
    _check_store(uri)
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        database.parent.mkdir(parents=True, exist_ok=True)
        if database.exists() and database.parent.resolve() == settings.models_dir.resolve():
            follow_move(database, settings)
    # MLflow also writes both URIs into the environment, where Settings would read them back as
    # the user's own choice: a later run in this process with other settings would use this one.
    before = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def artifact_root(settings: Settings) -> str:
    return (settings.models_dir / "artifacts").resolve().as_uri()


# Where MLflow keeps absolute artifact locations: table and column.
_LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def follow_move(database: Path, settings: Settings) -> None:
    """Point a moved or copied models folder's MLflow store at its own artifacts.

    MLflow writes absolute artifact paths into ``mlflow.db``: after ``mv models elsewhere``
    every load failed with a temporary folder's name, and a copy trained into the original's
    folder. When the store sits in ``models_dir`` and its experiment points at another
    ``.../artifacts`` folder, the paths are rewritten to this folder's (the artifacts travel
    with ``mlflow.db`` when the folder is moved or copied; without them nothing is changed).
    """
    import sqlite3
    from contextlib import closing

    here = artifact_root(settings)
    if not (settings.models_dir / "artifacts").is_dir():
        return
    with closing(sqlite3.connect(database, timeout=30)) as db, db:  # closed, and committed
        try:
            row = db.execute(
                "SELECT artifact_location FROM experiments WHERE name = ?", (EXPERIMENT,)
            ).fetchone()
        except sqlite3.OperationalError:  # no MLflow tables yet
            return
        old = row[0] if row else None
        if not old or old == here or not old.startswith("file://"):
            return
        for table, column in _LOCATIONS:
            try:
                db.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                    f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                    (here, len(old) + 1, old, len(old) + 1, f"{old}/"),
                )
            except sqlite3.OperationalError:  # a table an older MLflow schema lacks
                continue
    logging.getLogger("leadscore.registry").warning(
        "the models folder moved: its MLflow store now reads artifacts from %s (was %s)",
        here,
        old,
    )


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """The ``leadscore`` experiment, created with its artifacts under ``models/artifacts``."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=artifact_root(settings))


def _info(version: Any) -> VersionInfo:
    return VersionInfo(
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        aliases=list(version.aliases or []),
        created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC),
        tags=dict(version.tags or {}),
    )


def version_by_alias(
    client: MlflowClient, alias: str, name: str = MODEL_NAME
) -> VersionInfo | None:
    from mlflow.exceptions import MlflowException

    try:
        return _info(client.get_model_version_by_alias(name, alias))
    except MlflowException:
        return None


def list_versions(settings: Settings, name: str = MODEL_NAME) -> list[VersionInfo]:
    """All versions, newest first."""
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    try:
        aliases = client.get_registered_model(name).aliases  # search results omit aliases
    except MlflowException:
        return []
    infos = [_info(v) for v in client.search_model_versions(f"name = '{name}'")]
    for info in infos:
        info.aliases = sorted(a for a, v in aliases.items() if str(v) == info.version)
    return sorted(infos, key=lambda v: -int(v.version))


def history(settings: Settings, name: str = MODEL_NAME) -> list[dict[str, Any]]:
    """Champion history, oldest first: every promotion, rollback and turned-down challenger."""
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException:
        return []
    return [json.loads(tags[k]) for k in sorted(tags) if k.startswith(HISTORY_PREFIX)]


def _record(client: MlflowClient, name: str, event: dict[str, Any]) -> None:
    count = sum(1 for k in client.get_registered_model(name).tags if k.startswith(HISTORY_PREFIX))
    event = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **event}
    event["reason"] = str(event.get("reason", ""))[:2000]
    client.set_registered_model_tag(name, f"{HISTORY_PREFIX}{count + 1:04d}", json.dumps(event))


def champion_stack(events: list[dict[str, Any]]) -> list[str]:
    """Replay the history: promotions push a version, rollbacks pop one; top = champion."""
    stack: list[str] = []
    for event in events:
        if event["action"] in ("promoted", "manual promote"):
            stack.append(str(event["version"]))
        elif event["action"] == "rollback" and stack:
            stack.pop()
    return stack


# --------------------------------------------------------------------------- loading


def _cache_dir(settings: Settings, name: str, version: str) -> Path:
    """Versions never change once registered; the store's hash keeps two stores apart."""
    store = hashlib.sha1(tracking_uri(settings).encode()).hexdigest()[:10]
    return settings.models_dir / "cache" / store / f"{name}-v{version}"


def load_version(settings: Settings, version: str, name: str = MODEL_NAME) -> LeadModel:
    """Download a version's ``leadmodel`` folder once (kept in ``models/cache``) and load it."""

    client_for(settings)
    target = _cache_dir(settings, name, version)
    try:
        return _cached(target, name, version)
    except DamagedModelError:  # the cached copy: fetch it again from the store, once
        shutil.rmtree(target, ignore_errors=True)
        return _cached(target, name, version)


def _cached(target: Path, name: str, version: str) -> LeadModel:
    import mlflow

    if not (target / "leadmodel.json").exists():
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{name}/{version}", dst_path=tmp
                )
            )
            if not (local / "artifacts" / "leadmodel").is_dir():  # MLflow gives an empty folder
                raise RegistryError(
                    f"the model store lists {name!r} version {version}, but its files are "
                    f"missing under {target.parents[2] / 'artifacts'} (was the models folder "
                    "moved without its artifacts folder, or the artifacts deleted?)"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            shutil.copytree(local / "artifacts" / "leadmodel", staging, dirs_exist_ok=True)
            try:
                staging.rename(target)  # atomic: a second worker never sees half a model
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)  # another worker was first
    return LeadModel.load(target)


def load_champion(settings: Settings, name: str = MODEL_NAME) -> tuple[LeadModel, VersionInfo]:
    """The model serving should use: ``models:/leadscore@champion``, checked against this code.

    Raises :class:`RegistryError` if there is no champion yet (train one, or register the points
    model with ``leadscore train DATA --rules``) and
    :class:`~training.model.ModelMismatchError` if its features no longer match this code.
    """
    client = client_for(settings)
    info = version_by_alias(client, CHAMPION, name)
    if info is None:
        how = (
            "`leadscore train EXPORT --mapping FILE` (or `--label COLUMN`)"
            if name == TABULAR_MODEL_NAME
            else "`leadscore train DATA` (or `leadscore train DATA --rules` for a CRM without "
            "enough closed deals)"
        )
        raise RegistryError(
            f"no {name!r} model is trained yet (model store {tracking_uri(settings)}); "
            f"train one first: {how}"
        )
    return load_version(settings, info.version, name), info


def champion_version(settings: Settings, name: str = MODEL_NAME) -> str | None:
    """The champion's version number, without loading it (what a service polls for)."""
    info = version_by_alias(client_for(settings), CHAMPION, name)
    return None if info is None else str(info.version)


def current_champion(
    settings: Settings, name: str = MODEL_NAME
) -> tuple[LeadModel | None, VersionInfo | None, str | None]:
    """The champion if it exists and loads; else why not (for the gate and the report)."""
    try:
        model, info = load_champion(settings, name)
    except RegistryError:
        return None, None, None
    except ModelMismatchError as error:
        client = client_for(settings)
        return None, version_by_alias(client, CHAMPION, name), str(error)
    return model, info, None


# --------------------------------------------------------------------------- logging


def _typical_row(frame: pd.DataFrame, categories: set[str]) -> pd.DataFrame:
    """One made-up row: each column's median, or its most frequent category.

    MLflow keeps the input example beside the model for good; real rows there would be leads'
    profiles that no erasure reaches (and, in a plain export, their names).
    """
    row: dict[str, list[object]] = {}
    for column in frame.columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if column in categories or not numeric:
            common = values.dropna().mode()
            row[column] = [common.iloc[0] if len(common) else None]
        elif values.notna().any():
            median = values.median()
            whole = pd.api.types.is_integer_dtype(values)
            row[column] = [round(median) if whole else median]  # an Int64 column stays whole
        else:
            row[column] = [np.nan]
    return pd.DataFrame(row).astype(frame.dtypes.to_dict(), errors="ignore")


def _signature_example(model: LeadModel, sample: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    from mlflow.models import infer_signature

    example = _typical_row(sample[model.columns], set(model.categories))
    for column in model.categories:
        example[column] = example[column].astype("string")
    probability = model.predict_proba(model.encode(example))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*integer column.*")
        return infer_signature(example, probability), example


def pip_requirements() -> list[str]:
    """Pinned to what trained the model; explicit, so logging does not scan the environment."""
    import lightgbm
    import mlflow
    import sklearn

    return [
        f"mlflow=={mlflow.__version__}",
        f"lightgbm=={lightgbm.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        "pyyaml",
    ]


def log_and_register(
    settings: Settings,
    model: LeadModel,
    sample: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, dict[str, float] | None],
    report_dir: Path | None,
    decision: tuple[bool, str],
    name: str = MODEL_NAME,
) -> VersionInfo:
    """Log a run (params, metrics, report, model), register a version, apply the gate.

    The new version always becomes ``challenger``; it becomes ``champion`` only if ``decision``
    says so. Either way the decision is written to the champion history.
    """
    import mlflow

    client = client_for(settings)
    exp = experiment_id(client, settings)
    promote, reason = decision
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        for scorer, values in metrics.items():
            if values:
                mlflow.log_metrics(
                    {f"{scorer}_{k}": float(v) for k, v in values.items() if np.isfinite(v)}
                )
        if report_dir is not None:
            mlflow.log_artifacts(str(report_dir), artifact_path="report")
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = model.save(Path(tmp) / "leadmodel")
            signature, example = _signature_example(model, sample)
            logged = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_FILE),
                artifacts={"leadmodel": str(model_dir)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
                registered_model_name=name,
            )
    version = str(logged.registered_model_version)
    previous = version_by_alias(client, CHAMPION, name)
    summary = {
        "kind": model.kind,
        "gate": "promoted" if promote else "not promoted",
        "gate_reason": reason[:2000],
        "test_from": str(model.data_window.get("test_from")),
        "data_end": str(model.data_window.get("data_end")),
        "data": str(params.get("data", "-"))[:500],
        # a table's rows have no horizon (its label is whatever the export says)
        "horizon_days": "-"
        if model.data_window.get("mode") == "tabular"
        else str(model.data_window.get("horizon_days", "-")),
        **{f"{METRIC_TAG}{k}": f"{v:.6g}" for k, v in model.metrics.items()},
    }
    for key, value in summary.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    if promote:
        client.set_registered_model_alias(name, CHAMPION, version)
    _record(
        client,
        name,
        {
            "action": "promoted" if promote else "not promoted",
            "version": version,
            "previous": previous.version if previous else None,
            "champion": version if promote else (previous.version if previous else None),
            "reason": reason,
            "run_id": run.info.run_id,
        },
    )
    return _info(client.get_model_version(name, version))


def promote(
    settings: Settings, version: str, reason: str = "promoted by hand", name: str = MODEL_NAME
) -> VersionInfo:
    """Make ``version`` the champion (a person's decision, recorded with the reason)."""
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    try:
        target = client.get_model_version(name, str(version))
    except MlflowException as error:
        raise RegistryError(f"{name} has no version {version}") from error
    load_version(settings, str(version), name)  # raises ModelMismatchError if incompatible
    previous = version_by_alias(client, CHAMPION, name)
    if previous is not None and str(previous.version) == str(version):
        # a second entry would make the next rollback "return" to this same version
        raise RegistryError(f"version {version} of {name} is the champion already")
    client.set_registered_model_alias(name, CHAMPION, str(version))
    _record(
        client,
        name,
        {
            "action": "manual promote",
            "version": str(version),
            "previous": previous.version if previous else None,
            "champion": str(version),
            "reason": reason,
        },
    )
    return _info(client.get_model_version(name, str(target.version)))


def rollback(
    settings: Settings, reason: str = "rolled back by hand", name: str = MODEL_NAME
) -> VersionInfo:
    """Give the champion alias back to the version that held it before the current one."""
    client = client_for(settings)
    stack = champion_stack(history(settings, name))
    current = version_by_alias(client, CHAMPION, name)
    if current is None or len(stack) < 2:
        raise RegistryError("there is no earlier champion to roll back to")
    target = stack[-2]
    client.set_registered_model_alias(name, CHAMPION, target)
    _record(
        client,
        name,
        {
            "action": "rollback",
            "version": target,
            "previous": current.version,
            "champion": target,
            "reason": reason,
        },
    )
    return _info(client.get_model_version(name, target))
