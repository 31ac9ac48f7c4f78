"""Where a run's steps execute, chosen by ``MFG_EXECUTOR`` (no code edits).

``default`` keeps Dagster's executor (one process per step, on the machine of the run).
``celery`` sends every step to Celery workers through ``MFG_CELERY_BROKER_URL``; workers are
started with ``python -m mfg_assets.scale.worker`` on any host that reaches the broker, the
Dagster instance database (PostgreSQL) and the storage (S3), with the same environment.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from mfg_assets.settings import Settings, get_settings

RESTORE_SCAN_S = 10


def celery_config(settings: Settings) -> dict[str, Any]:
    """The ``celery_executor`` config for these settings.

    Steps are acknowledged only when they finish (``task_acks_late``) and handed back to the
    queue when their worker dies (``task_reject_on_worker_lost``); a task whose worker
    vanished without a word is redelivered after ``MFG_CELERY_VISIBILITY_TIMEOUT_S`` (plus up
    to :data:`RESTORE_SCAN_S`). One task at a time per worker process, so a queued step never
    waits behind a busy one.
    """
    from dagster_celery.defaults import broker_transport_options

    return {
        "broker": settings.mfg_celery_broker_url,
        "backend": settings.mfg_celery_backend_url,
        "config_source": {
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_transport_options": {
                **broker_transport_options,  # dagster-celery's connection retries
                "visibility_timeout": settings.mfg_celery_visibility_timeout_s,
                # scan for tasks of dead workers every 10 s (kombu's default: every 100 s)
                "unacked_restore_interval": RESTORE_SCAN_S,
                "unacked_restore_throttle": 1,
            },
            "result_backend_transport_options": {
                "visibility_timeout": settings.mfg_celery_visibility_timeout_s
            },
        },
    }


def scale_executor(settings: Settings | None = None) -> dg.ExecutorDefinition | None:
    """The executor of every job: ``None`` (Dagster's default) unless ``MFG_EXECUTOR=celery``."""
    settings = settings or get_settings()
    if settings.mfg_executor != "celery":
        return None
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_config(settings), name="celery")
