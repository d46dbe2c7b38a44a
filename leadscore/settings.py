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

    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.models_dir / 'mlflow.db').resolve()}"


def load_settings() -> Settings:
    return Settings()
