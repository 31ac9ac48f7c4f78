"""Feature drift with controlled distributions, the fast path against the full computation,
bad input, and what the Dagster asset reads (metadata, markdown, HTML)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mfg_assets.monitoring.drift import (
    DriftConfig,
    DriftInputError,
    DriftReference,
    DriftResult,
    compute_feature_drift,
    default_drift_columns,
    prepare_reference,
    sample_rows,
)
from mfg_assets_tests.monitoring.conftest import COLUMNS, controlled_frame

WINDOW = (datetime(2026, 11, 8, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC))
REFERENCE_WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
SHIFTED = {"normal": 1.0, "uniform": 0.3, "gamma_scale": 1.6}  # 0.5 sd, 0.5 sd, x1.6 spread


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return controlled_frame(6000, seed=1)


@pytest.fixture(scope="module")
def no_drift(evidently: object, reference: pl.DataFrame) -> DriftResult:
    return compute_feature_drift(
        controlled_frame(2000, seed=2),
        reference,
        COLUMNS,
        window=WINDOW,
        reference_window=REFERENCE_WINDOW,
        reference_id="maintenance/v3",
    )


@pytest.fixture(scope="module")
def shifted(evidently: object, reference: pl.DataFrame) -> DriftResult:
    return compute_feature_drift(controlled_frame(2000, seed=3, **SHIFTED), reference, COLUMNS)


def test_same_distribution_is_not_drift(no_drift: DriftResult) -> None:
    """2,000 vs 6,000 rows of the same distributions. The normed Wasserstein distance of two
    samples of one distribution is ~0.8 * sqrt(1/2000 + 1/6000) ~ 0.02 sd, with a spread of
    about half that: the 0.3 threshold is > 20 of those spreads away, so a false positive is
    not a matter of luck (and the seeds are fixed, so the test is deterministic). Even
    Evidently's default 0.1 would hold: every score stays below 0.1."""
    assert no_drift.status == "ok"
    assert no_drift.dataset_drift is False
    assert no_drift.drifted_columns == []
    assert [c.column for c in no_drift.columns] == COLUMNS
    assert max(no_drift.scores.values()) < 0.1
    assert len(no_drift.report_columns) == 3  # the HTML shows the three closest
    assert {(c.method, c.threshold) for c in no_drift.columns} == {("wasserstein", 0.3)}


def test_shifted_columns_are_flagged_and_only_those(shifted: DriftResult) -> None:
    assert shifted.status == "ok"
    assert sorted(shifted.drifted_columns) == ["gamma", "normal", "uniform"]
    assert shifted.dataset_drift is True
    assert shifted.drift_share == pytest.approx(3 / 8)
    undrifted = [c for c in shifted.columns if not c.drifted]
    assert max(c.score for c in undrifted) < 0.1  # far from the threshold, not just below it
    assert min(shifted.scores[c] for c in ("normal", "uniform", "gamma")) > 0.35


def test_report_widgets_do_not_change_the_verdicts(
    evidently: object, shifted: DriftResult, reference: pl.DataFrame
) -> None:
    """Verdicts from the stat tests (default) equal those read from a report with every
    column; the report shows the drifted columns and the three closest to the threshold."""
    current = controlled_frame(2000, seed=3, **SHIFTED)
    every = compute_feature_drift(current, reference, COLUMNS, DriftConfig(report_columns="all"))
    assert every.columns == shifted.columns
    assert every.report_columns == COLUMNS
    nearest = sorted((c for c in shifted.columns if not c.drifted), key=lambda c: -c.score)[
        :3
    ]  # distance tests: the highest scores are the closest
    assert set(shifted.report_columns) == {"normal", "uniform", "gamma"} | {
        c.column for c in nearest
    }
    assert shifted.as_metadata()["report_columns"] == shifted.report_columns
    assert "report_columns" not in every.as_metadata()


