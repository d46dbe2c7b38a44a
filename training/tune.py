"""Hyper-parameter search with Optuna on time-based folds inside the training period.

The test window is never looked at, and neither is the calibration slice: each trial trains on
older training leads and is scored (log-loss) on the next block of newer ones, the way the final
model is judged on leads newer than everything it learnt from. Bounded by a number of trials and
a time limit, seeded, so the same data and settings pick the same parameters.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import log_loss

from training.model import (
    BoosterParams,
    categorical_of,
    encode_frame,
    fit_booster,
    learn_categories,
)
from training.split import time_folds
from training.train import Prepared, TrainConfig, used_columns


def fold_loss(prepared: Prepared, config: TrainConfig, params: BoosterParams) -> float:
    """Mean validation log-loss over expanding-window folds of the training slices.

    Each fold's validation block also stops its boosting early, as ``valid`` does in training.
    """
    train = prepared.part("fit", "valid").reset_index(drop=True)
    columns = used_columns(config, prepared.columns)
    categorical = categorical_of(train, columns, registry=prepared.mode == "crm")
    losses = []
    folds = time_folds(train["created_at"])
    for fit_rows, valid_rows in folds:
        fit, valid = train.iloc[fit_rows], train.iloc[valid_rows]
        if fit["label"].nunique() < 2 or valid["label"].nunique() < 2:
            continue
        categories = learn_categories(fit, categorical)
        booster = fit_booster(
            (encode_frame(fit, columns, categories), fit["label"].to_numpy()),
            (encode_frame(valid, columns, categories), valid["label"].to_numpy()),
            columns,
            categorical,
            params,
        )
        raw = booster.predict(encode_frame(valid, columns, categories), raw_score=True)
        losses.append(log_loss(valid["label"].to_numpy(), 1 / (1 + np.exp(-raw)), labels=[0, 1]))
    if not losses:
        raise ValueError("no time fold inside the training period has both won and lost deals")
    return float(np.mean(losses))


@dataclass(frozen=True)
class Tuned:
    """The search's answer: the parameters to train with and what the search saw."""

    params: BoosterParams
    loss: float
    default_loss: float
    trials: int


SEARCHED = ("learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction", "lambda_l2")


def tune(prepared: Prepared, config: TrainConfig, trials: int, timeout_s: float = 600.0) -> Tuned:
    """The best parameters found within ``trials`` trials or ``timeout_s`` seconds.

    Trial one is the current defaults, so the answer is never worse than them on the folds.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = dataclasses.replace(config.booster, max_rounds=1000, early_stopping_rounds=50)

    def objective(trial: optuna.Trial) -> float:
        params = dataclasses.replace(
            base,
            learning_rate=trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
            num_leaves=trial.suggest_int("num_leaves", 4, 63, log=True),
            min_data_in_leaf=trial.suggest_int("min_data_in_leaf", 20, 400, log=True),
            feature_fraction=trial.suggest_float("feature_fraction", 0.3, 1.0),
            lambda_l2=trial.suggest_float("lambda_l2", 0.1, 100.0, log=True),
        )
        return fold_loss(prepared, config, params)

    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=base.seed)
    )
    study.enqueue_trial({name: getattr(base, name) for name in SEARCHED})
    study.optimize(objective, n_trials=trials, timeout=timeout_s)
    return Tuned(
        params=dataclasses.replace(config.booster, **study.best_params),
        loss=float(study.best_value),
        default_loss=float(study.trials[0].value),
        trials=len(study.trials),
    )
