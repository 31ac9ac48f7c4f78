"""``drift_retraining_sensor``: a drift episode starts one retrain, once it can help.

Reads new materializations of ``feature_drift_report`` (their metadata) in storage order and
feeds them to :func:`mfg_assets.monitoring.retrain_plan.decide_plan`; the episode state and its
plan live in the sensor's cursor. The first drifted report opens an episode and *plans* its
retrain: ``maintenance_training_job`` runs for the planned day partition once the reports reach
one label horizon plus ``MFG_DRIFT_RETRAIN_POST_CHANGE_HOURS`` (default 12) after the episode's
start, so the training set holds post-change labels. The plan is shown where the UI shows the
report: an observation of ``feature_drift_report`` (partition of the report) with
``retrain_plan`` pending / requested / cancelled, the episode and the planned partition; the
sensor's skip reason says what each report meant. One run per episode (run key = episode); no
new episode within ``MFG_DRIFT_RETRAIN_COOLDOWN_HOURS`` (default 24 plant hours) of a retrain;
reports for hours older than ``MFG_DRIFT_MAX_REPORT_AGE_HOURS`` (default 72, 0 = no limit) never
retrain. Skipped reports (no champion yet, missing data) never count, so the sensor is harmless
on a fresh plant and RUNNING by default.
"""

from datetime import UTC, datetime

import dagster as dg

from mfg_assets.defs.automation import maintenance_training_job
from mfg_assets.monitoring.episodes import DriftObservation, max_report_age, run_key
from mfg_assets.monitoring.retrain_plan import (
    PlanConfig,
    PlanState,
    decide_plan,
    plan_metadata,
    plan_tags,
)

FEATURE_DRIFT_REPORT = dg.AssetKey("feature_drift_report")
BATCH = 200  # materializations read per tick; the cursor continues on the next tick
SHOWN = ("planned", "retrain", "cancelled")  # decisions recorded on the report as observations


def _plain(metadata: dict) -> dict:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


@dg.sensor(
    name="drift_retraining_sensor",
    job=maintenance_training_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Plans maintenance_training_job (training set → model → evaluation → gate "
    "→ promotion) for a drift episode: the first drifted feature_drift_report opens it, the "
    "retrain runs once one label horizon + MFG_DRIFT_RETRAIN_POST_CHANGE_HOURS of post-change "
    "labels exist (pending until then; shown as a retrain_plan observation on the report). One "
    "run per episode (run key = episode), none within the cool-down "
    "(MFG_DRIFT_RETRAIN_COOLDOWN_HOURS, default 24 plant hours). Skipped reports never count.",
)
def drift_retraining_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    state = PlanState.from_json(context.cursor)
    config = PlanConfig.from_settings()
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
    observations: list[dg.AssetObservation] = []
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
        start = state.episode_start
        state, decision = decide_plan(state, report, config, stale_before)
        messages.append(decision.message)
        if decision.action in SHOWN:
            observations.append(
                dg.AssetObservation(
                    asset_key=FEATURE_DRIFT_REPORT,
                    partition=report.partition,
                    metadata=plan_metadata(decision),
                )
            )
        if decision.retrain and decision.episode_id and decision.planned_partition:
            requests.append(
                dg.RunRequest(
                    run_key=run_key(decision.episode_id),
                    partition_key=decision.planned_partition,
                    tags=plan_tags(decision, state.episode_start or start),
                )
            )
    cursor = state.to_json()
    if requests:
        context.log.info("; ".join(messages))
        return dg.SensorResult(run_requests=requests, cursor=cursor, asset_events=observations)
    if not messages:
        reason = "no new feature_drift_report materializations"
    else:
        shown = messages[-5:]
        more = f" (+{len(messages) - len(shown)} earlier)" if len(messages) > len(shown) else ""
        reason = "no retrain: " + "; ".join(shown) + more
    return dg.SensorResult(skip_reason=reason, cursor=cursor, asset_events=observations)
