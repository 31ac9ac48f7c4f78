"""Training/serving consistency: the online store must serve exactly the latest offline row.

``check_online_offline(store, offline_frame, sample_size, seed)`` samples machines from
``offline_frame`` (the latest partition(s) of ``machine_hourly_features``), takes each one's row
with the greatest ``event_timestamp`` not after ``now``, reads the same machines from the online
store and compares timestamp and every feature.

Tolerance: Feast stores ``Float64`` features as protobuf ``double_val`` in every online store
(a serialized ``ValueProto`` in SQLite/Postgres, a hash field in Redis), and the parquet ->
arrow -> pandas -> proto path keeps float64 exactly, so values round-trip bit for bit
(measured: max difference 0.0). ``rel_tol=1e-12, abs_tol=1e-12`` is a few thousand ulps:
room for a store that ever went through a shorter decimal text form, yet a change of 1e-6 on
a temperature of ~1000 (1e-9 relative) is caught; a float32 declaration would show up as ~1e-7
relative error, and a value from another hour differs by far more. Integer features compare
exactly; null and NaN count as the same "missing".
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import polars as pl

from mfg_assets.feature_store.names import JOIN_KEY, TIMESTAMP_FIELD
from mfg_assets.feature_store.offline import as_utc, latest_per_machine
from mfg_assets.feature_store.online import reader_for
from mfg_assets.features.schema import model_feature_columns, model_feature_schema

if TYPE_CHECKING:
    from feast import FeatureStore

DEFAULT_REL_TOL = 1e-12
DEFAULT_ABS_TOL = 1e-12
MISSING_ONLINE = "<not in online store>"


class Mismatch(NamedTuple):
    """One disagreement: ``feature`` is a feature name, ``event_timestamp`` or a marker."""

    machine_id: str
    feature: str
    online: Any
    offline: Any


@dataclass(frozen=True)
class ConsistencyReport:
    """Outcome of an online/offline comparison."""

    passed: bool
    machines_checked: int
    mismatches: list[Mismatch]
    max_abs_diff: float
    machine_ids: tuple[str, ...] = ()
    rel_tol: float = DEFAULT_REL_TOL
    abs_tol: float = DEFAULT_ABS_TOL
    note: str = ""
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> str:
        if self.passed:
            return (
                f"online == offline for {self.machines_checked} machines "
                f"(max |diff| {self.max_abs_diff:.3g}){'; ' + self.note if self.note else ''}"
            )
        shown = "; ".join(
            f"{m.machine_id}.{m.feature}: online={m.online!r} offline={m.offline!r}"
            for m in self.mismatches[:10]
        )
        more = f" (+{len(self.mismatches) - 10} more)" if len(self.mismatches) > 10 else ""
        count = len(self.mismatches)
        return f"{count} mismatches over {self.machines_checked} machines: {shown}{more}"

    def to_metadata(self) -> dict[str, Any]:
        """Plain values for a Dagster asset check."""
        return {
            "passed": self.passed,
            "machines_checked": self.machines_checked,
            "mismatches": len(self.mismatches),
            "max_abs_diff": self.max_abs_diff,
            "first_mismatches": [list(map(str, m)) for m in self.mismatches[:10]],
            "rel_tol": self.rel_tol,
            "abs_tol": self.abs_tol,
            "note": self.note,
        }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_online_offline(
    store: FeatureStore,
    offline_frame: Any,
    sample_size: int = 20,
    seed: int = 0,
    *,
    now: datetime | None = None,
    rel_tol: float = DEFAULT_REL_TOL,
    abs_tol: float = DEFAULT_ABS_TOL,
) -> ConsistencyReport:
    """Compare the online store with each sampled machine's latest offline row (see module doc)."""
    if not isinstance(offline_frame, pl.DataFrame):
        offline_frame = pl.from_pandas(offline_frame)
    schema = model_feature_schema()
    features = model_feature_columns()
    needed = [JOIN_KEY, TIMESTAMP_FIELD, *features]
    if missing_cols := [c for c in needed if c not in offline_frame.columns]:
        raise ValueError(f"offline frame lacks columns {missing_cols}")
    offline_frame = offline_frame.select(
        pl.col(JOIN_KEY).cast(pl.String),
        pl.col(TIMESTAMP_FIELD).cast(schema[TIMESTAMP_FIELD]),
        *[pl.col(c).cast(schema[c]) for c in features],
    )
    now = as_utc(now) if now else datetime.now(UTC)
    latest = latest_per_machine(offline_frame, at_or_before=now)
    if latest.is_empty():
        return ConsistencyReport(
            True,
            0,
            [],
            0.0,
            rel_tol=rel_tol,
            abs_tol=abs_tol,
            note="offline frame has no rows at or before now: nothing to compare",
        )
    machines = sorted(latest[JOIN_KEY].to_list())
    sample = sorted(random.Random(seed).sample(machines, min(max(sample_size, 1), len(machines))))
    offline_rows = {
        row[JOIN_KEY]: row for row in latest.filter(pl.col(JOIN_KEY).is_in(sample)).to_dicts()
    }
    online_rows = reader_for(store).fetch(sample)

    mismatches: list[Mismatch] = []
    max_abs_diff = 0.0
    for machine_id in sample:
        offline = offline_rows[machine_id]
        online = online_rows.get(machine_id)
        if online is None:
            mismatches.append(Mismatch(machine_id, MISSING_ONLINE, None, offline[TIMESTAMP_FIELD]))
            continue
        online_ts, values = online[0], dict(zip(features, online[1], strict=True))
        if online_ts != offline[TIMESTAMP_FIELD]:
            # a different hour is served: comparing its values feature by feature says nothing
            mismatches.append(
                Mismatch(machine_id, TIMESTAMP_FIELD, online_ts, offline[TIMESTAMP_FIELD])
            )
            continue
        for name in features:
            on, off = values.get(name), offline[name]
            if _missing(on) and _missing(off):
                continue
            if _missing(on) or _missing(off):
                mismatches.append(Mismatch(machine_id, name, on, off))
                continue
            diff = abs(float(on) - float(off))
            if schema[name] == pl.Int64:
                equal = int(on) == int(off)
            else:
                equal = math.isclose(float(on), float(off), rel_tol=rel_tol, abs_tol=abs_tol)
            max_abs_diff = max(max_abs_diff, diff)
            if not equal:
                mismatches.append(Mismatch(machine_id, name, on, off))
    return ConsistencyReport(
        passed=not mismatches,
        machines_checked=len(sample),
        mismatches=mismatches,
        max_abs_diff=max_abs_diff,
        machine_ids=tuple(sample),
        rel_tol=rel_tol,
        abs_tol=abs_tol,
    )
