"""Training frames (pandas or polars) → checked numpy arrays, failing before any training starts.

A training frame has the feature columns, ``machine_id``, ``event_timestamp``, the 0/1 label
column and a ``split`` column (``train`` / ``validation`` / ``test``, time-ordered).
``machine_id`` is optional. Without it, the normalizer cannot spot machine-fingerprint features
(see ``normalization``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mfg_assets.features.schema import model_feature_columns
from mfg_assets.features.splits import SPLITS
from mfg_assets.models.config import ExperimentConfig


class FeatureFrameError(ValueError):
    """A frame whose features cannot be fed to the model (missing columns, NaN)."""


class TrainingDataError(FeatureFrameError):
    """The training frame cannot be trained on; the message lists every problem found."""


GROUP_COLUMN = "machine_id"


@dataclass(frozen=True)
class SplitArrays:
    x: np.ndarray  # raw features, float64, rows × features
    y: np.ndarray  # labels, float32 0/1
    groups: np.ndarray | None = None  # machine_id per row (object), when the frame has it


@dataclass(frozen=True)
class TrainingData:
    feature_names: list[str]
    splits: dict[str, SplitArrays]


def model_features(config: ExperimentConfig) -> list[str]:
    """The configured feature columns, or every model-facing feature of the active plant."""
    return list(config.data.feature_columns or model_feature_columns())


def column_values(frame: Any, column: str, dtype: Any = np.float64) -> np.ndarray:
    """One column of a pandas or polars frame as numpy; nulls become NaN for float dtypes."""
    series = frame[column]
    if type(frame).__module__.startswith("polars"):
        if np.dtype(dtype).kind == "f":
            import polars as pl

            series = series.cast(pl.Float64, strict=False)
        return series.to_numpy().astype(dtype)
    if np.dtype(dtype).kind == "f":
        return series.to_numpy(dtype=np.float64, na_value=np.nan).astype(dtype)
    return series.to_numpy().astype(dtype)


def feature_matrix(frame: Any, feature_names: list[str]) -> np.ndarray:
    """Rows × features float64 matrix; raises :class:`FeatureFrameError` naming missing columns."""
    missing = [c for c in feature_names if c not in frame.columns]
    if missing:
        raise FeatureFrameError(f"frame is missing feature columns: {', '.join(missing)}")
    if not feature_names:
        raise FeatureFrameError("no feature columns given")
    return np.column_stack([column_values(frame, c) for c in feature_names])


def finite_feature_matrix(frame: Any, feature_names: list[str]) -> np.ndarray:
    """:func:`feature_matrix` that also rejects NaN/null/inf, naming the columns."""
    x = feature_matrix(frame, feature_names)
    bad = (~np.isfinite(x)).sum(axis=0)
    if bad.any():
        where = ", ".join(f"{feature_names[j]} ({n})" for j, n in enumerate(bad) if n)
        raise FeatureFrameError(f"features hold NaN/null/inf values: {where}")
    return x


def select_split(frame: Any, split: str, split_column: str = "split") -> Any:
    """The rows of one split, same frame type as given."""
    mask = column_values(frame, split_column, dtype=object) == split
    if type(frame).__module__.startswith("polars"):
        return frame.filter(mask)
    return frame[mask]


def prepare_training_data(frame: Any, config: ExperimentConfig) -> TrainingData:
    """Check the frame and split it into arrays; every problem is reported in one error."""
    names = model_features(config)
    label, split_col = config.data.label_column, config.data.split_column
    missing_features = [c for c in names if c not in frame.columns]
    missing_other = [c for c in (label, split_col) if c not in frame.columns]
    if missing_features or missing_other:
        parts = []
        if missing_features:
            parts.append(f"missing feature columns: {', '.join(missing_features)}")
        if missing_other:
            parts.append(f"missing columns: {', '.join(missing_other)}")
        raise TrainingDataError("training frame " + "; ".join(parts))

    errors: list[str] = []
    split_values = column_values(frame, split_col, dtype=object)
    unknown = sorted({str(v) for v in split_values} - set(SPLITS))
    if unknown:
        errors.append(f"{split_col} has unknown values {unknown} (expected {list(SPLITS)})")
    empty = [s for s in SPLITS if not (split_values == s).any()]
    if empty:
        errors.append(f"empty split(s): {', '.join(empty)} (0 rows)")

    x_all = feature_matrix(frame, names)
    nan_report = []
    for split in SPLITS:
        bad = ~np.isfinite(x_all[split_values == split])
        if bad.any():
            per_column = [f"{names[j]} ({n})" for j, n in enumerate(bad.sum(axis=0)) if n]
            nan_report.append(f"{split}: {', '.join(per_column)}")
    if nan_report:
        total = int((~np.isfinite(x_all)).sum())
        errors.append(f"features hold {total} NaN/null/inf values — " + "; ".join(nan_report))

    y_all = column_values(frame, label)
    labels = set(np.unique(y_all[np.isfinite(y_all)]).tolist())
    if np.isnan(y_all).any() or not labels <= {0.0, 1.0}:
        nulls = int(np.isnan(y_all).sum())
        errors.append(f"{label} must hold only 0/1 (found values {sorted(labels)}, {nulls} nulls)")
    else:
        train_labels = np.unique(y_all[split_values == "train"])
        if len(train_labels) == 1:
            n = int((split_values == "train").sum())
            errors.append(
                f"{label} has a single class in the train split (all {int(train_labels[0])}, "
                f"{n} rows); training needs both failures and non-failures"
            )
    if errors:
        raise TrainingDataError("training frame is not usable: " + "; ".join(errors))

    groups = (
        column_values(frame, GROUP_COLUMN, dtype=object) if GROUP_COLUMN in frame.columns else None
    )
    splits = {}
    for s in SPLITS:
        rows = split_values == s
        splits[s] = SplitArrays(
            x_all[rows],
            y_all[rows].astype(np.float32),
            groups[rows] if groups is not None else None,
        )
    return TrainingData(names, splits)
