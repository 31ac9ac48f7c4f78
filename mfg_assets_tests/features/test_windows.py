"""Window features (features/windows.py): rolling statistics over the hours present, event
counts, hours since maintenance, machine attributes; the Azure slice gives no empty or constant
column and matches plain rolling statistics of its readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mfg_assets.features.labels import failure_labels
from mfg_assets.features.windows import window_features, window_plan
from mfg_assets.plant.definition import (
    DefinitionError,
    load_definition,
    parse_definition,
    shipped_definitions,
)
from mfg_assets.plant.importers.datasets import dataset, datasets_dir

H0 = datetime(2015, 1, 1, tzinfo=UTC)
TS = pl.Datetime("us", "UTC")
AZURE_DIR = dataset("azure_pdm")


def _plant(**features: object) -> object:
    return parse_definition(
        {
            "name": "tiny",
            "sensors": {"temp": {"unit": "degC", "range": [0, 100], "cadence": "1h"}},
            "machines": {
                "attributes": [
                    {"name": "machine_type", "kind": "categorical", "values": ["a", "b"]},
                    {"name": "age", "kind": "numeric", "unit": "year"},
                ]
            },
            "components": ["c1", "c2"],
            "events": [
                {"name": "fail_c1", "kind": "failure", "component": "c1"},
                {"name": "maint_c2", "kind": "maintenance", "component": "c2"},
                {"name": "err", "kind": "error"},
            ],
            "features": {
                "rolling": [{"hours": 3, "stats": ["mean", "std", "min", "max", "slope", "last"]}],
                "event_counts": [{"hours": 2, "event_types": ["err"]}],
                "hours_since_maintenance": True,
                "machine_attributes": ["machine_type", "age"],
                **features,
            },
        },
        "tiny.yaml",
    )


def _hourly(values: dict[int, float]) -> pl.DataFrame:
    hours = sorted(values)
    return pl.DataFrame(
        {
            "machine_id": ["m1"] * len(hours),
            "hour": [H0 + timedelta(hours=h) for h in hours],
            **{f"temp_{s}": [values[h] for h in hours] for s in ("mean", "min", "max", "last")},
        },
        schema_overrides={"hour": TS},
    )


def _events(rows: list[tuple[float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [H0 + timedelta(hours=h) for h, _ in rows],
            "machine_id": ["m1"] * len(rows),
            "event_type": [e for _, e in rows],
        },
        schema={"ts": TS, "machine_id": pl.String(), "event_type": pl.String()},
    )


MACHINES = pl.DataFrame({"machine_id": ["m1"], "machine_type": ["b"], "age": [7.0]})


def test_rolling_windows_use_only_the_hours_present():
    plant = _plant()
    # hour 3 is missing: the window of hour 4 holds hours 2 and 4 only (no extrapolation)
    hourly = _hourly({0: 1.0, 1: 2.0, 2: 3.0, 4: 7.0})
    out = window_features(
        plant, hourly, _events([]), MACHINES, H0, H0 + timedelta(hours=5), H0 - timedelta(days=1)
    )
    rows = {r["hour"]: r for r in out.iter_rows(named=True)}
    assert sorted(rows) == [H0 + timedelta(hours=h) for h in (0, 1, 2, 4)]  # no invented hour
    h2, h4 = rows[H0 + timedelta(hours=2)], rows[H0 + timedelta(hours=4)]
    assert h2["temp_mean_3h"] == pytest.approx(2.0)
    assert h2["temp_std_3h"] == pytest.approx(1.0)
    assert h2["temp_slope_3h"] == pytest.approx(1.0)  # per hour
    assert (h2["temp_min_3h"], h2["temp_max_3h"], h2["hours_present_3h"]) == (1.0, 3.0, 3)
    assert h4["hours_present_3h"] == 2
    assert h4["temp_mean_3h"] == pytest.approx(5.0)
    assert h4["temp_slope_3h"] == pytest.approx(2.0)  # (7 - 3) / 2 h
    assert h4["temp_last_3h"] == 7.0
    first = rows[H0]
    assert first["temp_std_3h"] is None and first["temp_slope_3h"] is None  # one hour: undefined
    assert first["event_timestamp"] == H0 + timedelta(hours=1)


def test_reads_earlier_hours_but_emits_only_the_window():
    plant = _plant()
    hourly = _hourly({h: float(h) for h in range(6)})
    start = H0 + timedelta(hours=4)
    out = window_features(
        plant, hourly, _events([]), MACHINES, start, start + timedelta(hours=2), H0
    )
    assert out["hour"].to_list() == [start, start + timedelta(hours=1)]
    assert out["temp_mean_3h"].to_list() == pytest.approx([3.0, 4.0])  # hours 2-4, 3-5
    assert window_plan(plant).lookback_hours == 2


def test_event_counts_hours_since_and_attributes():
    plant = _plant()
    hourly = _hourly({h: 1.0 for h in range(6)})
    events = _events(
        [
            (0.5, "err"),  # in hour 0
            (2.0, "err"),  # in hour 2
            (2.5, "err"),
            (1.0, "fail_c1"),  # a failure replaces c1
            (-10.0, "maint_c2"),
        ]
    )
    history = H0 - timedelta(days=1)
    out = window_features(plant, hourly, events, MACHINES, H0, H0 + timedelta(hours=6), history)
    rows = {r["hour"]: r for r in out.iter_rows(named=True)}
    # 2 h window of hour h: events in [h-1, h+1) hours
    counts = [rows[H0 + timedelta(hours=h)]["err_count_2h"] for h in range(6)]
    assert counts == [1.0, 1.0, 2.0, 2.0, 0.0, 0.0]
    # hour 0 ends at 1 h: c1 never replaced yet → since the records began (25 h)
    assert rows[H0]["hours_since_c1"] == pytest.approx(25.0)
    assert rows[H0 + timedelta(hours=1)]["hours_since_c1"] == pytest.approx(1.0)
    assert rows[H0 + timedelta(hours=3)]["hours_since_c2"] == pytest.approx(14.0)
    assert rows[H0]["machine_type_b"] == 1.0 and rows[H0]["machine_type_a"] == 0.0
    assert rows[H0]["age"] == 7.0


def test_windows_that_could_only_be_empty_are_refused():
    with pytest.raises(DefinitionError, match="std of temp over 1 h has 1 sample"):
        window_plan(_plant(rolling=[{"hours": 1, "stats": ["mean", "std"]}]))
    twice = [{"hours": 3, "stats": ["mean"]}, {"hours": 3, "stats": ["mean", "max"]}]
    with pytest.raises(DefinitionError, match=r"computed twice: \['temp_mean_3h'\]"):
        window_plan(_plant(rolling=twice))
    loose = _plant()
    data = loose.model_dump()
    data["machines"]["attributes"][0]["values"] = None
    with pytest.raises(DefinitionError, match="machine_type is categorical without a values"):
        window_plan(parse_definition(data, "loose.yaml"))


def test_simulator_one_hour_window_is_its_hourly_statistics():
    plant = load_definition(shipped_definitions()["simulator"])
    plan = window_plan(plant)
    assert "temperature_slope_1h" in plan.feature_columns()
    assert "hours_since_maintenance" in plan.feature_columns()
    hourly = pl.DataFrame(
        {
            "machine_id": ["m1"],
            "hour": [H0],
            **{f"{s}_{st}": [1.5] for s in plant.sensor_names for st in plan_stats(plan)},
        },
        schema_overrides={"hour": TS},
    )
    events = pl.DataFrame(
        {"ts": [H0 - timedelta(hours=3)], "machine_id": ["m1"], "event_type": ["maintenance"]},
        schema={"ts": TS, "machine_id": pl.String(), "event_type": pl.String()},
    )
    out = window_features(
        plant, hourly, events, pl.DataFrame({"machine_id": ["m1"]}), H0, H0 + timedelta(hours=1), H0
    )
    assert out["temperature_slope_1h"].to_list() == [1.5]
    assert out["hours_since_maintenance"].to_list() == [4.0]


def plan_stats(plan: object) -> set[str]:
    return {stat for _, _, stat in plan.rolling}


def test_labels_use_the_definitions_failure_types():
    plant = load_definition(shipped_definitions()["azure_pdm"])
    running = pl.DataFrame(
        {"machine_id": ["1", "1"], "hour": [H0, H0 + timedelta(hours=5)]},
        schema_overrides={"hour": TS},
    )
    events = pl.DataFrame(
        {
            "ts": [H0 + timedelta(hours=3), H0 + timedelta(hours=8)],
            "machine_id": ["1", "1"],
            "event_type": ["failure_comp2", "error1"],
        },
        schema={"ts": TS, "machine_id": pl.String(), "event_type": pl.String()},
    )
    out = failure_labels(
        running,
        events,
        timedelta(hours=plant.label.horizon_hours),
        events_until=H0 + timedelta(days=3),
        failure_types=plant.label_failure_types,
    )
    assert out["failure_within_h"].to_list() == [1, 0]  # the error is not a failure
    assert out["hours_to_failure"].to_list() == [2.0, None]


# -- the Azure slice ----------------------------------------------------------------------------


def _azure_inputs() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Hourly features of an hourly plant (mean = min = max = last = the reading) and the
    events/machines straight from the CSVs, with the importer's naming."""
    plant = load_definition(shipped_definitions()["azure_pdm"])

    def utc(column: str) -> pl.Expr:
        return pl.col(column).str.to_datetime().dt.replace_time_zone("UTC")

    telemetry = pl.read_csv(AZURE_DIR / "PdM_telemetry.csv")
    hourly = telemetry.select(
        pl.col("machineID").cast(pl.String).alias("machine_id"),
        utc("datetime").alias("hour"),
        *[
            pl.col(s).alias(f"{s}_{stat}")
            for s in plant.sensor_names
            for stat in ("mean", "min", "max", "last")
        ],
    )
    parts = []
    for name, column, prefix in (
        ("PdM_errors.csv", "errorID", ""),
        ("PdM_failures.csv", "failure", "failure_"),
        ("PdM_maint.csv", "comp", "maint_"),
    ):
        raw = pl.read_csv(AZURE_DIR / name)
        parts.append(
            raw.select(
                utc("datetime").alias("ts"),
                pl.col("machineID").cast(pl.String).alias("machine_id"),
                (pl.lit(prefix) + pl.col(column)).alias("event_type"),
            )
        )
    machines = pl.read_csv(AZURE_DIR / "PdM_machines.csv").select(
        pl.col("machineID").cast(pl.String).alias("machine_id"), "model", "age"
    )
    return hourly, pl.concat(parts), machines