def test_evidently_count_agrees_with_the_columns(evidently: object, reference) -> None:
    """With ``dataset_summary``, the HTML's DriftedColumnsCount equals the per-column verdicts."""
    current = controlled_frame(2000, seed=3, **SHIFTED)
    result = compute_feature_drift(current, reference, COLUMNS, DriftConfig(dataset_summary=True))
    metrics = result.snapshot.dict()["metrics"]
    count = next(m for m in metrics if m["config"]["type"].endswith(":DriftedColumnsCount"))
    assert count["value"]["count"] == result.n_drifted == 3
    assert count["value"]["share"] == pytest.approx(result.drift_share)
    assert sorted(result.drifted_columns) == ["gamma", "normal", "uniform"]


def test_dataset_flag_follows_the_share_threshold(evidently: object, reference) -> None:
    current = controlled_frame(2000, seed=4, normal=1.0)  # one column of eight drifts
    default = compute_feature_drift(current, reference, COLUMNS)
    strict = compute_feature_drift(current, reference, COLUMNS, DriftConfig(drift_share=0.3))
    assert default.drifted_columns == strict.drifted_columns == ["normal"]
    assert default.dataset_drift is True  # 1/8 = 12.5 % >= 10 %
    assert strict.dataset_drift is False  # 12.5 % < 30 %


def test_constant_columns(evidently: object) -> None:
    """Constant in both windows: no drift. Constant in the reference, varying now: drift."""
    reference = controlled_frame(1000, seed=5).with_columns(
        pl.lit(5.0).alias("flat"), pl.lit(1.0).alias("stuck")
    )
    current = controlled_frame(500, seed=6).with_columns(
        pl.lit(5.0).alias("flat"), (pl.col("uniform") + 1.0).alias("stuck")
    )
    result = compute_feature_drift(current, reference, ["normal", "flat", "stuck"])
    assert result.drifted_columns == ["stuck"]


def test_fast_path_flags_the_same_columns_as_the_full_computation(evidently: object) -> None:
    """Reference sampled to 3,000 of 24,000 rows (stratified by machine) vs the whole reference
    through DataDriftPreset: same verdicts. Scores move by the sampling noise of the reference,
    ~0.8 * sqrt(1/3000) ~ 0.015 sd (0.04 seen for the heavy-tailed column, whose std is itself
    noisy): within 0.05, a sixth of the 0.3 threshold."""
    reference = controlled_frame(24_000, seed=7, machines=200)
    current = controlled_frame(3000, seed=8, normal=0.8, beta_scale=1.5)
    fast = compute_feature_drift(
        current, reference, COLUMNS, DriftConfig(reference_sample_rows=3000)
    )
    full = compute_feature_drift(current, reference, COLUMNS, DriftConfig.full())
    assert fast.reference_rows_used < 3100 and full.reference_rows_used == 24_000
    assert sorted(fast.drifted_columns) == sorted(full.drifted_columns) == ["beta", "normal"]
    for column in COLUMNS:
        assert fast.scores[column] == pytest.approx(full.scores[column], abs=0.05)


def test_sample_rows_is_stratified_and_seeded() -> None:
    frame = pl.DataFrame({"machine_id": ["A"] * 8000 + ["B"] * 2000, "x": list(range(10_000))})
    sample = sample_rows(frame, 1000, "machine_id", seed=3)
    assert sample.height == 1000
    assert sample["machine_id"].value_counts().sort("machine_id")["count"].to_list() == [800, 200]
    assert sample.equals(sample_rows(frame, 1000, "machine_id", seed=3))
    assert not sample.equals(sample_rows(frame, 1000, "machine_id", seed=4))
    assert sample_rows(frame, 20_000).height == 10_000  # small frames are kept whole
    assert sample_rows(frame.drop("machine_id"), 500, seed=1).height == 500  # uniform


