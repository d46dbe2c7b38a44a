"""Training end to end on demo CRMs of 10k and 100k leads: wall time per stage and peak memory.

Each size runs in its own process so peak memory (``ru_maxrss``) belongs to that size alone.
The target: 100k leads in at most three minutes on two cores, demo generation not counted.

    uv run python benchmarks/train.py            # 10k and 100k
    uv run python benchmarks/train.py --leads 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (10_000, 100_000)


def run_one(n_leads: int, threads: int) -> dict[str, float]:
    """Generate, load, prepare, fit and evaluate, register: seconds per stage, peak MiB."""
    import dataclasses

    from features.demo import write_demo_crm
    from features.loaders import load_tables
    from leadscore.settings import Settings
    from training.model import BoosterParams
    from training.train import TrainConfig, fit_and_evaluate, prepare
    from training.workflow import register_result

    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data, models = Path(tmp) / "crm", Path(tmp) / "models"
        started = time.perf_counter()
        write_demo_crm(data, n_leads=n_leads, seed=1)
        timings["generate demo (not counted)"] = time.perf_counter() - started

        clock = time.perf_counter()
        config = TrainConfig(booster=dataclasses.replace(BoosterParams(), num_threads=threads))
        tables = load_tables(data)
        timings["load + validate"] = time.perf_counter() - clock
        stage = time.perf_counter()
        prepared = prepare(tables, config)
        timings["snapshots + split + features"] = time.perf_counter() - stage
        stage = time.perf_counter()
        result = fit_and_evaluate(prepared, config)
        timings["fit LightGBM + baselines + evaluate"] = time.perf_counter() - stage
        stage = time.perf_counter()
        settings = Settings(models_dir=models, mlflow_tracking_uri=f"sqlite:///{models}/mlflow.db")
        register_result(result, settings)
        timings["report + MLflow (incl. new SQLite store)"] = time.perf_counter() - stage
        timings["end to end (without demo)"] = time.perf_counter() - clock
        timings["training snapshots"] = float(len(prepared.frame))
        timings["test ROC-AUC"] = result.metrics["lightgbm"]["roc_auc"]
    timings["peak MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.leads[0], args.threads)))
        return
    results = {}
    for n in args.leads:
        command = [sys.executable, __file__, "--child", "--leads", str(n)]
        command += ["--threads", str(args.threads)]
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, env={**os.environ}
        )
        results[n] = json.loads(done.stdout.strip().splitlines()[-1])
    stages = list(next(iter(results.values())))
    width = max(len(s) for s in stages)
    header = f"{'stage':<{width}}" + "".join(f"{f'{n:,} leads':>16}" for n in results)
    print(f"cores: {os.cpu_count()}, LightGBM threads: {args.threads}")
    print(header)
    print("-" * len(header))
    for stage in stages:
        cells = []
        for values in results.values():
            value = values[stage]
            if stage == "training snapshots":
                cells.append(f"{value:>16,.0f}")
            elif stage == "test ROC-AUC":
                cells.append(f"{value:>16.3f}")
            elif stage == "peak MiB":
                cells.append(f"{value:>13,.0f} MiB")
            else:
                cells.append(f"{value:>14.1f} s")
        print(f"{stage:<{width}}" + "".join(cells))


if __name__ == "__main__":
    main()
