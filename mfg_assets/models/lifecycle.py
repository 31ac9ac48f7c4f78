"""One lifecycle for every registered model: train → register the challenger → evaluate it
against the champion on the same held-out rows → gate → promote (→ serving packages the
champion: ``serving.model_store`` and the bentos).

A model plugs in through :class:`ModelLifecycle` (``models.maintenance.workflow`` and
``models.defect.workflow``): it trains, logs its MLflow model and hands the result to
:func:`register_trained`, and it says how to score one registered version on held-out data
(:meth:`ModelLifecycle.scorer`). Everything else is shared here: the trained-version type
(:class:`TrainedVersion`), the MLflow tag schema of runs and versions (:class:`VersionTags`),
champion re-scoring (:func:`evaluate_against_champion`), the gate and promotion. A model may
bring its own gate (``decide``: the maintenance model compares with intervals,
:func:`confident_gate`); either way the decision is recorded on the challenger version, and
:func:`promote_evaluated` promotes only a version whose recorded decision passed.
mlflow is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol

from mfg_assets.models.config import ExperimentConfig, PromotionConfig
from mfg_assets.models.registry import (
    CHALLENGER,
    CHAMPION,
    REGISTERED_MODELS,
    ModelRegistry,
    PromotionDecision,
    decide_promotion,
)

Role = Literal["challenger", "champion"]
# Where a version came from; callers pass any of these (e.g. from the Dagster context).
LINEAGE_TAGS: tuple[str, ...] = (
    "dagster_run_id",
    "dagster_partition",
    "model_day",
    "training_window_start",
    "training_window_end",
)


@dataclass(frozen=True)
class VersionTags:
    """The MLflow tags of a trained version, set on its run and on its registered version.

    Serving reads ``training_window_*`` and ``dagster_run_id`` (lineage) and, for the
    detector, ``export_format``, ``export_artifact``, ``image_size`` and ``classes``.
    ``artifact_sha256`` is the digest of the artifact serving loads, recorded at registration
    so it can be verified at load. Empty fields are not written.
    """

    model_kind: str  # key of REGISTERED_MODELS: maintenance | defect
    experiment: str  # the experiment's name (experiment.name in its YAML)
    dagster_run_id: str | None = None
    dagster_partition: str | None = None
    model_day: str | None = None
    training_window_start: str | None = None
    training_window_end: str | None = None
    export_format: str | None = None
    export_artifact: str | None = None  # run artifact path of the served export
    image_size: int | None = None  # square network input in pixels
    classes: tuple[str, ...] = ()  # output classes in the model's order
    artifact_sha256: str | None = None
    # digest of the training weights evaluation re-scores (the detector's weights/best.pt)
    weights_sha256: str | None = None

    @classmethod
    def build(
        cls, model_kind: str, experiment: str, lineage: Mapping[str, Any], **model: Any
    ) -> VersionTags:
        """Tags from the caller's lineage (keys of :data:`LINEAGE_TAGS`) and model facts."""
        unknown = sorted(set(lineage) - set(LINEAGE_TAGS))
        if unknown:
            raise ValueError(f"unknown lineage tags {unknown} (expected some of {LINEAGE_TAGS})")
        values = {k: str(v) for k, v in lineage.items() if v is not None}
        return cls(model_kind=model_kind, experiment=experiment, **values, **model)

    def as_tags(self) -> dict[str, str]:
        """MLflow tag strings (classes comma-separated)."""
        tags = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or value == ():
                continue
            tags[item.name] = ",".join(value) if isinstance(value, tuple) else str(value)
        return tags

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> VersionTags:
        """Parse a version's tags back (other tags, e.g. the registry's, are ignored)."""
        known = {item.name for item in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in tags.items() if k in known}
        if values.get("image_size"):
            values["image_size"] = int(values["image_size"])
        else:
            values.pop("image_size", None)
        values["classes"] = tuple(c for c in values.get("classes", "").split(",") if c)
        values.setdefault("model_kind", "")
        values.setdefault("experiment", "")
        return cls(**values)

    @property
    def training_window(self) -> dict[str, str]:
        """``training_window_start``/``_end`` where known."""
        window = {
            "training_window_start": self.training_window_start,
            "training_window_end": self.training_window_end,
        }
        return {k: v for k, v in window.items() if v}


