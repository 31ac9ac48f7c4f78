"""A straightforward pandas implementation of the seed's transform, as the benchmark baseline.

Same steps as ``mfg_assets.features.pipeline.build_features``: triage, IQR bounds from the
reference window, clip, pivot, interpolate per machine, hourly aggregates, inspection join.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from mfg_assets.plant.catalog import SENSOR_TYPES, SENSORS


def build_features_pandas(
    readings: pd.DataFrame,
    inspections: pd.DataFrame,
    known_machines: list[str],
    start: datetime,
    end: datetime,
    k: float = 3.0,
) -> pd.DataFrame:
    df = readings.copy()
    ranges = {s.name: (s.physical_min, s.physical_max) for s in SENSORS}
    lo = df["sensor_type"].map(lambda s: ranges.get(s, (np.nan, np.nan))[0])
    hi = df["sensor_type"].map(lambda s: ranges.get(s, (np.nan, np.nan))[1])
    usable = (
        df["machine_id"].isin(known_machines)
        & df["sensor_type"].isin(SENSOR_TYPES)
        & df["value"].notna()
        & (df["value"] >= lo)
        & (df["value"] <= hi)
    )
    df = df[usable]
    df = df[~df.duplicated(["ts", "machine_id", "sensor_type"], keep="first")]

    reference = df[df["ts"] < start]
    current = df[(df["ts"] >= start) & (df["ts"] < end)].copy()
    q = reference.groupby(["machine_id", "sensor_type"])["value"].quantile([0.25, 0.75]).unstack()
    q.columns = ["q1", "q3"]
    q["lower"] = q["q1"] - k * (q["q3"] - q["q1"])
    q["upper"] = q["q3"] + k * (q["q3"] - q["q1"])
    current = current.join(q[["lower", "upper"]], on=["machine_id", "sensor_type"])
    current["value"] = current["value"].clip(current["lower"], current["upper"])

    wide = current.pivot_table(
        index=["machine_id", "ts"], columns="sensor_type", values="value", aggfunc="first"
    ).reset_index()
    wide = wide.sort_values(["machine_id", "ts"])
    wide = wide.set_index("ts")
    filled = wide.groupby("machine_id")[list(SENSOR_TYPES)].transform(
        lambda s: s.interpolate(method="time").ffill().bfill()
    )
    filled["machine_id"] = wide["machine_id"]
    filled = filled.reset_index()
    filled["hour"] = filled["ts"].dt.floor("h")

    def slope(group: pd.DataFrame, col: str) -> float:
        t = (group["ts"] - group["ts"].min()).dt.total_seconds() / 60
        x = group[col]
        var = ((t - t.mean()) ** 2).sum()
        return float(((t - t.mean()) * (x - x.mean())).sum() / var) if var > 0 else np.nan

    grouped = filled.groupby(["machine_id", "hour"])
    parts = [grouped[list(SENSOR_TYPES)].agg(["mean", "std", "min", "max", "last"])]
    parts[0].columns = [f"{s}_{stat}" for s, stat in parts[0].columns]
    slopes = grouped.apply(
        lambda g: pd.Series({f"{s}_slope": slope(g, s) for s in SENSOR_TYPES}),
        include_groups=False,
    )
    features = pd.concat([parts[0], slopes], axis=1).reset_index()

    insp = inspections.copy()
    insp["hour"] = insp["inspection_time"].dt.floor("h")
    outcomes = insp.groupby(["machine_id", "hour"]).agg(
        n_inspections=("product_id", "size"),
        n_defects=("defect_type", lambda d: int((d != "normal").sum())),
    )
    outcomes["defect_rate"] = outcomes["n_defects"] / outcomes["n_inspections"]
    return features.merge(outcomes.reset_index(), on=["machine_id", "hour"], how="left")
