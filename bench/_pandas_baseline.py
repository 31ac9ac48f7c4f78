"""A straightforward pandas implementation of the seed's transform, as the benchmark baseline.

Same steps as ``mfg_assets.features.pipeline.build_features``: triage, Hampel spike filter
(centred rolling median / MAD per machine-sensor), pivot, interpolate per machine, hourly
aggregates, inspection join — written the straightforward way (``map(lambda)``,
``groupby().transform(lambda)``, ``groupby().apply``), as the slow reference point.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from mfg_assets.plant.catalog import SENSOR_TYPES, SENSORS


def build_features_pandas(
    readings: pd.DataFrame,
    inspections: pd.DataFrame,
    known_machines: list[str],
    start: datetime,
    end: datetime,
    window: int = 11,
    threshold: float = 8.0,
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

    df = df[(df["ts"] >= start - timedelta(minutes=5)) & (df["ts"] < end)]
    df = df.sort_values(["machine_id", "sensor_type", "ts"])
    df["median"] = df.groupby(["machine_id", "sensor_type"])["value"].transform(
        lambda s: s.rolling(window, center=True, min_periods=5).median()
    )
    df["residual"] = (df["value"] - df["median"]).abs()
    df["hour"] = df["ts"].dt.floor("h")
    df["scale"] = df.groupby(["machine_id", "sensor_type", "hour"])["residual"].transform(
        lambda r: 1.4826 * r.median()
    )
    floor = 1e-6 * df["median"].abs() + 1e-9
    spike = df["residual"] > threshold * np.maximum(df["scale"], floor)
    current = df[~spike & (df["ts"] >= start)].copy()

    wide = current.pivot_table(
        index=["machine_id", "ts"], columns="sensor_type", values="value", aggfunc="first"
    ).reset_index()
    wide = wide.sort_values(["machine_id", "ts"])
    wide = wide.set_index("ts")
    filled = wide.groupby("machine_id")[list(SENSOR_TYPES)].transform(
        lambda s: s.interpolate(method="time", limit_area="inside")
    )
    filled["machine_id"] = wide["machine_id"]
    filled = filled.reset_index()
    filled["hour"] = filled["ts"].dt.floor("h")

    def slope(group: pd.DataFrame, col: str) -> float:
        known = group[col].notna()
        t = (group["ts"][known] - group["ts"].min()).dt.total_seconds() / 60
        x = group[col][known]
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
