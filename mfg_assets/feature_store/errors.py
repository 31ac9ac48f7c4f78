"""Errors of the Feast layer — import-light, so services can catch them without importing feast."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


class FeatureStoreError(RuntimeError):
    """Base class: something about the feature store makes the request impossible to answer."""


class UnknownMachineError(FeatureStoreError, LookupError):
    """Some requested machine ids have no features in the online store (a client error)."""

    def __init__(self, machine_ids: Sequence[str], *, project: str | None = None) -> None:
        self.machine_ids = list(machine_ids)
        where = f" (project {project!r})" if project else ""
        shown = ", ".join(repr(m) for m in self.machine_ids[:20])
        more = f" and {len(self.machine_ids) - 20} more" if len(self.machine_ids) > 20 else ""
        super().__init__(
            f"unknown machine id(s) {shown}{more}: no features in the online store{where}; "
            "the machine does not exist or its features were never materialized"
        )


class StaleFeaturesError(FeatureStoreError, LookupError):
    """The online features of some machines are older than the allowed age."""

    def __init__(self, stale: dict[str, datetime], *, max_age_s: float, now: datetime) -> None:
        self.stale = dict(stale)
        shown = ", ".join(
            f"{m!r} ({(now - ts).total_seconds() / 3600:.1f} h old)"
            for m, ts in list(self.stale.items())[:20]
        )
        super().__init__(
            f"stale online features for {shown}: older than {max_age_s / 3600:.1f} h; "
            "materialize recent partitions before serving"
        )


class PartitionsNotFoundError(FeatureStoreError, FileNotFoundError):
    """The hourly ``machine_hourly_features`` partitions Feast reads from do not exist."""


class FeatureStoreNotReadyError(FeatureStoreError):
    """Definitions not applied, or the online store lacks its tables."""


class InvalidEntityRowsError(FeatureStoreError, ValueError):
    """An entity frame for a point-in-time join is malformed."""
