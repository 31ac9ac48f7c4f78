"""A Celery worker for Dagster steps, configured from the settings (one source of truth).

``python -m mfg_assets.scale.worker [celery worker options]`` starts a worker on the queue the
``celery`` executor sends steps to, with the broker, result backend and redelivery settings
of :func:`mfg_assets.scale.executor.celery_config`. Any host can run it that reaches the broker,
the instance database and the storage, with the code installed and the same ``MFG_*``,
``PLANT_DB_URL`` and ``AWS_*`` environment as the Dagster daemon.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from celery import Celery

from mfg_assets.scale.executor import celery_config
from mfg_assets.settings import get_settings


def worker_app() -> Celery:
    """The Celery app of the workers: dagster-celery's, with this platform's config."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    app = make_app(CeleryExecutor.for_cli(**celery_config(get_settings())).app_args())
    create_task(app)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run a worker; extra arguments go to ``celery worker`` (``--concurrency``, ``-n``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    worker_app().worker_main(["worker", "-Q", "dagster", "--loglevel", "INFO", *args])


if __name__ == "__main__":
    main()
