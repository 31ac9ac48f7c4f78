"""The maintenance service's domain logic: schemas, scoring, machine-id features, shadow log.

Follows the seed's wrapper pattern, one step per function, so each is testable alone:

    validate input  — :class:`PredictRequest` (pydantic: every schema feature, physical ranges,
                      no NaN/inf, exactly one of ``rows`` / ``machine_ids``)
    preprocess      — :func:`rows_matrix`, or :class:`OnlineFeatureSource` (Feast online store,
                      the feature view training read) → rows × features in the model's order
    predict         — :class:`MaintenanceScorer` (the packaged network + normalizer)
    postprocess     — probability → decision at the model's threshold, lineage attached
    validate output — :func:`check_output` (one finite probability in [0, 1] per row)

:class:`MaintenancePredictionService` ties them together around a swappable
:class:`ModelSlot` (scorer + its batcher + lineage): a reload builds a new slot and swaps one
reference, so requests already holding the old slot finish on the old model.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from mfg_assets.features.schema import (
    SENSOR_STATS,
    feature_columns,
    model_features_asset,
    plant_sensors,
    uses_window_features,
)
from mfg_assets.serving.batching import AdaptiveBatcher
from mfg_assets.serving.errors import (
    FeaturesUnavailableError,
    RequestError,
    UnknownMachinesRequestError,
    UnprocessableRequestError,
)
from mfg_assets.serving.lineage import Lineage
from mfg_assets.settings import get_settings

MAX_ROWS_PER_REQUEST = 1000
MAX_COUNT = 10_000_000  # readings/inspections per machine-hour: far above any real plant
MAX_HOURS = 1_000_000.0  # hours since a maintenance: over a century
MAX_ATTRIBUTE = 1e9  # a numeric machine attribute (the definition gives no range): finite
MACHINE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PREDICTOR_DIR = "predictor"  # inside the BentoML model folder
MAINTENANCE_MODEL = "maintenance_model"
# a maintenance_model tag as BentoML writes them (lower case; version optional = latest)
MODEL_TAG_PATTERN = rf"^{MAINTENANCE_MODEL}(:[a-z0-9]([a-z0-9_.-]{{0,61}}[a-z0-9])?)?$"


# --------------------------------------------------------------------------- validate input


def feature_limits() -> dict[str, tuple[float, float, type]]:
    """``{feature: (low, high, type)}``: what the instruments can physically report.

    Levels (mean/min/max/last) lie in the sensor's physical range (the active plant
    definition's ``range``); a standard deviation in ``[0, span]``; a slope (units per minute)
    in ``[-span, span]``; counts are non-negative integers; ``defect_rate`` is a share.
    """
    if uses_window_features():
        return window_feature_limits()
    sensors = {s.name: s for s in plant_sensors()}
    limits: dict[str, tuple[float, float, type]] = {}
    for name in feature_columns():
        sensor, _, stat = name.rpartition("_")
        if stat in SENSOR_STATS and sensor in sensors:
            low, high = sensors[sensor].range
            span = high - low
            if stat == "std":
                limits[name] = (0.0, span, float)
            elif stat == "slope":
                limits[name] = (-span, span, float)
            else:
                limits[name] = (low, high, float)
        elif name == "defect_rate":
            limits[name] = (0.0, 1.0, float)
        else:
            limits[name] = (0, MAX_COUNT, int)
    return limits


def window_feature_limits() -> dict[str, tuple[float, float, type]]:
    """Limits of the window features (a plant on ``machine_window_features``), all floats:
    rolling levels in the sensor's range, a std in ``[0, span]``, a slope (units per hour) in
    ``[-span, span]``; event counts and hours since maintenance non-negative; one-hot
    attributes in ``[0, 1]``; numeric attributes finite."""
    from mfg_assets.features.windows import since_column, window_plan
    from mfg_assets.plant.definition import active_plant

    plan = window_plan(active_plant())
    sensors = {s.name: s for s in plant_sensors()}
    limits: dict[str, tuple[float, float, type]] = {}
    for hours, sensor, stat in plan.rolling:
        low, high = sensors[sensor].range
        span = float(high - low)
        bounds = {"std": (0.0, span), "slope": (-span, span)}.get(stat, (low, high))
        limits[f"{sensor}_{stat}_{hours}h"] = (float(bounds[0]), float(bounds[1]), float)
    for hours, event in plan.counts:
        limits[f"{event}_count_{hours}h"] = (0.0, float(MAX_COUNT), float)
    for component in plan.since:
        limits[since_column(component)] = (0.0, MAX_HOURS, float)
    for name, value in plan.attributes:
        if value is None:
            limits[name] = (-MAX_ATTRIBUTE, MAX_ATTRIBUTE, float)
        else:
            limits[f"{name}_{value}"] = (0.0, 1.0, float)
    return {name: limits[name] for name in plan.feature_columns()}


def _feature_row_model() -> type[BaseModel]:
    """The request row of the active plant (fixed when the module is imported: a service
    serves one plant)."""
    sensors = {s.name: s for s in plant_sensors()}
    fields: dict[str, Any] = {}
    for name, (low, high, kind) in feature_limits().items():
        unit = ""
        sensor = name.rpartition("_")[0]
        if sensor in sensors:
            unit = f" [{sensors[sensor].unit}{'/min' if name.endswith('_slope') else ''}]"
        fields[name] = (
            kind,
            Field(
                ...,
                ge=low,
                le=high,
                strict=True,
                allow_inf_nan=False,
                description=f"{name}{unit}, physical range {low} … {high}",
            ),
        )
    model = create_model(
        "FeatureRow",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"One machine-hour of features: the model columns of {model_features_asset()}.",
        **fields,
    )
    return model


FeatureRow = _feature_row_model()
MachineIdStr = Annotated[str, StringConstraints(pattern=MACHINE_ID_PATTERN, strict=True)]


def _drop_null(schema: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """``schema`` with the optional fields ``names`` documented as their type only (the
    validators refuse an explicit null; leaving the field out is how to omit it)."""
    for name in names:
        prop = schema["properties"][name]
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            prop.update(options[0])
        prop.pop("default", None)
    return schema


class PredictRequest(BaseModel):
    """Either feature rows or machine ids (features then come from the online store)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[FeatureRow] | None = Field(  # type: ignore[valid-type]
        default=None,
        min_length=1,
        max_length=MAX_ROWS_PER_REQUEST,
        description=f"Feature rows (every model column of {model_features_asset()}) to score.",
    )
    machine_ids: list[MachineIdStr] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ROWS_PER_REQUEST,
        description="Machine ids, e.g. M001: their latest online features are scored.",
    )

    @field_validator("rows", "machine_ids", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # given explicitly: the schema documents arrays only
            raise ValueError("must be a list, not null (leave the field out instead)")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> PredictRequest:
        if (self.rows is None) == (self.machine_ids is None):
            raise ValueError("give exactly one of 'rows' (feature rows) or 'machine_ids'")
        return self

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Pydantic's schema, tightened to what the validators accept: each field an array
        (never null) and exactly one of them present, so ``{}`` is schema-invalid too."""
        schema = _drop_null(super().model_json_schema(*args, **kwargs), ("rows", "machine_ids"))
        schema["oneOf"] = [{"required": ["rows"]}, {"required": ["machine_ids"]}]
        return schema


class ReloadRequest(BaseModel):
    """Which model ``POST /reload`` switches to (every worker of the server follows)."""

    model_config = ConfigDict(extra="forbid")

    tag: str | None = Field(
        default=None,
        max_length=200,
        pattern=MODEL_TAG_PATTERN,
        description="BentoML tag of a maintenance_model, e.g. maintenance_model:v4; omitted "
        "(or an empty body): import and load the registry's champion",
    )

    @field_validator("tag", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # given explicitly: the schema documents a string
            raise ValueError("must be a model tag, not null (leave the field out instead)")
        return value

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Pydantic's schema without the null option the validator refuses."""
        return _drop_null(super().model_json_schema(*args, **kwargs), ("tag",))


class MachinePrediction(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    machine_id: str | None = None
    failure_probability: float = Field(ge=0.0, le=1.0)
    failure_predicted: bool
    features_as_of: datetime | None = None  # event_timestamp of the online row used


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    predictions: list[MachinePrediction]
    threshold: float
    source: Literal["rows", "online_store"]
    lineage: Lineage


# --------------------------------------------------------------------------- preprocess


def rows_matrix(rows: Sequence[BaseModel], feature_names: Sequence[str]) -> np.ndarray:
    """Validated rows → rows × features float64 matrix in ``feature_names`` order."""
    return np.array(
        [[getattr(row, name) for name in feature_names] for row in rows], dtype=np.float64
    )


@dataclass(frozen=True)
class OnlineFeatures:
    matrix: np.ndarray
    as_of: list[datetime]


class OnlineFeatureSource:
    """Latest features per machine from the Feast online store (the view training read).

    The store is opened on first use without applying definitions (serving never writes the
    registry). ``max_age`` refuses rows older than that (``MFG_SERVING_MAX_FEATURE_AGE_HOURS``;
    unset = no limit).
    """

    def __init__(self, profile: str | None = None, max_age: timedelta | None = None) -> None:
        self.profile = profile
        self.max_age = max_age
        self._store: Any = None
        self._lock = threading.Lock()
        # one thread: lookups (network round trips for Redis/PostgreSQL) never block the event
        # loop, and the store's connection is used by one thread at a time
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="online-features")

    @classmethod
    def from_env(cls) -> OnlineFeatureSource:
        hours = get_settings().mfg_serving_max_feature_age_hours
        return cls(max_age=timedelta(hours=hours) if hours is not None else None)

    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from mfg_assets.feature_store.store import open_store

                self._store = open_store(self.profile, apply=False)
            return self._store

    async def lookup_async(
        self, machine_ids: Sequence[str], feature_names: Sequence[str]
    ) -> OnlineFeatures:
        """:meth:`lookup` on the source's own thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.lookup, machine_ids, feature_names)

    def lookup(self, machine_ids: Sequence[str], feature_names: Sequence[str]) -> OnlineFeatures:
        """Features of ``machine_ids`` (request order); 4xx errors for unknown/stale/null."""
        from mfg_assets.feature_store.errors import (
            FeatureStoreError,
            StaleFeaturesError,
            UnknownMachineError,
        )
        from mfg_assets.feature_store.online import online_features

        try:
            frame = online_features(self.store(), list(machine_ids), max_age=self.max_age)
        except UnknownMachineError as exc:
            raise UnknownMachinesRequestError(
                str(exc), detail={"unknown_machine_ids": exc.machine_ids}
            ) from exc
        except StaleFeaturesError as exc:
            raise UnprocessableRequestError(
                str(exc), detail={"stale_machine_ids": sorted(exc.stale)}
            ) from exc
        except FeatureStoreError as exc:  # not set up / unreachable: not the client's fault
            raise FeaturesUnavailableError(f"online feature store unavailable: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise RequestError(str(exc)) from exc
        matrix = np.column_stack(
            [frame[name].cast(float, strict=False).to_numpy() for name in feature_names]
        ).astype(np.float64)
        bad = ~np.isfinite(matrix)
        if bad.any():
            problems = {
                str(frame["machine_id"][i]): [feature_names[j] for j in np.flatnonzero(bad[i])]
                for i in np.flatnonzero(bad.any(axis=1))
            }
            raise UnprocessableRequestError(
                "the online store has missing features for "
                + ", ".join(f"{m} ({', '.join(cols)})" for m, cols in problems.items()),
                detail={"missing_features": problems},
            )
        return OnlineFeatures(matrix, list(frame["event_timestamp"].to_list()))


# --------------------------------------------------------------------------- predict


class MaintenanceScorer:
    """The packaged predictor from a BentoML model folder, scoring raw feature matrices."""

    def __init__(self, predictor: Any, lineage: Lineage) -> None:
        self.predictor = predictor
        self.lineage = lineage
        self.threshold = float(predictor.threshold)
        self.feature_names: list[str] = list(predictor.feature_names)
        predictor.network()  # build once, before the first request

    @classmethod
    def from_bento_model(cls, model: Any) -> MaintenanceScorer:
        """From a ``bentoml.Model`` written by :func:`model_store.import_maintenance_model`."""
        from mfg_assets.models.maintenance.predictor import MaintenancePredictor

        predictor = MaintenancePredictor.load(Path(model.path_of(PREDICTOR_DIR)))
        return cls(predictor, Lineage.from_metadata(str(model.tag), dict(model.info.metadata)))

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """P(failure) per row of a rows × ``feature_names`` matrix."""
        return self.predictor.predict_proba_array(matrix)


# --------------------------------------------------------------------------- validate output


def check_output(proba: Any, n_rows: int) -> np.ndarray:
    """One finite probability in [0, 1] per input row, or a RuntimeError (a server fault)."""
    proba = np.asarray(proba, dtype=np.float64).reshape(-1)
    if proba.shape != (n_rows,):
        raise RuntimeError(f"model returned {proba.shape[0]} probabilities for {n_rows} rows")
    if not np.isfinite(proba).all() or (proba < 0).any() or (proba > 1).any():
        raise RuntimeError("model returned probabilities outside [0, 1] or non-finite")
    return proba


# --------------------------------------------------------------------------- shadow scoring


class ShadowLog:
    """Append-only JSONL of champion vs challenger scores on live requests."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        text = "".join(json.dumps(r, default=str, allow_nan=False) + "\n" for r in records)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]


# --------------------------------------------------------------------------- the service core


@dataclass
class ModelSlot:
    """A loaded model with its own batcher; replaced whole on reload."""

    scorer: MaintenanceScorer
    batcher: AdaptiveBatcher
    loaded_at: float

    @property
    def lineage(self) -> Lineage:
        return self.scorer.lineage


@dataclass(frozen=True)
class BatchingConfig:
    enabled: bool = True
    max_batch_size: int = 64
    max_latency_ms: float = 5.0

    @classmethod
    def from_env(cls) -> BatchingConfig:
        settings = get_settings()
        return cls(
            enabled=settings.mfg_serving_batching,
            max_batch_size=settings.mfg_serving_max_batch_size,
            max_latency_ms=settings.mfg_serving_max_latency_ms,
        )


def _slot(scorer: MaintenanceScorer, batching: BatchingConfig, on_batch: Any = None) -> ModelSlot:
    batcher = AdaptiveBatcher(
        lambda x: check_output(scorer.score(x), len(x)),
        max_batch_size=batching.max_batch_size,
        max_latency_ms=batching.max_latency_ms,
        enabled=batching.enabled,
        on_batch=on_batch,
    )
    return ModelSlot(scorer, batcher, time.time())


class MaintenancePredictionService:
    """validate → preprocess → predict → postprocess → validate output, with hot reload."""

    def __init__(
        self,
        champion: MaintenanceScorer,
        *,
        features: OnlineFeatureSource | None = None,
        batching: BatchingConfig | None = None,
        challenger: MaintenanceScorer | None = None,
        shadow_log: ShadowLog | None = None,
        on_batch: Any = None,
    ) -> None:
        self.batching = batching or BatchingConfig()
        self.features = features or OnlineFeatureSource()
        self.on_batch = on_batch  # called with each model call's row count (metrics)
        self.slot = _slot(champion, self.batching, on_batch)
        self.challenger = challenger
        self.shadow_log = shadow_log if challenger is not None else None
        self._shadow_tasks: set[asyncio.Task] = set()

    async def predict(self, request: PredictRequest) -> PredictResponse:
        slot = self.slot  # the model this request is answered by, even if a reload happens now
        scorer = slot.scorer
        if request.rows is not None:
            matrix = rows_matrix(request.rows, scorer.feature_names)
            machine_ids: list[str | None] = [None] * len(matrix)
            as_of: list[datetime | None] = [None] * len(matrix)
            source: Literal["rows", "online_store"] = "rows"
        else:
            ids = list(request.machine_ids or [])
            online = await self.features.lookup_async(ids, scorer.feature_names)
            matrix, machine_ids, as_of, source = (
                online.matrix,
                list(ids),
                online.as_of,
                "online_store",
            )
        proba = await slot.batcher.submit(matrix)
        decisions = proba >= scorer.threshold
        if self.challenger is not None:
            self._shadow(matrix, proba, machine_ids, slot)
        return PredictResponse(
            predictions=[
                MachinePrediction(
                    machine_id=m,
                    failure_probability=float(p),
                    failure_predicted=bool(d),
                    features_as_of=t,
                )
                for m, p, d, t in zip(machine_ids, proba, decisions, as_of, strict=True)
            ],
            threshold=scorer.threshold,
            source=source,
            lineage=slot.lineage,
        )

    def _shadow(
        self, matrix: np.ndarray, champion_proba: np.ndarray, machine_ids: list, slot: ModelSlot
    ) -> None:
        """Score the challenger after answering (off the request's path) and log both."""
        challenger = self.challenger
        log = self.shadow_log
        if challenger is None or log is None:
            return

        def work() -> None:
            proba = check_output(challenger.score(matrix), len(matrix))
            now = datetime.now(UTC).isoformat()
            log.write(
                [
                    {
                        "ts": now,
                        "machine_id": m,
                        "features": dict(zip(challenger.feature_names, map(float, x), strict=True))
                        if m is None
                        else None,
                        "champion_version": slot.lineage.model_version,
                        "champion_probability": float(p),
                        "champion_predicted": bool(p >= slot.scorer.threshold),
                        "challenger_version": challenger.lineage.model_version,
                        "challenger_probability": float(q),
                        "challenger_predicted": bool(q >= challenger.threshold),
                    }
                    for m, x, p, q in zip(machine_ids, matrix, champion_proba, proba, strict=True)
                ]
            )

        task = asyncio.get_running_loop().create_task(asyncio.to_thread(work))
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def drain_shadow(self) -> None:
        """Wait for pending shadow writes (tests, shutdown)."""
        if self._shadow_tasks:
            await asyncio.gather(*list(self._shadow_tasks), return_exceptions=True)

    def swap(self, champion: MaintenanceScorer) -> Lineage:
        """Answer new requests with ``champion``; requests in flight finish on the old one."""
        previous = self.slot.lineage
        self.slot = _slot(champion, self.batching, self.on_batch)
        return previous
