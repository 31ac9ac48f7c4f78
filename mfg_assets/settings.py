"""Every environment setting of the platform, declared once: name, type, default, meaning.

``get_settings()`` reads the environment each time it is called (never cached at import), so
tests and the demo can point the platform elsewhere by setting a variable. No other module
reads ``os.environ`` for a setting; the README's configuration table is tested against
:data:`Settings.model_fields`. Empty strings count as unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PARTITIONS_START = "2026-11-01-00:00"


class Settings(BaseSettings):
    """The platform's environment, typed. Field name = variable name, lower-cased."""

    model_config = SettingsConfigDict(
        case_sensitive=False, env_ignore_empty=True, extra="ignore", frozen=True
    )

    # --- where things live -----------------------------------------------------------------
    mfg_data_dir: Path | None = Field(
        None,
        description="root of the embedded profile's files (plant DB, partitions, stores); "
        "default `./data`",
    )
    plant_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the plant database; default SQLite under MFG_DATA_DIR",
    )
    mfg_storage_uri: str | None = Field(
        None,
        description="root of stored files: unset = MFG_DATA_DIR; `s3://bucket/prefix` = S3",
    )
    mfg_partitions_start: str = Field(
        DEFAULT_PARTITIONS_START,
        description="first hourly partition, `YYYY-MM-DD[-HH:MM]`, UTC; unset = the plant "
        "definition's `partitions_start` when it declares one",
    )
    mfg_label_horizon_hours: int = Field(
        24,
        ge=1,
        description="how far ahead a failure label looks (hours); unset = the plant "
        "definition's `label.horizon_hours`",
    )
    mfg_training_window_days: int = Field(
        14, ge=1, description="days of labelled history a daily training set covers"
    )
    mfg_plant: str = Field(
        "simulator",
        description="active plant definition: a shipped name (`simulator`, `azure_pdm`, "
        "`neu_det`) or a YAML file in MFG_PLANT_DEFINITIONS_DIR",
    )
    mfg_plant_definitions_dir: Path | None = Field(
        None, description="extra folder of plant definition YAMLs; no other path is read"
    )
    mfg_datasets_dir: Path | None = Field(
        None,
        description="public datasets (`azure_pdm/`, `neu_det/`) for tests and benchmarks; "
        "default `../shared/datasets` beside the repository",
    )

    # --- scale-out (Celery workers, plant split by line) ----------------------------------
    mfg_executor: Literal["default", "celery"] = Field(
        "default",
        description="where job steps run: `default` (processes of the run) or `celery` "
        "(workers listening on MFG_CELERY_BROKER_URL)",
    )
    mfg_celery_broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker of the `celery` executor"
    )
    mfg_celery_backend_url: str = Field(
        "redis://127.0.0.1:6379/1", description="Celery result backend of the `celery` executor"
    )
    mfg_celery_visibility_timeout_s: int = Field(
        3600,
        ge=1,
        description="seconds before a step whose worker died is handed to another worker; "
        "must exceed the longest step",
    )
    mfg_plant_lines: str | None = Field(
        None,
        description="comma-separated production lines (`L1,L2`) whose features are built "
        "as one step per line; unset = one step for the whole plant",
    )

    # --- feature store ---------------------------------------------------------------------
    mfg_feature_store: str = Field(
        "embedded",
        description="Feast online store profile: `embedded` (SQLite), `redis`, `postgres`",
    )
    mfg_feast_project: str = Field("mfg_plant", description="Feast project name")
    mfg_feast_registry_ttl_s: int = Field(
        60, ge=0, description="Feast registry cache TTL in seconds"
    )
    feast_registry_url: str | None = Field(
        None, description="SQL registry URL for Feast; unset = file registry"
    )
    feast_redis_connection: str = Field(
        "127.0.0.1:6379", description="Redis online store connection string"
    )
    feast_pg_host: str = Field("127.0.0.1", description="PostgreSQL online store host")
    feast_pg_port: int = Field(5432, description="PostgreSQL online store port")
    feast_pg_db: str = Field("postgres", description="PostgreSQL online store database")
    feast_pg_schema: str = Field("public", description="PostgreSQL online store schema")
    feast_pg_user: str = Field("postgres", description="PostgreSQL online store user")
    feast_pg_password: str = Field("", description="PostgreSQL online store password (secret)")
    feast_pg_sslmode: str = Field("disable", description="PostgreSQL online store sslmode")

    # --- S3 (production storage) -----------------------------------------------------------
    aws_endpoint_url: str | None = Field(None, description="S3 API endpoint (MinIO, loopback)")
    aws_region: str | None = Field(
        None,
        validation_alias=AliasChoices("aws_region", "aws_default_region"),
        description="S3 region (AWS_DEFAULT_REGION also read)",
    )
    aws_access_key_id: str | None = Field(None, description="S3 credentials (secret)")
    aws_secret_access_key: str | None = Field(None, description="S3 credentials (secret)")
    aws_session_token: str | None = Field(None, description="S3 session token (secret)")
    aws_max_attempts: int = Field(5, ge=1, description="attempts per S3 call")

    # --- tracking --------------------------------------------------------------------------
    dagster_home: Path | None = Field(
        None,
        description="Dagster instance folder (`dagster.yaml`, run storage); the demo "
        "uses `./.dagster_home`",
    )
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking and registry; default SQLite under MFG_DATA_DIR/mlflow"
    )
    bentoml_home: Path | None = Field(
        None, description="BentoML model and bento store; default MFG_DATA_DIR/bentoml"
    )
    yolo_config_dir: Path | None = Field(
        None, description="Ultralytics settings folder; default MFG_DATA_DIR/ultralytics"
    )
    mfg_experiments_dir: Path | None = Field(
        None,
        description="extra folder of experiment YAMLs (besides the shipped ones); "
        "no other path is read",
    )

    # --- drift loop ------------------------------------------------------------------------
    mfg_drift_retrain_cooldown_hours: float = Field(
        24, ge=0, description="plant hours after a drift retrain before another can start"
    )
    mfg_drift_max_report_age_hours: float = Field(
        72, ge=0, description="older drift reports never retrain (backfills); 0 = no limit"
    )
    mfg_drift_retrain_post_change_hours: float = Field(
        12,
        ge=0,
        description="labelled plant hours after a drift episode opens that its retrain waits "
        "for: it runs one label horizon plus this after the first drifted report",
    )

    # --- model gate --------------------------------------------------------------------------
    mfg_gate_min_test_machines: int = Field(
        10,
        ge=1,
        description="test machines with a failure the maintenance gate needs before it can "
        "promote over a champion or baseline",
    )
    mfg_gate_bootstrap_resamples: int = Field(
        1000, ge=50, description="machine resamples of the gate's bootstrap intervals"
    )
    mfg_gate_confidence: float = Field(
        0.9, gt=0, lt=1, description="coverage of the gate's bootstrap intervals"
    )
    mfg_evaluation_window_days: float = Field(
        3,
        gt=0,
        description="latest days of a maintenance training set held out as its test window",
    )

    # --- serving ---------------------------------------------------------------------------
    mfg_maintenance_model_tag: str = Field(
        "maintenance_model:latest", description="BentoML model the maintenance service loads"
    )
    mfg_defect_model_tag: str = Field(
        "defect_detector:latest", description="BentoML model the defect service loads"
    )
    mfg_serving_workers: int = Field(1, ge=1, description="worker processes per service")
    mfg_serving_batching: bool = Field(True, description="adaptive batching of /predict")
    mfg_serving_max_batch_size: int = Field(64, ge=1, description="rows per model call")
    mfg_serving_max_latency_ms: float = Field(5, ge=0, description="batching wait (ms)")
    mfg_serving_max_feature_age_hours: float | None = Field(
        None, description="refuse online feature rows older than this"
    )
    mfg_serving_torch_threads: int = Field(1, ge=1, description="torch threads per worker")
    mfg_serving_max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="POST /predict and /reload body limit (413 above)"
    )
    mfg_serving_reload_token: str | None = Field(
        None, description="bearer token POST /reload requires (secret); unset: /reload is 403"
    )
    mfg_serving_reload_dir: Path | None = Field(
        None, description="folder where one server's workers share /reload; default a temp folder"
    )
    mfg_serving_tracing: bool = Field(False, description="per-request tracing spans")
    mfg_shadow_challenger: str | None = Field(
        None,
        description="shadow scoring: unset/`0` off; `1` the registry's challenger; else a "
        "BentoML model tag",
    )
    mfg_shadow_log: Path | None = Field(
        None, description="shadow log; default MFG_DATA_DIR/serving/shadow/maintenance.jsonl"
    )
    mfg_defect_confidence: float = Field(0.25, ge=0, le=1, description="detection threshold")
    mfg_defect_max_upload_bytes: int = Field(4 * 1024 * 1024, ge=1, description="/detect limit")
    mfg_defect_max_batch_size: int = Field(8, ge=1, description="images per detector call")
    mfg_defect_max_latency_ms: float = Field(10, ge=0, description="defect batching wait (ms)")
    mfg_defect_threads: int = Field(0, ge=0, description="onnxruntime threads; 0 = all cores")

    # --- demo ------------------------------------------------------------------------------
    mfg_demo_days: int = Field(7, ge=1, description="days of plant history the demo seeds")
    mfg_demo_machines: int = Field(20, ge=1, description="machines in the demo plant")
    mfg_demo_seed: int = Field(7, description="simulator seed of the demo")
    mfg_demo_headless: bool = Field(False, description="stop after the pipeline")
    mfg_demo_port: int = Field(3000, description="Dagster UI port of the demo")
    mfg_demo_service_port: int = Field(3001, description="maintenance service port")
    mfg_demo_experiment: str = Field(
        "maintenance_default",
        description="maintenance experiment the demo trains (`make demo-azure`: unset = the "
        "plant's, maintenance_azure_pdm)",
    )
    mfg_demo_defect_experiment: str = Field(
        "defect_default", description="defect experiment the demo trains"
    )
    mfg_demo_azure_days: int | None = Field(
        None, ge=2, description="`make demo-azure`: days of the Azure slice it runs; unset = all"
    )

    @field_validator("mfg_storage_uri")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if "://" in value and not value.startswith(("s3://", "file://")):
            raise ValueError("use s3://bucket[/prefix] or a local path")
        return value.rstrip("/") or None

    @field_validator("mfg_partitions_start")
    @classmethod
    def _start_parses(cls, value: str) -> str:
        _parse_start(value)
        return value


