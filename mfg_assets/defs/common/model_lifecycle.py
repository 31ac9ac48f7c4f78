"""Dagster pieces every model's train → evaluate → gate → promote assets share.

Launchpad config, experiment loading, the MLflow experiment a model's runs go to, the lineage
tags of a trained version, the blocking ``promotion_gate`` check, plot metadata, freshness and
the training tag. The model-specific assets live in ``defs/maintenance.py`` and
``defs/defect.py``; the plain lifecycle they call is :mod:`mfg_assets.models.lifecycle`.
(No ``from __future__ import annotations``: Dagster reads the annotations of asset functions
and config classes at definition time.)
"""

import base64
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from mfg_assets.defs.common.partitions import daily_partitions

# Models are daily: warn when a day's model is two days late, fail after a week.
MODEL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=7), warn_window=timedelta(days=2)
)
# dagster.yaml limits runs with this tag to one at a time (training never starves ingestion).
TRAINING_TAGS = {"mfg/kind": "training"}
GATE_CHECK = "promotion_gate"


class ExperimentRunConfig(dg.Config):
    """Which experiment to run (a YAML under mfg_assets/models/experiments, or a path)."""

    experiment: str
    epochs: int | None = None


def load_experiment_config(experiment: str, epochs: int | None = None, kind: str | None = None):
    """The validated experiment (``epochs`` overriding ``training.epochs``); a ``dg.Failure``
    naming the offending field when it is invalid or of another model kind."""
    from mfg_assets.models.config import ExperimentConfigError, apply_overrides, load_experiment

    try:
        config = load_experiment(experiment)
        if epochs is not None:
            config = apply_overrides(config, {"training.epochs": epochs})
    except ExperimentConfigError as exc:
        raise dg.Failure(f"experiment {experiment!r} is invalid: {exc}") from exc
    if kind is not None and config.model.kind != kind:
        raise dg.Failure(
            f"experiment {experiment!r} is a {config.model.kind} experiment, this asset trains "
            f"a {kind} model (model.kind: {kind})"
        )
    return config


def mlflow_experiment_name(experiment: str) -> str:
    """The MLflow experiment ``experiment`` (a shipped YAML name) logs to: its
    ``logging.experiment_name``; what a model's ``mlflow_tracking`` resource is configured with."""
    from mfg_assets.models.config import load_experiment

    return load_experiment(experiment).logging.experiment_name


def lineage_tags(
    context: dg.AssetExecutionContext, window_start: Any, window_end: Any
) -> dict[str, str]:
    """Where a trained version came from (:data:`mfg_assets.models.lifecycle.LINEAGE_TAGS`):
    this run and daily partition, and the first and last time of the data it trained on."""
    return {
        "dagster_run_id": context.run.run_id,
        "dagster_partition": context.partition_key,
        "training_window_start": str(window_start),
        "training_window_end": str(window_end),
        "model_day": context.partition_time_window.start.date().isoformat(),
    }


def image_markdown(plots: dict[str, str]) -> str:
    """PNG files embedded in markdown metadata (the UI shows them inline)."""
    parts = []
    for name, path in plots.items():
        encoded = base64.b64encode(Path(path).read_bytes()).decode()
        parts.append(f"**{name}**\n\n![{name}](data:image/png;base64,{encoded})")
    return "\n\n".join(parts)


def promotion_gate_spec(asset: str, unit: str) -> dg.AssetCheckSpec:
    """The gate on an evaluation asset; ``unit`` says what "the same data" is."""
    return dg.AssetCheckSpec(
        GATE_CHECK,
        asset=asset,
        blocking=True,
        description="The challenger meets the experiment's absolute threshold AND beats "
        f"what `promotion.must_beat` names by the margin on the same {unit} (the maintenance "
        "model: champion, prior and best single-feature heuristic, with bootstrap intervals "
        "over test machines). A kept champion is an expected outcome: the check warns, the "
        "run succeeds and the champion step skips with the reason; promotion itself refuses "
        "any version whose recorded gate decision did not pass.",
    )


def promotion_gate_result(decision: Any, promotion: Any) -> dg.AssetCheckResult:
    """The gate's check result from a ``PromotionDecision`` and the experiment's promotion:
    a kept champion is a WARN (the run succeeds; the champion step skips)."""
    return dg.AssetCheckResult(
        check_name=GATE_CHECK,
        passed=decision.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=decision.reason,
        metadata={
            "metric": promotion.metric,
            "challenger": decision.challenger_value,
            "champion": decision.champion_value if decision.champion_value is not None else "none",
            "threshold": promotion.threshold,
            "margin": promotion.champion_margin,
        },
    )


# A model step retries (in the same run) only errors a retry can fix; a deterministic error or
# a gate decision is never retried. dagster.yaml sets run_retries.retry_on_asset_or_op_failure
# false, so a failed step never re-runs the whole run either.
STEP_RETRIES = 2
STEP_RETRY_SECONDS = 10


