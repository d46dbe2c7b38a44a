"""The BentoML service: a thin HTTP layer over the Scorer.

``leadscore serve`` (or ``bentoml serve serving.service:LeadScore``) starts it. Everything a
client can get wrong is answered 4xx naming the field; the model is the MLflow champion, checked
for a newer one every ``LEADSCORE_RELOAD_SECONDS``, and a champion that fails to load leaves the
old one serving. ``/score_rows`` serves the tabular champion (a model trained on a CRM export)
the same way, when the registry has one. ``/healthz`` and ``/readyz`` are BentoML's own probes
(ready once a model is loaded).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import bentoml
import pandas as pd
from bentoml.exceptions import BentoMLException, NotFound, ServiceUnavailable
from pydantic import Field, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from features.loaders import ContractError, Problem
from features.mapping import MappingError
from leadscore.settings import Settings
from serving.auth import BearerAuth, JsonOnly, RequestIdEcho, RequestSizeLimit
from serving.openapi import service_document
from serving.requests import (
    AS_OF_HELP,
    MAX_BATCH,
    REQUEST_ID_HEADER,
    REQUEST_ID_PATTERN,
    STORED_WITH_ACTIVITIES,
    ActivityIn,
    AsOf,
    Identifier,
    LeadIn,
    LeadRequest,
    Row,
    request_tables,
    utc_naive,
)
from serving.runtime import Runtime
from serving.scorer import Scorer, ScoreResult, closed_text
from serving.tabular import MissingColumnsError

logger = logging.getLogger("leadscore.service")
F = TypeVar("F", bound=Callable[..., Any])


class ClientErrorsInOneLine(logging.Filter):
    """BentoML logs every answered 4xx with its traceback at ERROR: a CRM sending bad rows would
    flood the log with tracebacks of the client's mistakes. Those become one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        # "Input": the request's own model (a response that fails its model is our bug)
        client = (isinstance(error, ValidationError) and error.title == "Input") or (
            isinstance(error, BentoMLException) and error.error_code < 500
        )
        if client and isinstance(record.args, tuple):
            first = (str(error).splitlines() or [""])[0][:200]
            summary = f"{type(error).__name__}: {first}"
            record.msg, record.args = "client error on %s [%s]: %s", (*record.args, summary)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsInOneLine())
_RUNTIMES: list[Runtime] = []  # the worker process's service state, for GET /model