def _parse_start(raw: str) -> datetime:
    for fmt in ("%Y-%m-%d-%H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"{raw!r} is not a date; use YYYY-MM-DD or YYYY-MM-DD-HH:MM")


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def _env_names() -> frozenset[str]:
    names = set()
    for field, info in Settings.model_fields.items():
        names.add(field.upper())
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
    return frozenset(names)


_ENV_NAMES = _env_names()
_last: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def get_settings() -> Settings:
    """The settings as the environment says now (read at every call, never frozen at import).

    Validation costs milliseconds, so the last result is reused while the variables it was
    read from are unchanged (a snapshot compared on every call). A bad value raises
    :class:`SettingsError` naming the variable, its value and the problem.
    """
    global _last
    snapshot = tuple(
        sorted((k.upper(), v) for k, v in os.environ.items() if k.upper() in _ENV_NAMES)
    )
    cached = _last
    if cached is not None and cached[0] == snapshot:
        return cached[1]
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{field.upper()}={error.get('input')!r}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
    _last = (snapshot, settings)
    return settings


def export_env(values: Mapping[str, str], *, override: bool = False) -> None:
    """Write environment variables for what reads only its environment: third-party libraries
    (MLflow, Ultralytics, Evidently, OpenMP) and child processes. The one place that writes
    them; ``override=False`` keeps what the user set."""
    for key, value in values.items():
        if override:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process (``bentoml``, ``feast``, ``dagster``): this
    process's environment plus ``overrides``."""
    return {**os.environ, **overrides}


def env_name(field: str) -> str:
    """The environment variable of a settings field (``mfg_data_dir`` → ``MFG_DATA_DIR``)."""
    if field not in Settings.model_fields:
        raise KeyError(field)
    return field.upper()


def _shown_default(default: object) -> str:
    if default is None:
        return "—"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`" if default != "" else "(empty)"


def markdown_table() -> str:
    """The README's configuration table, generated from :class:`Settings` (a test keeps the
    README equal to it; ``python -m mfg_assets.settings`` prints it)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        rows.append(
            f"| `{name.upper()}` | {_shown_default(info.default)} | {info.description or ''} |"
        )
    return "\n".join(rows)


# --- derived values (the names the rest of the package has always used) ---------------------


def data_dir() -> Path:
    """Root of the embedded profile's files (plant DB, parquet partitions, stores, models)."""
    configured = get_settings().mfg_data_dir
    path = (configured or Path.cwd() / "data").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def dagster_home() -> Path:
    """The Dagster instance folder (``DAGSTER_HOME``), created if missing."""
    configured = get_settings().dagster_home
    if configured is None:
        raise SettingsError("DAGSTER_HOME is not set")
    path = configured.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_plant_db_url() -> str:
    """SQLite plant database under the data directory."""
    return f"sqlite:///{data_dir() / 'plant.db'}"


def plant_db_url() -> str:
    """``PLANT_DB_URL`` if set, else the embedded SQLite plant."""
    return get_settings().plant_db_url or default_plant_db_url()


def partitions_start() -> datetime:
    """First hourly partition, UTC: ``MFG_PARTITIONS_START`` when set, else the active plant
    definition's ``partitions_start`` (where its data begins), else the default."""
    settings = get_settings()
    if "mfg_partitions_start" not in settings.model_fields_set:
        from mfg_assets.plant.definition import active_plant

        declared = active_plant().partitions_start
        if declared is not None:
            return _parse_start(declared)
    return _parse_start(settings.mfg_partitions_start)


def label_horizon_hours() -> int:
    """How far ahead a failure label looks: ``MFG_LABEL_HORIZON_HOURS`` when set, else the
    active plant definition's ``label.horizon_hours``."""
    settings = get_settings()
    if "mfg_label_horizon_hours" in settings.model_fields_set:
        return settings.mfg_label_horizon_hours
    from mfg_assets.plant.definition import active_plant

    return active_plant().label.horizon_hours


def training_window_days() -> int:
    """Days of labelled history a daily training set covers (``MFG_TRAINING_WINDOW_DAYS``)."""
    return get_settings().mfg_training_window_days


def gate_settings() -> tuple[int, int, float]:
    """Minimum failing test machines, bootstrap resamples and interval coverage of the gate."""
    settings = get_settings()
    return (
        settings.mfg_gate_min_test_machines,
        settings.mfg_gate_bootstrap_resamples,
        settings.mfg_gate_confidence,
    )


def evaluation_window_days() -> float:
    """Days of the maintenance test window (``MFG_EVALUATION_WINDOW_DAYS``)."""
    return get_settings().mfg_evaluation_window_days


if __name__ == "__main__":
    print(markdown_table())
