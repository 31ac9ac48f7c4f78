"""Model steps retry only what a retry can fix: a lost connection is retried in the same run,
a deterministic error fails once."""

from __future__ import annotations

import sqlite3

import dagster as dg
import pytest

from mfg_assets.defs.common import model_lifecycle
from mfg_assets.defs.common.model_lifecycle import is_transient_error, transient_errors_retry


def test_transient_errors_are_recognised_through_the_chain() -> None:
    assert is_transient_error(ConnectionRefusedError("refused"))
    assert is_transient_error(TimeoutError())
    assert is_transient_error(sqlite3.OperationalError("database is locked"))
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("MLflow call failed") from inner
    except RuntimeError as outer:
        assert is_transient_error(outer)
    assert not is_transient_error(ValueError("features hold NaN"))
    assert not is_transient_error(KeyError("roc_auc"))


def run(monkeypatch: pytest.MonkeyPatch, errors: list[Exception]) -> tuple[bool, int]:
    """Materialize an asset whose body raises ``errors`` one call after another."""
    monkeypatch.setattr(model_lifecycle, "STEP_RETRY_SECONDS", 0)
    calls = []

    @dg.asset
    def flaky(context) -> int:  # no annotation: the module defers annotations
        calls.append(1)
        with transient_errors_retry(context):
            if len(calls) <= len(errors):
                raise errors[len(calls) - 1]
        return len(calls)

    result = dg.materialize([flaky], raise_on_error=False)
    return result.success, len(calls)


def test_a_lost_connection_is_retried_in_the_same_run(monkeypatch) -> None:
    assert run(monkeypatch, [ConnectionResetError("reset")]) == (True, 2)


def test_a_deterministic_error_is_not_retried(monkeypatch) -> None:
    assert run(monkeypatch, [ValueError("bad data")]) == (False, 1)


def test_retries_stop_after_their_limit(monkeypatch) -> None:
    errors = [ConnectionRefusedError("refused")] * 5
    assert run(monkeypatch, errors) == (False, model_lifecycle.STEP_RETRIES + 1)