def test_prepared_reference_is_reused_and_round_trips(evidently: object, tmp_path) -> None:
    reference = controlled_frame(30_000, seed=9, machines=100)
    prepared = prepare_reference(
        reference, COLUMNS, DriftConfig(), reference_id="v7", window=REFERENCE_WINDOW
    )
    assert prepared.rows_total == 30_000 and prepared.sampled
    assert 19_900 <= prepared.rows_used <= 20_100  # per-machine rounding
    assert prepared.frame.columns == COLUMNS
    loaded = DriftReference.load(prepared.save(tmp_path / "ref"))
    assert loaded.frame.equals(prepared.frame)
    assert (loaded.rows_total, loaded.reference_id, loaded.window) == (
        30_000,
        "v7",
        REFERENCE_WINDOW,
    )
    result = compute_feature_drift(controlled_frame(1000, seed=10), loaded, COLUMNS)
    assert result.ok and result.reference_id == "v7" and result.reference_window == REFERENCE_WINDOW
    assert (result.reference_rows, result.reference_rows_used) == (30_000, prepared.rows_used)
    with pytest.raises(FileNotFoundError):
        DriftReference.load(tmp_path / "no_such_reference")


def test_metadata_and_markdown(no_drift: DriftResult, shifted: DriftResult) -> None:
    meta = no_drift.as_metadata()
    json.dumps(meta)  # plain JSON values only
    assert meta["status"] == "ok" and meta["dataset_drift"] is False
    assert meta["n_drifted"] == 0 and meta["n_columns"] == 8 and meta["drifted_columns"] == []
    assert set(meta["column_scores"]) == set(COLUMNS)
    assert (meta["drift_method"], meta["drift_threshold"]) == ("wasserstein", 0.3)
    assert (meta["current_rows"], meta["reference_rows"]) == (2000, 6000)
    assert meta["window_start"] == "2026-11-08T00:00:00+00:00"
    assert meta["window_end"] == "2026-11-09T00:00:00+00:00"
    assert meta["reference_start"] == "2026-11-01T00:00:00+00:00"
    assert meta["reference_id"] == "maintenance/v3"
    assert "Dataset drift: no" in no_drift.summary_markdown()
    assert "No column drifted" in no_drift.summary_markdown()

    markdown = shifted.summary_markdown()
    assert "Dataset drift: yes" in markdown and "3 of 8 columns" in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split("|")[1].strip() for row in table[1:]] == sorted(
        shifted.drifted_columns, key=lambda c: -shifted.scores[c]
    )
    assert shifted.as_metadata()["drifted_columns"] == shifted.drifted_columns


def test_html_is_written_and_names_the_columns(
    evidently: object, shifted: DriftResult, reference: pl.DataFrame, tmp_path
) -> None:
    """Default: widgets for the drifted columns and the 3 closest others; ``"all"``: every one."""
    text = shifted.save_html(tmp_path / "reports" / "drift.html").read_text(encoding="utf-8")
    assert len(text) > 100_000  # Evidently's bundle plus the widgets
    assert len(shifted.report_columns) == 6
    for column in shifted.report_columns:
        assert f"Value Drift for column {column}" in text  # its pass/fail test
    assert "Wasserstein" in text

    current = controlled_frame(2000, seed=3, **SHIFTED)
    every = compute_feature_drift(current, reference, COLUMNS, DriftConfig(report_columns="all"))
    text = every.save_html(tmp_path / "all.html").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"Value Drift for column {column}" in text


def test_sensor_offset_on_the_simulator_flags_temperature_columns(evidently: object) -> None:
    """Ten machines, two days as reference, then 12 hours: the same plant with and without the
    scenario (data before its start is identical). The clean plant does not drift; with
    ``sensor_offset`` (temperature +6) exactly temperature columns are added to the verdict."""
    from mfg_assets.features.pipeline import build_features
    from mfg_assets.plant.config import DirtConfig, PlantConfig
    from mfg_assets.plant.scenarios import scenario_spec
    from mfg_assets.plant.simulator import PlantSimulator

    epoch = datetime(2026, 11, 1, tzinfo=UTC)
    start, end = epoch + timedelta(days=2), epoch + timedelta(days=2, hours=12)
    clean = PlantConfig(machines=10, seed=3, sample_interval_s=30, epoch=epoch, dirt=DirtConfig())
    results = {}
    for name, config in (
        ("clean", clean),
        ("sensor_offset", clean.with_scenario(scenario_spec("sensor_offset", start))),
    ):
        sim = PlantSimulator(config)
        features = build_features(
            sim.readings(epoch, end), sim.inspections(epoch, end), sim.machine_ids, epoch, end
        ).features
        results[name] = compute_feature_drift(
            features.filter(pl.col("hour") >= start), features.filter(pl.col("hour") < start)
        )
    assert results["clean"].ok and results["clean"].dataset_drift is False
    offset = results["sensor_offset"]
    assert offset.ok and offset.dataset_drift is True
    added = set(offset.drifted_columns) - set(results["clean"].drifted_columns)
    level = {f"temperature_{stat}" for stat in ("mean", "min", "max", "last")}
    assert level <= added
    assert all(column.startswith("temperature_") for column in added)