@dataclass(frozen=True)
class FitSummary:
    """What training did, whatever the model."""

    best_epoch: int | None
    epochs_run: int
    stopped_early: bool
    seconds: float
    validation_metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainedVersion:
    """A trained, logged and registered challenger of any model.

    The model-specific facts are optional: ``threshold`` (the maintenance model's decision
    threshold, chosen on validation), ``image_size``, ``classes`` and ``export_artifact``
    (the detector's ONNX input size, output classes and export in the run).
    """

    model_kind: str
    model_name: str
    version: int
    model_uri: str
    run_id: str
    experiment: str  # the experiment's name, or the YAML path it was loaded from
    best_epoch: int | None
    epochs_run: int
    stopped_early: bool
    seconds: float
    validation_metrics: dict[str, float] = field(default_factory=dict)
    training_window: dict[str, str] = field(default_factory=dict)
    threshold: float | None = None
    image_size: int | None = None
    classes: tuple[str, ...] = ()
    export_artifact: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainedVersion:
        """Inverse of :meth:`as_dict` (also reads dicts written before ``model_kind``)."""
        known = {item.name for item in fields(cls)}
        data = {k: v for k, v in values.items() if k in known}
        data["classes"] = tuple(data.get("classes") or ())
        if "model_kind" not in data:
            kinds = {name: kind for kind, name in REGISTERED_MODELS.items()}
            data["model_kind"] = kinds.get(data.get("model_name", ""), "")
        return cls(**data)


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered version as a scorer sees it: challenger and champion alike."""

    model_name: str
    version: int
    run_id: str
    tags: VersionTags

    @property
    def uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


@dataclass(frozen=True)
class Scored:
    """One version's held-out metrics, its plots (name → PNG path) and model-specific details."""

    metrics: dict[str, float]
    plots: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


Scorer = Callable[[RegisteredVersion, Role], Scored]


@dataclass(frozen=True)
class Evaluation:
    """Challenger and champion scored on the same held-out data, and the promotion decision."""

    challenger: dict[str, float]
    champion: dict[str, float] | None
    champion_version: int | None
    decision: PromotionDecision
    plots: dict[str, str]  # name → PNG path
    details: dict[str, Any] = field(default_factory=dict)  # the challenger's, e.g. per class
    # what the decision rests on (JSON-able): intervals, comparisons, rows, machines
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """The challenger against one comparator on the gate's metric: the paired difference
    (challenger − comparator) on the held-out rows and its bootstrap interval."""

    against: str  # champion | prior | heuristic | reference
    difference: float
    low: float
    high: float
    must: Literal["beat", "not_lose"] = "beat"  # not_lose: the interval must not say it loses

    def holds(self, margin: float) -> bool:
        """Whether the challenger passes this comparison (``not_lose``: the interval reaches
        zero; an exact tie, e.g. two scorers perfect on every resample, does not lose)."""
        if self.must == "not_lose":
            return self.high >= -1e-12
        return self.difference >= margin - 1e-9 and self.low > 0


# A model's own gate: (challenger, champion or None, held-out data, config, plots folder) →
# decision, evidence (JSON-able; its ``plots`` entry, name → PNG path, joins the plots)
Decide = Callable[
    [Scored, "Scored | None", Any, ExperimentConfig, Path],
    tuple[PromotionDecision, dict[str, Any]],
]


class ModelLifecycle(Protocol):
    """One model's part of the lifecycle."""

    kind: str  # key of REGISTERED_MODELS, the model_kind tag

    def train_and_register(
        self,
        data: Any,
        config: ExperimentConfig,
        tags: Mapping[str, str],
        experiment: str,
        out_dir: Path | None = None,
        on_epoch: Callable[..., None] | None = None,
    ) -> TrainedVersion:
        """Train on ``data``, log the model to MLflow, then :func:`register_trained`."""
        ...

    def scorer(self, held_out: Any, config: ExperimentConfig, out_dir: Path) -> Scorer:
        """How to score one registered version on ``held_out`` (plots under ``out_dir``).

        A model may also define ``decide`` (:data:`Decide`), its own gate with evidence;
        without it :func:`gate` decides."""
        ...