def is_transient_error(exc: BaseException) -> bool:
    """A lost or refused connection, a timeout or a locked database anywhere in the chain."""
    from mfg_assets.ingestion.extract import is_transient

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        name = type(current).__name__
        if name in ("ConnectTimeout", "ReadTimeout", "ConnectionError", "EndpointConnectionError"):
            return True
        if is_transient(str(current)) or "database is locked" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def transient_errors_retry(context: Any) -> Iterator[None]:
    """Turn a transient error inside the block into a step retry (``dg.RetryRequested``)."""
    try:
        yield
    except (dg.Failure, dg.RetryRequested):
        raise
    except Exception as exc:
        if is_transient_error(exc):
            context.log.warning(f"transient error, the step will retry: {exc}")
            raise dg.RetryRequested(
                max_retries=STEP_RETRIES, seconds_to_wait=STEP_RETRY_SECONDS
            ) from exc
        raise


# Run tags where an evaluation records its decision (visible in the run list).
DECISION_TAG = "mfg/promotion_decision"
DECISION_REASON_TAG = "mfg/promotion_reason"


def decision_run_tags(decision: Any, challenger_version: int) -> dict[str, str]:
    """``promote:vN`` or ``keep:vM`` and the (shortened) reason."""
    verdict = f"promote:v{challenger_version}" if decision.passed else "keep_champion"
    return {DECISION_TAG: verdict, DECISION_REASON_TAG: decision.reason[:1000]}


def champion_asset(
    name: str, *, model: str, model_asset: str, evaluation_asset: str, group: str, description: str
) -> dg.AssetsDefinition:
    """The daily step that moves ``champion`` of ``REGISTERED_MODELS[model]`` to the version the
    ``model_asset`` registered; it depends on ``evaluation_asset``, whose blocking gate keeps it
    from running when the challenger failed."""

    @dg.asset(
        name=name,
        partitions_def=daily_partitions,
        deps=[evaluation_asset],
        ins={"trained": dg.AssetIn(key=model_asset)},
        group_name=group,
        kinds={"mlflow"},
        freshness_policy=MODEL_FRESHNESS,
        io_manager_key="model_io_manager",
        output_required=False,
        description=description,
    )
    def _champion(context: dg.AssetExecutionContext, trained: dict):
        from mfg_assets.models import lifecycle
        from mfg_assets.models.registry import REGISTERED_MODELS

        version = int(trained["version"])
        with transient_errors_retry(context):
            outcome = lifecycle.promote_evaluated(REGISTERED_MODELS[model], version)
        if not outcome.promoted:
            # No output: the materialization is skipped (and so is the bento); say why.
            context.log.info(f"champion stays v{outcome.previous}: {outcome.reason}")
            yield dg.AssetObservation(
                asset_key=context.asset_key,
                partition=context.partition_key,
                metadata={
                    "promoted": False,
                    "challenger_version": version,
                    "champion_version": outcome.previous or 0,
                    "skip_reason": outcome.reason,
                },
            )
            return
        yield dg.Output(
            {"champion_version": version, "previous_champion": outcome.previous},
            metadata={
                "champion_version": version,
                "previous_champion": outcome.previous or 0,
                "gate": outcome.reason,
            },
        )

    return _champion


def evaluation_outputs(
    evaluation: Any,
    challenger_version: int,
    promotion: Any,
    plots_uri: str,
    *,
    metric_keys: Sequence[str] | None = None,
    value: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """An evaluation asset's output (challenger and champion metrics, decision) and its gate
    result; ``metric_keys`` limits the metrics shown as metadata, ``value``/``metadata`` add
    model-specific entries."""

    def shown(metrics: dict[str, float], prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_{k}": float(v)
            for k, v in metrics.items()
            if metric_keys is None or k in metric_keys
        }

    numbers = shown(evaluation.challenger, "challenger")
    if evaluation.champion:
        numbers.update(shown(evaluation.champion, "champion"))
    yield dg.Output(
        {
            "challenger_version": challenger_version,
            "champion_version": evaluation.champion_version,
            "challenger": evaluation.challenger,
            "champion": evaluation.champion,
            "passed": evaluation.decision.passed,
            "reason": evaluation.decision.reason,
            "evidence": evaluation.evidence,
            **(value or {}),
        },
        metadata={
            **numbers,
            "challenger_version": challenger_version,
            "champion_version": evaluation.champion_version or 0,
            "decision": "promote" if evaluation.decision.passed else "keep_champion",
            "decision_reason": evaluation.decision.reason,
            "gate_metric": promotion.metric,
            "plots": dg.MetadataValue.md(image_markdown(evaluation.plots)),
            "plots_dir": dg.MetadataValue.path(plots_uri),
            **(metadata or {}),
        },
    )
    yield promotion_gate_result(evaluation.decision, promotion)


def trained_metadata(trained: Any, **extra: Any) -> dict[str, Any]:
    """What every training asset records about its registered challenger, plus ``extra``."""
    return {
        "model_version": trained.version,
        "mlflow_run_id": trained.run_id,
        "experiment": trained.experiment,
        "best_epoch": trained.best_epoch or 0,
        "epochs_run": trained.epochs_run,
        "stopped_early": trained.stopped_early,
        "training_seconds": round(trained.seconds, 2),
        **extra,
    }