# --- bad input: a clear "skipped" with the reason, never a "no drift" ---------------------------


def _frame(n: int = 200, seed: int = 11) -> pl.DataFrame:
    return controlled_frame(n, seed=seed)


@pytest.mark.parametrize(
    ("current", "reference", "reason"),
    [
        (lambda: _frame().head(0), _frame, "current window is empty"),
        (lambda: None, _frame, "current window is empty"),
        (_frame, lambda: None, "no reference data"),
        (_frame, lambda: _frame().head(0), "reference is empty"),
        (lambda: _frame().drop("poisson"), _frame, "missing from the current window: poisson"),
        (_frame, lambda: _frame().drop("beta", "gamma"), "missing from the reference: gamma, beta"),
        (
            lambda: _frame().with_columns(pl.lit(None, pl.Float64).alias("normal")),
            _frame,
            "all-null in the current window: normal",
        ),
        (
            _frame,
            lambda: _frame().with_columns(pl.lit(float("nan")).alias("uniform")),
            "all-null in the reference: uniform",
        ),
        (
            lambda: _frame().with_columns(pl.col("normal").cast(pl.String)),
            _frame,
            "not numeric in the current window: normal (String)",
        ),
        (lambda: _frame(12), _frame, "current window has 12 rows; at least 30"),
        (_frame, lambda: _frame(50), "reference has 50 rows; at least 100"),
        (
            lambda: _frame().with_columns(
                pl.when(pl.int_range(pl.len()) < 10).then(pl.col("normal")).alias("normal")
            ),
            _frame,
            "fewer than 30 non-null values in the current window: normal (10)",
        ),
    ],
)
def test_bad_input_is_skipped_with_the_reason(current, reference, reason, tmp_path) -> None:
    result = compute_feature_drift(current(), reference(), COLUMNS, window=WINDOW)
    assert result.status == "skipped"
    assert reason in (result.reason or "")
    assert result.dataset_drift is None and result.drift_share is None
    meta = result.as_metadata()
    assert meta["status"] == "skipped" and reason in meta["skip_reason"]
    assert "dataset_drift" not in meta and "drift_share" not in meta
    assert meta["window_start"] == WINDOW[0].isoformat()
    assert result.summary_markdown().startswith("**Drift report skipped**")
    html = result.save_html(tmp_path / "skipped.html").read_text()
    assert "Drift report skipped" in html
    with pytest.raises(DriftInputError, match="."):
        result.raise_if_skipped()


def test_missing_prepared_reference_columns_are_reported() -> None:
    prepared = prepare_reference(_frame(), ["normal", "uniform"])
    result = compute_feature_drift(_frame(), prepared, ["normal", "beta"])
    assert result.status == "skipped"
    assert result.reason == "columns missing from the reference: beta"


def test_default_columns_are_the_sensor_statistics() -> None:
    columns = default_drift_columns()
    assert len(columns) == 25
    assert "n_readings" not in columns and "defect_rate" not in columns
    assert not [c for c in columns if c.endswith("_slope")]  # heavy-tailed wear spikes
    result = compute_feature_drift(_frame(), _frame())  # default columns: all missing
    assert result.status == "skipped" and "temperature_mean" in (result.reason or "")


def test_skipped_constructor_for_callers() -> None:
    result = DriftResult.skipped("champion maintenance has no training window", window=WINDOW)
    assert result.as_metadata()["skip_reason"] == "champion maintenance has no training window"


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="drift_share"):
        DriftConfig(drift_share=0.0)
    with pytest.raises(ValueError, match="report"):
        DriftConfig(report="table")  # type: ignore[arg-type]