def register_challenger(model_uri: str, model_name: str, tags: Mapping[str, str]) -> int:
    """Register ``model_uri`` (``models:/m-...``) as a new version aliased ``challenger``
    (with its ``artifact_sha256``, see :meth:`ModelRegistry.register`)."""
    registry = ModelRegistry()
    version = registry.register(model_uri, model_name, tags=tags)
    registry.set_alias(model_name, CHALLENGER, version)
    return version


def register_trained(
    logged_model_uri: str,
    run_id: str,
    tags: VersionTags,
    fit: FitSummary,
    experiment: str,
    **model: Any,
) -> TrainedVersion:
    """Register a logged model of ``tags.model_kind`` as the challenger, tagged with ``tags``;
    ``model`` holds the model-specific :class:`TrainedVersion` fields."""
    name = REGISTERED_MODELS[tags.model_kind]
    version = register_challenger(logged_model_uri, name, tags.as_tags())
    return TrainedVersion(
        model_kind=tags.model_kind,
        model_name=name,
        version=version,
        model_uri=f"models:/{name}/{version}",
        run_id=run_id,
        experiment=experiment,
        best_epoch=fit.best_epoch,
        epochs_run=fit.epochs_run,
        stopped_early=fit.stopped_early,
        seconds=fit.seconds,
        validation_metrics={k: float(v) for k, v in fit.validation_metrics.items()},
        training_window=tags.training_window,
        **model,
    )


def registered_version(model_name: str, version: int, registry: ModelRegistry) -> RegisteredVersion:
    """A version's run and parsed tags."""
    info = registry.client.get_model_version(model_name, str(version))
    return RegisteredVersion(
        model_name, int(version), info.run_id or "", VersionTags.from_tags(dict(info.tags))
    )


def evaluate_against_champion(
    model: ModelLifecycle,
    challenger: TrainedVersion,
    held_out: Any,
    config: ExperimentConfig,
    out_dir: Path,
) -> Evaluation:
    """Score the challenger and the current champion (if another version) on the same
    ``held_out`` data with the model's scorer; gate by the experiment's promotion rule."""
    score = model.scorer(held_out, config, Path(out_dir))
    registry = ModelRegistry()
    name = REGISTERED_MODELS[model.kind]
    scored = score(registered_version(name, challenger.version, registry), "challenger")
    champion_version = registry.get_alias_version(name, CHAMPION)
    champion: Scored | None = None
    if champion_version is not None and champion_version != challenger.version:
        champion = score(registered_version(name, champion_version, registry), "champion")
    champion_metrics = champion.metrics if champion is not None else None
    decide: Decide | None = getattr(model, "decide", None)
    if decide is None:
        decision, evidence = gate(scored.metrics, champion_metrics, config.promotion), {}
    else:
        decision, evidence = decide(scored, champion, held_out, config, Path(out_dir))
    compared_with = champion_version if champion is not None else None
    record_decision(registry, name, challenger.version, decision, compared_with)
    plots = {
        **scored.plots,
        **(champion.plots if champion is not None else {}),
        **evidence.pop("plots", {}),
    }
    return Evaluation(
        scored.metrics,
        champion_metrics,
        champion_version,
        decision,
        plots,
        scored.details,
        evidence,
    )


def gate(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    promotion: PromotionConfig,
) -> PromotionDecision:
    """The experiment's promotion rule (absolute threshold, margin over the champion)."""
    return decide_promotion(
        challenger,
        champion,
        metric=promotion.metric,
        threshold=promotion.threshold,
        margin=promotion.champion_margin,
    )


