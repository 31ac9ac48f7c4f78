"""MLflow "model from code" for the maintenance model: raw feature columns in, P(failure) out.

MLflow copies this file into the logged model and runs it on load (no pickling); it needs
``mfg_assets`` importable wherever the model is loaded. Not meant to be imported otherwise.
"""

from typing import Any

import mlflow.models
import mlflow.pyfunc
import pandas as pd

from mfg_assets.models.maintenance.predictor import PREDICTOR_ARTIFACT, MaintenancePredictor


class MaintenancePyfuncModel(mlflow.pyfunc.PythonModel):
    """``predict(frame)`` → ``failure_probability`` and ``failure_predicted`` (at the threshold)."""

    def load_context(self, context: Any) -> None:
        self._predictor = MaintenancePredictor.load(context.artifacts[PREDICTOR_ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score raw feature rows (the logged signature has already checked names and types)."""
        proba = self._predictor.predict_proba(model_input)
        return pd.DataFrame(
            {
                "failure_probability": proba,
                "failure_predicted": proba >= self._predictor.threshold,
            }
        )


mlflow.models.set_model(MaintenancePyfuncModel())
