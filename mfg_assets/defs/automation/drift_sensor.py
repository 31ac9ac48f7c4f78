"""``drift_retraining_sensor``: a drifted ``feature_drift_report`` starts one retrain.

Reads new materializations of ``feature_drift_report`` (their metadata) in storage order and
feeds them to :func:`mfg_assets.monitoring.episodes.decide`; the episode state lives in the
sensor's cursor. One drift episode requests one run of ``maintenance_training_job`` for the day
partition of the drifted report, with a run key derived from the episode (Dagster never starts
two runs with one key) and tags naming the report it reacted to. Skipped reports (no champion
yet, missing data) never start a retrain: the sensor is harmless on a fresh plant, so it is
RUNNING by default. Cool-down: ``MFG_DRIFT_RETRAIN_COOLDOWN_HOURS`` (default 24, plant hours);
reports for hours older than ``MFG_DRIFT_MAX_REPORT_AGE_HOURS`` (default 72, 0 = no limit) never
retrain (a backfill of drift reports does not retrain past days).
"""

from datetime import UTC, datetime

import dagster as dg

from mfg_assets.defs.automation import maintenance_training_job
from mfg_assets.monitoring.episodes import (
    DriftObservation,
    EpisodeState,
    decide,
    max_report_age,
    retrain_cooldown,
    retrain_partition,
    retrain_tags,
    run_key,
)

FEATURE_DRIFT_REPORT = dg.AssetKey("feature_drift_report")
BATCH = 200  # materializations read per tick; the cursor continues on the next tick


def _plain(metadata: dict) -> dict:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


@dg.sensor(
    name="drift_retraining_sensor",
    job=maintenance_training_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Requests maintenance_training_job (training set → model → evaluation → gate "
    "→ promotion) for the day of a drifted feature_drift_report: one run per drift episode "
    "(run key = episode), none within the cool-down (MFG_DRIFT_RETRAIN_COOLDOWN_HOURS, default "
    "24 plant hours). Skipped reports never trigger a retrain.",
)
def drift_retraining_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    state = EpisodeState.from_json(context.cursor)
    cooldown = retrain_cooldown()
    max_age = max_report_age()
    stale_before = datetime.now(UTC) - max_age if max_age is not None else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=FEATURE_DRIFT_REPORT, after_storage_id=state.after_storage_id or None
        ),
        limit=BATCH,
        ascending=True,
    ).records
    requests: list[dg.RunRequest] = []
    messages: list[str] = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        report = DriftObservation.from_metadata(
            record.storage_id,
            record.run_id,
            materialization.partition,
            _plain(dict(materialization.metadata)),
        )
        state, decision = decide(state, report, cooldown, stale_before)
        messages.append(decision.message)
        if decision.retrain and decision.episode_id:
            requests.append(
                dg.RunRequest(
                    run_key=run_key(decision.episode_id),
                    partition_key=retrain_partition(report.partition),
                    tags=retrain_tags(decision),
                )
            )
    cursor = state.to_json()
    if requests:
        context.log.info("; ".join(messages))
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    if not messages:
        reason = "no new feature_drift_report materializations"
    else:
        shown = messages[-5:]
        more = f" (+{len(messages) - len(shown)} earlier)" if len(messages) > len(shown) else ""
        reason = "no retrain: " + "; ".join(shown) + more
    return dg.SensorResult(skip_reason=reason, cursor=cursor)
