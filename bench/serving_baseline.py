"""Plain FastAPI + uvicorn serving the same maintenance model: the baseline of bench/serving.py.

Same request schema (:class:`PredictRequest`, feature rows), same scorer and lineage, one model
call per request (no batching), FastAPI's default JSON response. Run:
``MFG_MAINTENANCE_MODEL_TAG=maintenance_model:v1 uvicorn bench.serving_baseline:app --port N``.
"""

from __future__ import annotations

import os

import torch
from fastapi import FastAPI

from mfg_assets.serving.maintenance import (
    MachinePrediction,
    PredictRequest,
    PredictResponse,
    check_output,
    rows_matrix,
)
from mfg_assets.serving.maintenance_runtime import load_scorer

torch.set_num_threads(1)
scorer = load_scorer(os.environ.get("MFG_MAINTENANCE_MODEL_TAG", "maintenance_model:latest"))
app = FastAPI(title="maintenance baseline")


@app.post("/predict")
def predict(request: PredictRequest) -> PredictResponse:
    matrix = rows_matrix(request.rows or [], scorer.feature_names)
    proba = check_output(scorer.score(matrix), len(matrix))
    return PredictResponse(
        predictions=[
            MachinePrediction(
                failure_probability=float(p), failure_predicted=bool(p >= scorer.threshold)
            )
            for p in proba
        ],
        threshold=scorer.threshold,
        source="rows",
        lineage=scorer.lineage,
    )
