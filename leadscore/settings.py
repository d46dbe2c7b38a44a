"""One typed settings object, read once by the command line or the service and passed down.

Values come from environment variables (``LEADSCORE_*``, plus ``MLFLOW_TRACKING_URI``); nothing
is read or created at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", extra="ignore")

    models_dir: Path = Field(
        Path("models"), description="Embedded MLflow store and artifacts when no URI is set."
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "LEADSCORE_MLFLOW_TRACKING_URI"),
        description="MLflow backend; default is a SQLite file under models_dir.",
    )
    horizon_days: int = Field(90, gt=0, description="A lead counts as won within this horizon.")
    half_life_days: float = Field(30.0, gt=0, description="Half-life of time-decayed engagement.")
    language: Literal["en", "de"] = Field("en", description="Language of reasons and notes.")
    api_tokens: str = Field("", description="Comma-separated bearer tokens for the HTTP API.")
    audit_database: str | None = Field(
        None, description="Audit log URL; default is a SQLite file under models_dir."
    )
    data: str | None = Field(
        None, description="CRM the service may look leads up in (folder or database URL)."
    )
    routing_file: Path | None = Field(
        None, description="Routing rules (YAML); default is serving/routing.yaml."
    )
    reload_seconds: float = Field(
        30.0, gt=0, description="How often the service checks for a new champion."
    )
    max_request_bytes: int = Field(5_000_000, gt=0, description="Largest accepted request body.")
    workers: int = Field(2, ge=1, le=64, description="HTTP worker processes of the service.")
    access_log: bool = Field(
        False,
        description="BentoML's line per HTTP request (about 0.8 ms of CPU each); every score is "
        "in the audit log either way.",
    )

    def token_set(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.api_tokens.split(",") if t.strip())

    def audit_url(self) -> str:
        if self.audit_database:
            return self.audit_database
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.models_dir / 'audit.db').resolve()}"

    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.models_dir / 'mlflow.db').resolve()}"


def load_settings() -> Settings:
    return Settings()
