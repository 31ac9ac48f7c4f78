"""MLflow model registry for every model: versions, aliases, the promotion gate, rollback.

Aliases, not stages: ``champion`` is what serving loads, ``challenger`` the latest candidate.

Promotion history lives in model-version tags. ``promote(name, v)`` tags ``v`` with
``previous_champion=<old champion>`` and moves ``champion`` to ``v``. ``rollback(name)`` tags the
current champion ``rolled_back=true`` and moves ``champion`` to its ``previous_champion``,
skipping versions that were themselves rolled back. So rollback walks the promotion history
backwards (v1→v2→v3: rollback gives v2, again v1, again an error) and never ping-pongs between
two versions; promoting a rolled-back version again clears its ``rolled_back`` tag.
mlflow is imported inside the methods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mfg_assets.models.tracking import configure_mlflow, tracking_uri

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION_TAG = "previous_champion"
ROLLED_BACK_TAG = "rolled_back"
REGISTERED_MODELS: dict[str, str] = {
    "maintenance": "maintenance_model",
    "defect": "defect_detector",
}
_TOLERANCE = 1e-9  # float noise when comparing metric differences with the margin


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (unknown model, no champion, ...)."""


class NoPreviousChampionError(RegistryError):
    """Rollback asked for, but there is no earlier champion to return to."""


@dataclass(frozen=True)
class PromotionDecision:
    passed: bool
    reason: str
    challenger_value: float | None = None
    champion_value: float | None = None


def decide_promotion(
    challenger_metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    metric: str,
    threshold: float,
    margin: float,
) -> PromotionDecision:
    """Pass when the challenger's ``metric`` (higher is better) is ≥ ``threshold`` and, if there
    is a champion (scored on the same held-out rows), ≥ champion + ``margin``."""
    value = challenger_metrics.get(metric)
    if value is None or math.isnan(value):
        return PromotionDecision(False, f"challenger has no {metric} value")
    if value < threshold:
        return PromotionDecision(
            False, f"challenger {metric} {value:.4f} is below the threshold {threshold}", value
        )
    if champion_metrics is None:
        return PromotionDecision(
            True, f"first model: {metric} {value:.4f} meets the threshold {threshold}", value
        )
    best = champion_metrics.get(metric)
    if best is None or math.isnan(best):
        return PromotionDecision(False, f"champion has no {metric} value to compare", value)
    gain = value - best
    verdict = "beats" if gain >= margin - _TOLERANCE else "does not beat"
    return PromotionDecision(
        gain >= margin - _TOLERANCE,
        f"challenger {metric} {value:.4f} {verdict} champion {best:.4f} by the margin {margin} "
        f"(difference {gain:+.4f})",
        value,
        best,
    )