class OwnRoutes:
    """``GET /model`` as the HTTP contract names it (BentoML's own APIs are POST only), and
    ``GET /docs.json`` corrected to what the service answers (:mod:`serving.openapi`)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._document: bytes | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope.get("path")
            if path == "/model":
                body = json.dumps(_RUNTIMES[-1].describe() if _RUNTIMES else {"loaded": False})
                await _send_json(send, body.encode())
                return
            if path == "/docs.json":
                if self._document is None:  # the APIs do not change while the server runs
                    generated = LeadScore.openapi_spec.asdict()
                    self._document = json.dumps(service_document(generated)).encode()
                await _send_json(send, self._document)
                return
        await self.app(scope, receive, send)


async def _send_json(send: Any, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def answered(func: F) -> F:
    """Our own refusals (404 unknown lead, 503 no model or no audit log) as one JSON object
    with the message. BentoML answers an exception it knows as a one-element list for a 4xx
    and hides the message of a 5xx behind "An unexpected error has occurred"; a CRM then cannot
    tell a missing model from a crash. Validation errors keep BentoML's own 400 with ``detail``.
    """

    def response(error: BentoMLException, ctx: Any) -> JSONResponse:
        status = int(error.error_code)
        if status >= 500:  # a state of the server, not a bug: one line, no traceback
            logger.warning("answered %s: %s", status, error)
        if ctx is not None:  # BentoML gives an API with a context its status, 200 by default
            ctx.response.status_code = status
        return JSONResponse({"error": str(error)}, status_code=status)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await func(*args, **kwargs)
            except BentoMLException as error:
                return response(error, kwargs.get("ctx"))

        return run_async  # type: ignore[return-value]

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BentoMLException as error:
            return response(error, kwargs.get("ctx"))

    return run  # type: ignore[return-value]


class ModelUnavailable(BentoMLException):
    """No champion is loaded yet: a server-side state, answered 503, never a crash."""

    from http import HTTPStatus

    error_code = HTTPStatus.SERVICE_UNAVAILABLE


@contextmanager
def audited() -> Iterator[None]:
    """No score without its audit record: a failed write is the server's state, answered 503.
    A context or, as ``@audited()``, a decorator."""
    try:
        yield
    except SQLAlchemyError as error:
        logger.error("audit log write failed, no score sent: %s", error)
        raise ServiceUnavailable(
            "the audit log is unavailable; no score without its record"
        ) from error


@bentoml.service(
    name="leadscore",
    traffic={"timeout": 60},
    workers=Settings().workers,
    logging={"access": {"enabled": Settings().access_log}},
)
class LeadScore:
    def __init__(self) -> None:
        self.settings = Settings()
        # each worker is a process and the workers fill the cores: one LightGBM thread each
        self.runtime = Runtime(self.settings, batch_threads=1 if self.settings.workers > 1 else 0)
        self.runtime.try_reload()
        _RUNTIMES.append(self.runtime)
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="champion-watch")
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.reload_seconds):
            try:
                if not self.runtime.try_reload():
                    self.runtime.refresh_store()
            except Exception:  # the watcher must outlive any surprise; the old state serves
                logger.exception("champion / lead store check failed")

    def __is_ready__(self) -> bool:
        return self.runtime.scorer is not None or self.runtime.tabular is not None

    @bentoml.on_shutdown
    def _shutdown(self) -> None:
        self._stop.set()

    def _scorer(self) -> Scorer:
        scorer = self.runtime.scorer
        if scorer is None:
            raise ModelUnavailable(f"no model loaded yet: {self.runtime.last_error}")
        return scorer

    # /score is async on purpose: one lead is a few milliseconds of CPU under the GIL, and a
    # thread pool only adds a hand-over per request (about 20 % of throughput). /score_batch
    # (up to 1,000 leads) stays in the pool, so that probes answer while it runs.
    @bentoml.api(route="/score")
    @answered
    async def score(
        self,
        ctx: bentoml.Context,
        lead: LeadIn | None = None,
        activities: list[ActivityIn] = Field(default_factory=list, max_length=5000),
        lead_id: Identifier | None = None,
        lang: str | None = Field(None, pattern="^(en|de)$"),
        as_of: AsOf | None = Field(None, description=AS_OF_HELP),
    ) -> ScoreResult:
        """Score one lead: send it with its activities, or the lead_id of a lead in the store."""
        if (lead is None) == (lead_id is None):
            raise client_error([((), "give either 'lead' (with 'activities') or 'lead_id'")])
        if lead_id is not None and activities:  # as LeadRequest says for a batch item
            raise client_error([(("activities",), STORED_WITH_ACTIVITIES)])
        # BentoML has validated each field already; the request only bundles them.
        request = LeadRequest.model_construct(lead=lead, activities=activities, lead_id=lead_id)
        return self._score_many([request], lang, "", as_of, _request_id(ctx))[0]

    @bentoml.api(route="/score_batch")
    @answered
    def score_batch(
        self,
        ctx: bentoml.Context,
        leads: list[LeadRequest] = Field(max_length=MAX_BATCH),
        lang: str | None = Field(None, pattern="^(en|de)$"),
        as_of: AsOf | None = Field(None, description=AS_OF_HELP),
    ) -> list[ScoreResult]:
        """Score up to 1,000 leads in one call; the same fields per lead as /score."""
        return self._score_many(leads, lang, "leads", as_of, _request_id(ctx))

    @bentoml.api(route="/score_rows")
    @answered
    def score_rows(
        self,
        ctx: bentoml.Context,
        rows: list[Row] = Field(min_length=1, max_length=MAX_BATCH),
        lang: str | None = Field(None, pattern="^(en|de)$"),
    ) -> list[dict[str, Any]]:
        """Score rows of a CRM export with the tabular champion (trained with ``leadscore train
        EXPORT --label`` or ``--mapping``): one object per lead, the export's columns as keys.
        The rows are read as training read its export (the same mapping), so send them as the
        export holds them; each needs its id column."""
        tabular = self.runtime.tabular
        if tabular is None:
            raise ModelUnavailable(f"no tabular model loaded: {self.runtime.tabular_error}")
        try:
            with audited():
                return tabular.score_rows(rows, lang, _request_id(ctx))  # type: ignore[arg-type]
        except ContractError as error:
            raise _row_errors(error.problems) from error
        except MissingColumnsError as error:
            raise client_error([(("rows",), str(error))]) from error
        except MappingError as error:  # every column it names is in the rows read: ours
            logger.error("the tabular model's mapping does not fit its rows: %s", error)
            raise ServiceUnavailable(
                f"tabular model v{tabular.version} cannot read rows"
            ) from error

    @bentoml.api(route="/model")
    def model(self) -> dict[str, Any]:
        """The model that is serving: name, version, trained window, metrics, cut-offs."""
        return self.runtime.describe()

    @audited()
    def _score_many(
        self,
        items: list[LeadRequest],
        lang: str | None,
        prefix: str,
        as_of: datetime | None = None,
        request_id: str | None = None,
    ) -> list[Any]:
        scorer = self._scorer()
        _unique_ids(items, prefix)
        inline = [item for item in items if item.lead is not None]
        stored = [item.lead_id for item in items if item.lead is None]
        store = self.runtime.store
        # one request: one id and one moment, whether a lead came inline or by id
        if as_of is None:
            moment = pd.Timestamp.now(tz="UTC").tz_localize(None)
        else:
            moment = pd.Timestamp(utc_naive(as_of))
        if stored:  # refused before any lead is scored: no audit record of an unsent score
            if store is None:
                first = next(i for i, item in enumerate(items) if item.lead is None)
                raise client_error(
                    [
                        (
                            (prefix, first, "lead_id") if prefix else ("lead_id",),
                            "this service has no lead store (LEADSCORE_DATA is not set); "
                            "send the lead with its activities instead",
                        )
                    ]
                )
            missing = [
                i
                for i, item in enumerate(items)
                if item.lead is None and item.lead_id not in store.known_ids
            ]
            if missing:
                where = f"{prefix}.{missing[0]}.lead_id" if prefix else "lead_id"
                unknown = items[missing[0]].lead_id
                raise NotFound(f"{where}: {unknown!r} is not in the lead store")
            _existing_then(items, prefix, store.created, moment)
        results: dict[str, ScoreResult] = {}
        said = lang or scorer.lang  # the warnings in the answers' language
        request_id = request_id or uuid.uuid4().hex
        if inline:
            ids = [item.lead.lead_id for item in inline if item.lead]
            tables = request_tables(inline)
            for result in scorer.score(tables, ids, moment, lang, request_id):
                results[result.lead_id] = result
            limit = moment.to_pydatetime()
            for item in inline:
                assert item.lead is not None
                later = sum(utc_naive(a.occurred_at) >= limit for a in item.activities)
                if later:
                    results[item.lead.lead_id].warnings.append(_not_used(later, moment, said))
                if utc_naive(item.lead.created_at) > limit:
                    results[item.lead.lead_id].warnings.append(_created_later(moment, said))
        if stored:
            assert store is not None  # the store read and checked above, not one reloaded since
            tables = store.tables.for_leads(store.group_of(stored))
            planned = tables.activities.loc[tables.activities["occurred_at"] >= moment, "lead_id"]
            quiet = store.quiet_days(moment)
            for result in scorer.score(tables, stored, moment, lang, request_id):
                if quiet is not None:
                    result.warnings.append(_stale_store(store.newest, quiet, said))
                closed = closed_text(tables, result.lead_id, moment, said)  # type: ignore[arg-type]
                if closed is not None:
                    result.warnings.append(f"{result.lead_id} {closed} {STORE_OUTCOMES[said]}")
                later = (
                    int(planned.isin(store.group_of([result.lead_id])).sum()) if len(planned) else 0
                )
                if later:
                    result.warnings.append(_not_used(later, moment, said, stored=True))
                results[result.lead_id] = result
        order = [item.lead.lead_id if item.lead else item.lead_id for item in items]
        return [results[i] for i in order]


def _request_id(ctx: bentoml.Context) -> str:
    """The CRM's ``X-Request-ID`` if it sent one (a retry keeps its id in the audit log), else a
    new one; answered in the same header either way."""
    sent = ctx.request.headers.get(REQUEST_ID_HEADER)
    if sent is not None and not REQUEST_ID_PATTERN.fullmatch(sent):
        raise client_error(
            [
                (
                    ("headers", REQUEST_ID_HEADER),
                    "1 to 64 letters, digits or . _ : - (e.g. a UUID)",
                )
            ]
        )
    request_id = sent or uuid.uuid4().hex
    ctx.response.headers[REQUEST_ID_HEADER] = request_id
    return request_id


def _not_used(count: int, moment: pd.Timestamp, lang: str, stored: bool = False) -> str:
    """Features see only what happened before the scoring moment: a planned meeting, or a local
    time sent without its offset (an hour ahead of UTC in Berlin), is left out, and said so."""
    if lang == "de":
        where = "im Lead-Speicher " if stored else ""
        return (
            f"{count} Aktivität{'' if count == 1 else 'en'} {where}am oder nach dem "
            f"Bewertungszeitpunkt ({moment:%d.%m.%Y %H:%M:%S} UTC) nicht verwendet: geplant, "
            f"oder eine Ortszeit ohne Versatz {'geschrieben' if stored else 'gesendet'} (UTC "
            "mit 'Z' oder mit Versatz, z. B. +01:00)"
        )
    where = "in the lead store " if stored else ""
    how = "written" if stored else "sent"
    return (
        f"{count} activit{'y' if count == 1 else 'ies'} {where}at or after the scoring moment "
        f"({moment:%Y-%m-%d %H:%M:%S} UTC) not used: planned, or a local time {how} without its "
        "offset (UTC with 'Z', or the offset, e.g. +01:00)"
    )


def _stale_store(newest: pd.Timestamp | None, days: int, lang: str) -> str:
    """A lead store nobody refreshes scores every lead as idle since its last export."""
    if lang == "de":
        return (
            f"die neueste Aktivität im Lead-Speicher ist vom {newest:%d.%m.%Y}, {days} Tage vor "
            "dem Bewertungszeitpunkt: jeder Lead wirkt seitdem untätig; wird LEADSCORE_DATA "
            "aktualisiert?"
        )
    return (
        f"the lead store's newest activity is from {newest:%Y-%m-%d}, {days} days before the "
        "scoring moment: every lead reads as quiet since; is LEADSCORE_DATA refreshed?"
    )


def _created_later(moment: pd.Timestamp, lang: str) -> str:
    """A lead created after the scoring moment has a negative age; it is scored as sent."""
    if lang == "de":
        return (
            f"lead.created_at liegt nach dem Bewertungszeitpunkt ({moment:%d.%m.%Y %H:%M:%S} "
            "UTC): das Alter des Leads ist negativ; eine Ortszeit ohne Versatz gesendet? (UTC "
            "mit 'Z' oder mit Versatz, z. B. +01:00)"
        )
    return (
        f"lead.created_at is after the scoring moment ({moment:%Y-%m-%d %H:%M:%S} UTC): the "
        "lead's age is negative; a local time sent without its offset? (UTC with 'Z', or the "
        "offset, e.g. +01:00)"
    )


STORE_OUTCOMES = {
    "en": "(the lead store's outcomes)",
    "de": "(laut den Abschlüssen im Lead-Speicher)",
}


def _existing_then(
    items: list[LeadRequest], prefix: str, created: pd.Series | None, moment: pd.Timestamp
) -> None:
    """A lead scored by id at a moment before it was created did not exist yet: a backfill's
    as_of too early scored it as a lead with no history (and sent it to sales). ``created``:
    the store's created_at by lead_id (every id asked for is known by now)."""
    if created is None:
        return
    born = created.loc[[item.lead_id for item in items if item.lead is None]]
    later = born[born > moment]
    if later.empty:
        return
    i = next(i for i, item in enumerate(items) if item.lead is None and item.lead_id in later)
    lead_id = items[i].lead_id
    raise client_error(
        [
            (
                (prefix, i, "lead_id") if prefix else ("lead_id",),
                f"{lead_id!r} was created on {later[lead_id]:%Y-%m-%d %H:%M} UTC, after the "
                f"scoring moment ({moment:%Y-%m-%d %H:%M} UTC): give a later as_of",
            )
        ]
    )


