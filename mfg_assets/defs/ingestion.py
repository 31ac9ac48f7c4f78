"""Hourly extracts of the plant database: readings, inspections and machine events.

Each asset reads exactly its partition's hour (or the whole range of a single-run backfill)
and stores one parquet file per hour. Re-running a partition overwrites its file. Sensor
readings are read with the database's own ``COUNT(*)`` per hour, in one snapshot, and a check
holds the two equal. Only failures a retry can fix (connections, locks) are retried.
"""

from collections.abc import Callable, Iterator
from datetime import datetime

import dagster as dg
import polars as pl

from mfg_assets.defs.common.checks import check_result, specs
from mfg_assets.defs.common.metadata import frame_metadata, split_by_hour
from mfg_assets.defs.common.partitions import hourly_partitions
from mfg_assets.defs.common.policies import HOURLY_FRESHNESS, PLANT_DB_RETRY, RANGED_BACKFILL
from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.features import quality
from mfg_assets.ingestion import extract
from mfg_assets.plant.definition import active_plant
from mfg_assets.storage.partitions import hour_key

Extractor = Callable[[PlantDatabase, datetime, datetime], pl.DataFrame]
CountedExtractor = Callable[
    [PlantDatabase, datetime, datetime], tuple[pl.DataFrame, dict[datetime, int] | None]
]

NON_EMPTY = "Every hour in the step has rows (an empty hour means the plant feed stopped)."
SCHEMA = "Columns and types match the extract contract."
SOURCE_ROWS = (
    "Rows extracted = the plant database's own COUNT(*) of each hour's source window "
    "(every timestamp encoding), read in the same snapshot."
)


def plant_table_asset(
    name: str,
    description: str,
    extractor: Extractor,
    query: extract.WindowQuery,
    value_rule: tuple[str, str, Callable[[], tuple[str, ...]]] | None = None,
    expect_rows: bool | Callable[[], bool] = True,
    counted: CountedExtractor | None = None,
    split_column: str | None = None,
) -> dg.AssetsDefinition:
    """An hourly asset extracting ``query.table`` for its partition window.

    With ``counted``, the extractor also returns the database's row count per hour and the
    asset checks them (``source_rows``); rows are split into hours by ``split_column``
    (default: the time column). ``value_rule`` is ``(column, what, allowed)``: every value of
    ``column`` is one of ``allowed()`` (read when the asset runs: the active plant definition).
    A callable ``expect_rows`` is asked when the asset runs (a plant without inspections
    expects none).
    """
    checks = {"schema": SCHEMA} | ({"non_empty": NON_EMPTY} if expect_rows else {})
    if counted is not None:
        checks["source_rows"] = SOURCE_ROWS
    split_by = split_column or query.time_column
    schema = extract.SENSOR_READINGS_SCHEMA if counted is not None else query.schema
    if value_rule:
        checks["known_values"] = f"Every {value_rule[0]} is one of {value_rule[1]}."

    @dg.asset(
        name=name,
        description=description,
        partitions_def=hourly_partitions,
        backfill_policy=RANGED_BACKFILL,
        retry_policy=PLANT_DB_RETRY,
        freshness_policy=HOURLY_FRESHNESS,
        io_manager_key="parquet_io_manager",
        group_name="plant_ingestion",
        kinds={"sql", "polars", "parquet"},
        check_specs=specs(name, checks),
        metadata={"source_table": query.table, "time_column": query.time_column},
    )
    def _asset(
        context: dg.AssetExecutionContext, plant_db: PlantDatabase
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        window = context.partition_time_window
        counts: dict[datetime, int] | None = None
        try:
            if counted is not None:
                frame, counts = counted(plant_db, window.start, window.end)
            else:
                frame = extractor(plant_db, window.start, window.end)
        except extract.PlantDatabaseError as exc:
            raise dg.Failure(str(exc), allow_retries=exc.transient) from exc
        except Exception as exc:  # data the code cannot handle: the same on every retry
            raise dg.Failure(
                f"reading {query.table} failed on the data itself (not retried): {exc}",
                allow_retries=False,
            ) from exc
        keys = list(context.partition_keys)
        parts = split_by_hour(frame, split_by, keys)
        for key, part in parts.items():
            meta = frame_metadata(part, query.time_column)
            if counts is not None:
                meta["source_rows"] = sum(n for h, n in counts.items() if hour_key(h) == key)
            context.add_asset_metadata(meta, partition_key=key)
        yield dg.Output(parts, metadata={"plant_db": plant_db.masked_url})
        if counted is not None:
            extracted = {k: p.height for k, p in parts.items()}
            by_key: dict[str, int] = {}
            for hour, n in (counts or {}).items():
                by_key[hour_key(hour)] = by_key.get(hour_key(hour), 0) + n
            result = (
                quality.source_rows_match(extracted, by_key)
                if counts is not None
                else quality.QualityResult(
                    True, "WARN", "this backend gives no one-snapshot COUNT(*); not compared"
                )
            )
            yield check_result("source_rows", name, result)
        if callable(expect_rows) and not expect_rows():
            yield check_result(
                "non_empty",
                name,
                quality.QualityResult(
                    True, "WARN", f"the active plant definition expects no {query.table} rows"
                ),
            )
        elif expect_rows:
            rows = {k: p.height for k, p in parts.items()}
            yield check_result("non_empty", name, quality.partitions_non_empty(rows))
        yield check_result("schema", name, quality.schema_matches(frame, schema))
        if value_rule:
            column, _, allowed = value_rule
            yield check_result(
                "known_values", name, quality.values_in_set(frame, column, allowed())
            )

    return _asset


sensor_readings = plant_table_asset(
    "sensor_readings",
    "Raw sensor readings for the hour, long format (ts, machine_id, sensor_type, value), "
    "exactly as the plant's time-series database holds them — dirt included — plus the hour "
    "of the source window each row was counted in (source_hour) and what is wrong with it as "
    "stored (issue: non_numeric, bad_timestamp).",
    lambda db, a, b: db.sensor_readings(a, b),
    extract.SENSOR_READINGS,
    counted=lambda db, a, b: extract.extract_sensor_readings_counted(db.url, a, b),
    split_column="source_hour",
)
quality_inspections = plant_table_asset(
    "quality_inspections",
    "End-of-line quality inspections recorded by the MES during the hour.",
    lambda db, a, b: db.quality_inspections(a, b),
    extract.QUALITY_INSPECTIONS,
    expect_rows=lambda: active_plant().inspections.enabled,
    value_rule=(
        "defect_type",
        "the plant definition's inspection classes",
        lambda: active_plant().inspections.classes,
    ),
)
machine_events = plant_table_asset(
    "machine_events",
    "Failure and maintenance events recorded by the MES during the hour.",
    lambda db, a, b: db.machine_events(a, b),
    extract.MACHINE_EVENTS,
    value_rule=(
        "event_type",
        "the plant definition's event types",
        lambda: tuple(e.name for e in active_plant().events),
    ),
    expect_rows=False,  # most hours have no failure or maintenance, and that is good news
)
