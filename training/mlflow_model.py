"""The MLflow pyfunc face of a LeadModel, logged as "model from code" (no pickled objects).

MLflow executes this file when someone loads the model with ``mlflow.pyfunc.load_model``; the
project itself never imports it. Input: a feature frame (``leadscore features`` output) with the
model's columns; output: calibrated probabilities. Serving does not go through here: it loads the
LeadModel directly (see :func:`training.registry.load_champion`).
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class LeadScorePyfunc(PythonModel):
    def load_context(self, context) -> None:
        from training.model import LeadModel

        self.model = LeadModel.load(context.artifacts["leadmodel"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.predict_proba(self.model.encode(model_input))


mlflow.models.set_model(LeadScorePyfunc())