@pytest.mark.skipif(
    AZURE_DIR is None,
    reason=f"Azure PdM slice not found in {datasets_dir()} (MFG_DATASETS_DIR)",
)
def test_azure_slice_has_no_empty_or_constant_column_and_matches_plain_rolling():
    plant = load_definition(shipped_definitions()["azure_pdm"])
    hourly, events, machines = _azure_inputs()
    start, end = hourly["hour"].min(), hourly["hour"].max() + timedelta(hours=1)
    out = window_features(
        plant, hourly, events, machines, start, end, datetime(2014, 1, 1, tzinfo=UTC)
    )
    assert out.height == hourly.height == 43_200
    for column in out.columns:
        assert out[column].null_count() < out.height, f"{column} is empty"
        assert out[column].drop_nulls().n_unique() > 1, f"{column} is constant"
    # only the first hour of each machine lacks a std (one hour in the window)
    assert out["volt_std_24h"].null_count() == 20
    # for an hourly plant the windows are the readings' plain rolling statistics
    expected = hourly.sort("machine_id", "hour").select(
        "machine_id",
        "hour",
        pl.col("volt_mean").rolling_mean_by("hour", "24h").over("machine_id").alias("m"),
        pl.col("vibration_mean").rolling_std_by("hour", "3h").over("machine_id").alias("s"),
    )
    joined = out.join(expected, on=["machine_id", "hour"])
    assert (joined["volt_mean_24h"] - joined["m"]).abs().max() < 1e-9
    assert (joined["vibration_std_3h"] - joined["s"]).abs().max() < 1e-9
    # error counts over 24 h sum to 24 × the errors of the slice, less those near its end
    total = out["error1_count_24h"].sum()
    errors = events.filter(pl.col("event_type") == "error1").height
    assert 0 < total <= 24 * errors
