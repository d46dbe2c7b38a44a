"""What a serving process holds: the current Scorer, the audit log and the optional lead store.

The champion is swapped in atomically; a champion that fails to load is logged and the previous
one keeps serving.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features.contract import CRMTables
from features.loaders import load_tables
from features.pipeline import FeatureConfig, person_of
from leadscore.settings import Settings
from serving.audit import AuditLog
from serving.requests import LeadRequest, request_tables
from serving.routing import DEFAULT_ROUTING_FILE, load_routing
from serving.scorer import ModelRef, Scorer
from serving.tabular import TabularScorer

if TYPE_CHECKING:
    from training.model import LeadModel
    from training.registry import VersionInfo

logger = logging.getLogger("leadscore.runtime")


# An export or lead store whose newest activity is this many days old reads every lead as quiet.
QUIET_DAYS = 14


@dataclass
class LeadStore:
    """Leads known to the service, so the CRM may send just a ``lead_id``.

    A folder store is read again when its files change (checked with the champion); a database
    store is read at start and with each new champion.
    """

    tables: CRMTables
    person: pd.Series
    source: str = ""
    stamp: object = None
    newest: pd.Timestamp | None = None  # its newest activity: how fresh the store is
    created: pd.Series | None = None  # each lead's created_at by lead_id, looked up per request

    @classmethod
    def load(cls, source: str, config: FeatureConfig) -> LeadStore:
        stamp = source_stamp(source)
        tables = load_tables(source)
        leads = tables.leads.drop_duplicates("lead_id").set_index("lead_id", drop=False)
        newest = tables.activities["occurred_at"].max()
        return cls(
            tables,
            person_of(leads, config),
            source,
            stamp,
            None if pd.isna(newest) else newest,
            leads["created_at"],
        )

    def quiet_days(self, moment: pd.Timestamp) -> int | None:
        """Days from the newest activity to ``moment`` when that is :data:`QUIET_DAYS` or more
        (a store nobody refreshes: every lead reads as quiet since), else None."""
        if self.newest is None or moment - self.newest < pd.Timedelta(QUIET_DAYS, "D"):
            return None
        return (moment.normalize() - self.newest.normalize()).days

    def changed(self) -> bool:
        stamp = source_stamp(self.source)
        return stamp is not None and stamp != self.stamp

    @property
    def known_ids(self) -> pd.Index:
        return self.person.index

    def group_of(self, lead_ids: list[str]) -> list[str]:
        """The leads and every record of the same person (their history is merged)."""
        persons = set(self.person.loc[lead_ids])
        return list(self.person.index[self.person.isin(persons)])


def _warm_up_lead() -> tuple[CRMTables, str, pd.Timestamp]:
    """A made-up lead with the fields whose lookups are built on first use (city, country,
    phone, email) and one action, scored when a champion is loaded."""
    lead = LeadRequest.model_validate(
        {
            "lead": {
                "lead_id": "warm-up",
                "created_at": "2026-01-05T09:00:00",
                "email": "anna.schmidt@example-gmbh.de",
                "phone": "+49 40 2345671",
                "city": "Hamburg",
                "country": "Germany",
                "company": "Example GmbH",
                "job_title": "Head of Marketing",
            },
            "activities": [
                {"occurred_at": "2026-01-06T10:00:00", "activity_type": "pricing_page_view"}
            ],
        }
    )
    return request_tables([lead]), "warm-up", pd.Timestamp("2026-01-07")


class Runtime:
    def __init__(self, settings: Settings, batch_threads: int = 0) -> None:
        self.settings = settings
        self.routing = load_routing(settings.routing_file)
        self.routing_stamp = _routing_stamp(settings)
        self.routing_error: str | None = None  # the edited file that was not taken, and why
        self.audit = AuditLog(settings.audit_url())
        self.scorer: Scorer | None = None
        # the tabular champion (trained on an export), for /score_rows; optional
        self.tabular: TabularScorer | None = None
        self.tabular_error: str | None = "not loaded yet"
        self.store: LeadStore | None = None
        self.last_error: str | None = "not loaded yet"
        self.store_error: str | None = None
        # LightGBM threads for a request's many rows: 0 is every core (batch scoring); a service
        # whose workers already fill the cores passes 1.
        self.batch_threads = batch_threads
        self._lock = threading.Lock()

    def try_reload(self) -> bool:
        """Load either champion or the routing file if it changed; keep the old one on any
        failure."""
        routing = self._reload_routing()
        tabular = self._reload_tabular()
        return self._reload_crm() or tabular or routing

    def _reload_routing(self) -> bool:
        """Sales ops edit the routing file while the service runs: its rules take effect at the
        next poll, as a new champion does; a file with a mistake leaves the old rules in force."""
        stamp = _routing_stamp(self.settings)
        if stamp == self.routing_stamp:
            return False
        self.routing_stamp = stamp  # a broken file is reported once, not at every poll
        try:
            routing = load_routing(self.settings.routing_file)
        except ValueError as error:
            self.routing_error = str(error)
            logger.error("routing file not reloaded, the rules in force stay: %s", error)
            return False
        with self._lock:
            self.routing = routing
            if self.scorer is not None:
                old = self.scorer
                self.scorer = Scorer(old.model, old.ref, routing, self.audit, old.lang)
            if self.tabular is not None:
                self.tabular = dataclasses.replace(self.tabular, routing=routing)
        self.routing_error = None
        logger.warning("routing file reloaded: the edited rules are in force")
        return True

    def _newer_champion(
        self, name: str, serving: str | None
    ) -> tuple[LeadModel, VersionInfo] | None:
        """The champion registered as ``name`` when it is not the version serving (asking the
        registry for its version first: a poll loads nothing while nothing changed). Loading
        errors propagate."""
        from training.registry import champion_version, load_champion

        if serving is not None and champion_version(self.settings, name) == serving:
            return None
        model, info = load_champion(self.settings, name=name)
        if serving == str(info.version):
            return None
        model.batch_threads = self.batch_threads
        return model, info

    def _reload_tabular(self) -> bool:
        from training.tabular import TABULAR_MODEL_NAME

        with self._lock:
            try:
                serving = self.tabular.version if self.tabular else None
                newer = self._newer_champion(TABULAR_MODEL_NAME, serving)
                if newer is None:
                    return False
                model, info = newer
                if not model.params.get("reading"):
                    raise ValueError(
                        f"version {info.version} predates serving rows; train it again"
                    )
                scorer = TabularScorer(
                    model, str(info.version), self.routing, self.audit, self.settings.language
                )
            except Exception as error:
                self.tabular_error = error_text(error)
                return False
            self.tabular, self.tabular_error = scorer, None
            logger.info("serving %s version %s for /score_rows", info.name, info.version)
            return True

    def _reload_crm(self) -> bool:
        from training.registry import MODEL_NAME

        with self._lock:
            try:
                newer = self._newer_champion(
                    MODEL_NAME, self.scorer.ref.version if self.scorer else None
                )
                if newer is None:
                    return False
                model, info = newer
                scorer = Scorer(
                    model,
                    ModelRef(info.name, str(info.version)),
                    self.routing,
                    self.audit,
                    self.settings.language,
                )
                scorer.warm_up(*_warm_up_lead())
            except Exception as error:
                self.last_error = error_text(error)
                kept = (
                    f"keeping version {self.scorer.ref.version}" if self.scorer else "none loaded"
                )
                logger.warning("champion not (re)loaded, %s: %s", kept, self.last_error)
                return False
            self.scorer = scorer
            self.last_error = None
            logger.info("serving %s version %s", info.name, info.version)
            if self.settings.data:  # persons are grouped by the model's feature settings
                self._load_store(self.settings.data, model.feature_config)
            return True

    def refresh_store(self) -> bool:
        """Read the lead store again if its files changed; keep the old one if that fails."""
        with self._lock:
            store, scorer = self.store, self.scorer
            if store is None or scorer is None:
                return False
            try:
                changed = store.changed()
            except OSError as error:  # a file renamed while we looked: next time
                logger.info("lead store not checked: %s", error)
                return False
            return changed and self._load_store(store.source, scorer.model.feature_config)

    def _load_store(self, source: str, config: FeatureConfig) -> bool:
        try:
            fresh = LeadStore.load(source, config)
        except Exception as error:
            self.store_error = error_text(error)
            logger.warning(
                "lead store not (re)loaded, keeping the current one: %s", self.store_error
            )
            return False
        self.store, self.store_error = fresh, None
        logger.info("lead store read from %s (%d leads)", source, len(fresh.known_ids))
        return True

    def describe(self) -> dict[str, Any]:
        scorer = self.scorer
        if scorer is None:
            return {
                "loaded": False,
                "error": self.last_error,
                "tabular": self.describe_tabular(),
                "worker": os.getpid(),
            }
        model = scorer.model
        return {
            "loaded": True,
            "name": scorer.ref.name,
            "version": scorer.ref.version,
            "kind": model.kind,
            "features": len(model.columns),
            "thresholds": scorer.cutoffs,
            "data_window": {
                k: _iso_moment(v)
                for k, v in model.data_window.items()
                if not isinstance(v, list | tuple)
            },
            "metrics": model.metrics,
            "last_reload_error": self.last_error,
            "lead_store_error": self.store_error,
            "routing_file_error": self.routing_error,
            "tabular": self.describe_tabular(),
            "worker": os.getpid(),
        }

    def describe_tabular(self) -> dict[str, Any]:
        """The tabular champion behind /score_rows, or why there is none."""
        tabular = self.tabular
        if tabular is None:
            return {"loaded": False, "error": self.tabular_error}
        model = tabular.model
        return {
            "loaded": True,
            "name": tabular.name,
            "version": tabular.version,
            "kind": model.kind,
            "features": list(model.columns),
            "reading": model.params["reading"],
            "thresholds": tabular.routing.cutoffs(model.thresholds),
            "metrics": model.metrics,
            "last_reload_error": self.tabular_error,
        }


_STORED_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$")


def _iso_moment(value: object) -> object:
    """A moment the model's metadata keeps as ``2024-11-01 10:22:00`` (UTC), written as answers
    write moments: ISO 8601 with its offset. Anything else (a row number, a count) as it is."""
    if isinstance(value, str) and _STORED_MOMENT.match(value):
        return pd.Timestamp(value, tz="UTC").isoformat()
    return value


def _routing_stamp(settings: Settings) -> object:
    return source_stamp(str(settings.routing_file or DEFAULT_ROUTING_FILE))


def source_stamp(source: str) -> object:
    """What changes when a folder's files change (names, sizes, modification times); None for
    a database URL."""
    path = Path(source)
    if not path.exists():
        return None
    if path.is_file():
        files = [path]
    else:
        files = sorted(p for p in path.rglob("*") if not p.name.startswith((".", "~")))
    stamps = []
    for file in files:
        try:
            stat = file.stat()
        except FileNotFoundError:  # renamed away between listing and looking
            continue
        if file.is_file():
            stamps.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(stamps)


def error_text(error: Exception) -> str:
    """An error in one line: a database error without the SQL statement and link it carries,
    and any database URL in it without its password (the text is logged and answered in 503s)."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError) and error.orig is not None:
        orig = error.orig
        return without_passwords(
            f"{type(error).__name__}: {(str(orig).strip().splitlines() or [''])[0]}"
        )
    return without_passwords(f"{type(error).__name__}: {error}")


_PASSWORD_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)\S+@", re.IGNORECASE)


def without_passwords(text: str) -> str:
    """``postgresql://user:secret@host/db`` written as ``postgresql://user:***@host/db``."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)