class ModelRegistry:
    """Registry operations on one tracking store (default: :func:`tracking_uri`)."""

    def __init__(self, uri: str | None = None) -> None:
        import mlflow

        configure_mlflow()
        self.uri = uri or tracking_uri()
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def register(self, model_uri: str, name: str, tags: Mapping[str, str] | None = None) -> int:
        """New version of ``name`` (created if needed) from ``models:/<model_id>``, the URI
        ``log_model`` returns. Every version carries ``artifact_sha256``: the given one (the
        served file's digest, e.g. an export's) or the digest of the logged model's files, so
        whatever loads it later can check it was not replaced in the artifact store."""
        from mlflow.exceptions import MlflowException

        from mfg_assets.models.artifacts import logged_model_sha256

        model_id = model_uri.removeprefix("models:/")
        if not model_uri.startswith("models:/m-") or "/" in model_id:
            raise RegistryError(f"expected a logged model URI models:/m-..., got {model_uri!r}")
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        run_id = self.client.get_logged_model(model_id).source_run_id
        tags = {k: str(v) for k, v in (tags or {}).items()}
        tags["artifact_sha256"] = tags.get("artifact_sha256") or logged_model_sha256(model_uri)
        version = self.client.create_model_version(
            name,
            source=model_uri,
            run_id=run_id,
            tags=tags,
            model_id=model_id,
        )
        return int(version.version)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def get_alias_version(self, name: str, alias: str) -> int | None:
        """The version ``alias`` points to; None if the alias or the model does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def alias_uri(self, name: str, alias: str) -> str | None:
        """``models:/<name>@<alias>`` if the alias is set, e.g. to re-score the champion."""
        return f"models:/{name}@{alias}" if self.get_alias_version(name, alias) else None

    def promote(self, name: str, version: int) -> int | None:
        """Make ``version`` the champion; returns the previous champion (None if first)."""
        previous = self.get_alias_version(name, CHAMPION)
        if previous == version:
            return previous
        self._version(name, version)  # fail before touching anything if it does not exist
        if previous is None:
            self._delete_tag(name, version, PREVIOUS_CHAMPION_TAG)
        else:
            self._set_tag(name, version, PREVIOUS_CHAMPION_TAG, str(previous))
        self._delete_tag(name, version, ROLLED_BACK_TAG)
        self._set_tag(name, version, "promoted_at", _now())
        self.set_alias(name, CHAMPION, version)
        if self.get_alias_version(name, CHALLENGER) == version:
            self.client.delete_registered_model_alias(name, CHALLENGER)
        return previous

    def rollback(self, name: str) -> tuple[int, int]:
        """Move ``champion`` back to the previous champion; returns ``(from, to)`` versions."""
        current = self.get_alias_version(name, CHAMPION)
        if current is None:
            raise NoPreviousChampionError(f"{name} has no champion to roll back")
        seen = {current}
        candidate = self._previous(name, current)
        while candidate is not None and self._tags(name, candidate).get(ROLLED_BACK_TAG) == "true":
            seen.add(candidate)
            candidate = self._previous(name, candidate)
            if candidate in seen:  # a promotion cycle of rolled-back versions: nothing left
                candidate = None
        if candidate is None:
            raise NoPreviousChampionError(
                f"{name} v{current} is the champion and there is no previous champion to "
                "roll back to"
            )
        self._set_tag(name, current, ROLLED_BACK_TAG, "true")
        self._set_tag(name, current, "rolled_back_at", _now())
        self.set_alias(name, CHAMPION, candidate)
        return current, candidate

    def version_info(self, name: str, version: int) -> dict[str, Any]:
        """Tags and the producing run's final metrics of one version."""
        from mlflow.exceptions import MlflowException

        mv = self._version(name, version)
        try:
            metrics = dict(self.client.get_run(mv.run_id).data.metrics) if mv.run_id else {}
        except MlflowException:  # the producing run was deleted
            metrics = {}
        return {"version": version, "tags": dict(mv.tags), "metrics": metrics}

    def status(self, name: str) -> dict[str, dict[str, Any] | None]:
        """Champion and challenger (tags, run metrics); RegistryError if ``name`` is unknown."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            raise RegistryError(f"no registered model {name!r} in {self.uri}") from exc
        result: dict[str, dict[str, Any] | None] = {}
        for alias in (CHAMPION, CHALLENGER):
            version = self.get_alias_version(name, alias)
            result[alias] = None if version is None else self.version_info(name, version)
        return result

    def _version(self, name: str, version: int) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            raise RegistryError(f"{name} has no version {version}") from exc

    def _tags(self, name: str, version: int) -> dict[str, str]:
        try:
            return dict(self._version(name, version).tags)
        except RegistryError:  # a deleted version: treat like a rolled-back one
            return {ROLLED_BACK_TAG: "true"}

    def _previous(self, name: str, version: int) -> int | None:
        value = self._tags(name, version).get(PREVIOUS_CHAMPION_TAG)
        return int(value) if value else None

    def _set_tag(self, name: str, version: int, key: str, value: str) -> None:
        self.client.set_model_version_tag(name, str(version), key, value)

    def _delete_tag(self, name: str, version: int, key: str) -> None:
        if key in self._version(name, version).tags:
            self.client.delete_model_version_tag(name, str(version), key)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