def confident_gate(
    value: float,
    comparisons: list[Comparison],
    *,
    metric: str,
    threshold: float,
    margin: float,
    failing_machines: int,
    min_machines: int,
) -> PromotionDecision:
    """Pass when ``value`` ≥ ``threshold`` and, against every comparison, the difference is
    ≥ ``margin`` with an interval above zero, measured on ≥ ``min_machines`` test machines
    with a failure (without comparisons, the threshold alone decides)."""
    if math.isnan(value):
        return PromotionDecision(False, f"challenger has no {metric} value")
    if value < threshold:
        return PromotionDecision(
            False, f"challenger {metric} {value:.4f} is below the threshold {threshold}", value
        )
    champion = next((c for c in comparisons if c.against == "champion"), None)
    champion_value = value - champion.difference if champion is not None else None
    if not comparisons:
        return PromotionDecision(
            True, f"{metric} {value:.4f} meets the threshold {threshold} (nothing to beat)", value
        )
    if failing_machines < min_machines:
        return PromotionDecision(
            False,
            f"only {failing_machines} test machines with a failure (the gate needs "
            f"{min_machines}, MFG_GATE_MIN_TEST_MACHINES): too few to decide, the champion "
            "stays",
            value,
            champion_value,
        )
    parts, lost = [], []
    for c in comparisons:
        won = c.holds(margin)
        verb = ("does not lose", "loses") if c.must == "not_lose" else ("beats", "does not beat")
        parts.append(
            f"vs {c.against} {c.difference:+.4f} [{c.low:+.4f}, {c.high:+.4f}] "
            f"{verb[0] if won else verb[1]}"
            + (
                f" ({'first champion: ' if champion is None else ''}must not lose)"
                if c.must == "not_lose"
                else ""
            )
        )
        if not won:
            lost.append(c.against)
    verdict = "promoted" if not lost else f"the champion stays: does not beat {', '.join(lost)}"
    return PromotionDecision(
        not lost,
        f"challenger {metric} {value:.4f}, margin {margin}, {failing_machines} test machines "
        f"with a failure: {'; '.join(parts)} → {verdict}",
        value,
        champion_value,
    )


# Model-version tags where evaluation records its decision; promotion reads them back.
GATE_PASSED_TAG = "gate_passed"
GATE_REASON_TAG = "gate_reason"
GATE_CHAMPION_TAG = "gate_champion_version"
_MAX_TAG_CHARS = 4000


def record_decision(
    registry: ModelRegistry,
    model_name: str,
    version: int,
    decision: PromotionDecision,
    champion_version: int | None,
) -> None:
    """Write the gate's decision on the challenger version (what promotion will check)."""
    tags = {
        GATE_PASSED_TAG: "true" if decision.passed else "false",
        GATE_REASON_TAG: decision.reason[:_MAX_TAG_CHARS],
        GATE_CHAMPION_TAG: str(champion_version) if champion_version is not None else "none",
    }
    for key, tag in tags.items():
        registry.client.set_model_version_tag(model_name, str(version), key, tag)


@dataclass(frozen=True)
class PromotionOutcome:
    promoted: bool
    reason: str
    previous: int | None  # the champion before (unchanged when not promoted)


def promote_evaluated(model_name: str, version: int) -> PromotionOutcome:
    """Promote ``version`` only if its recorded gate decision passed against the champion that
    is still current; otherwise leave the champion and say why."""
    registry = ModelRegistry()
    tags = dict(registry.client.get_model_version(model_name, str(version)).tags)
    current = registry.get_alias_version(model_name, CHAMPION)
    if GATE_PASSED_TAG not in tags:
        return PromotionOutcome(False, f"v{version} was never evaluated by the gate", current)
    if tags[GATE_PASSED_TAG] != "true":
        return PromotionOutcome(False, tags.get(GATE_REASON_TAG, "the gate kept"), current)
    compared = tags.get(GATE_CHAMPION_TAG, "none")
    if current is not None and current != version and compared != str(current):
        return PromotionOutcome(
            False,
            f"the champion is v{current} but v{version} was compared with {compared}: "
            "evaluate again",
            current,
        )
    previous = registry.promote(model_name, version)
    return PromotionOutcome(True, tags.get(GATE_REASON_TAG, ""), previous)


def promote(model_name: str, version: int) -> int | None:
    """Move ``champion`` to ``version`` unconditionally; returns the previous champion."""
    return ModelRegistry().promote(model_name, version)