def _unique_ids(items: list[LeadRequest], prefix: str) -> None:
    """One answer per lead: a lead sent twice, inline or by id, would get one of its two scores
    twice (and the other only in the audit log)."""
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        lead_id = item.lead.lead_id if item.lead else item.lead_id
        assert lead_id is not None
        if lead_id in first:
            loc: tuple[str | int, ...] = (prefix, i) if prefix else ()
            loc += ("lead", "lead_id") if item.lead else ("lead_id",)
            raise client_error(
                [(loc, f"lead_id {lead_id!r} is already given by {prefix}.{first[lead_id]}")]
            )
        first[lead_id] = i


def client_error(errors: list[tuple[tuple[str | int, ...], str]]) -> ValidationError:
    """What the client sent wrong, found after BentoML's own validation, answered as BentoML
    answers its own: 400 with ``detail`` listing each ``loc`` and ``msg``."""
    return ValidationError.from_exception_data(
        "Input",
        [
            {"type": PydanticCustomError("input", "{message}", {"message": msg}), "loc": loc}
            for loc, msg in errors
        ],
    )


def _row_errors(problems: list[Problem]) -> ValidationError:
    """Problems of the rows at their JSON location: ``rows.<index>.<column>``."""
    errors = []
    for problem in problems:
        loc: tuple[str | int, ...] = ("rows",)
        if problem.row is not None:
            loc += (problem.row - 1,)
        if problem.column is not None:
            loc += (problem.column,)
        errors.append((loc, problem.message))
    return client_error(errors)


def _refuse_unknown_fields() -> None:
    """A field an API does not know is a 400 naming it. Every field of ``/score`` is optional,
    so a misspelt ``"activites"`` was dropped and the lead scored as if it had done nothing (a
    batch's misspelt ``"langauge"``: its leads answered in English). BentoML builds each API's
    request model from its signature and ignores other fields; this makes those models refuse
    them, checked where BentoML validates anyway (a middleware that parsed the body a second
    time cost a quarter of /score's throughput)."""
    for name in ("score", "score_batch", "score_rows"):
        spec = LeadScore.apis[name].input_spec
        spec.model_config["extra"] = "forbid"
        spec.model_rebuild(force=True)


def _add_middleware() -> None:
    settings = Settings()
    # the first added runs first: the request id echo, auth, the size limit, JSON only, then
    # our GET routes
    LeadScore.add_asgi_middleware(RequestIdEcho, pattern=REQUEST_ID_PATTERN)
    LeadScore.add_asgi_middleware(BearerAuth, tokens=settings.token_set())
    LeadScore.add_asgi_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    LeadScore.add_asgi_middleware(JsonOnly)
    LeadScore.add_asgi_middleware(OwnRoutes)


_add_middleware()
_refuse_unknown_fields()
