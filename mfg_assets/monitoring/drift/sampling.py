"""The reference a drift report compares against: a stratified sample, prepared once.

The reference (the champion's training window) is sampled to ``reference_sample_rows`` rows,
stratified by ``machine_id`` (the machine mix, the largest source of variance in these features,
stays exact), with a fixed seed. :class:`DriftReference` keeps the sample per champion version
(``save``/``load`` as parquet), so each report reads nothing but the current window. The current
window is never sampled: it is the data under test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from mfg_assets.monitoring.drift.config import DriftConfig, Window, default_drift_columns

REFERENCE_FILE = "reference.parquet"
REFERENCE_META_FILE = "reference.json"


def sample_rows(
    frame: pl.DataFrame, n: int, strata: str | None = "machine_id", seed: int = 0
) -> pl.DataFrame:
    """About ``n`` rows of ``frame``, drawn with a fixed seed; ``frame`` itself when it is small.

    With a ``strata`` column present, every stratum keeps its share of the rows (proportional
    allocation, rounded per stratum); otherwise a uniform sample without replacement.
    """
    if frame.height <= n:
        return frame
    if strata is None or strata not in frame.columns:
        return frame.sample(n=n, shuffle=True, seed=seed)
    fraction = n / frame.height
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    rank = pl.int_range(pl.len()).over(strata)
    quota = (pl.len().over(strata) * fraction).round()
    return shuffled.filter(rank < quota)


@dataclass(frozen=True)
class DriftReference:
    """The reference rows a report compares against, prepared once per reference.

    ``frame`` holds the drift columns of the (sampled) reference; ``rows_total`` is the size of
    the reference before sampling. Keep one per champion version (``save``/``load``).
    """

    frame: pl.DataFrame
    rows_total: int
    reference_id: str | None = None
    window: Window | None = None
    sampled: bool = False
    seed: int | None = None

    @property
    def rows_used(self) -> int:
        return self.frame.height

    def save(self, directory: str | Path) -> Path:
        """Write ``reference.parquet`` and ``reference.json`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.frame.write_parquet(directory / REFERENCE_FILE)
        (directory / REFERENCE_META_FILE).write_text(json.dumps(self.meta(), indent=2))
        return directory

    def meta(self) -> dict[str, Any]:
        """Everything but the frame, JSON-friendly (``reference.json``)."""
        return {
            "rows_total": self.rows_total,
            "reference_id": self.reference_id,
            "window": [t.isoformat() for t in self.window] if self.window else None,
            "sampled": self.sampled,
            "seed": self.seed,
        }

    @classmethod
    def load(cls, directory: str | Path) -> DriftReference:
        """Inverse of :meth:`save`; ``FileNotFoundError`` when the reference does not exist."""
        directory = Path(directory)
        meta = json.loads((directory / REFERENCE_META_FILE).read_text())
        return cls.from_parts(pl.read_parquet(directory / REFERENCE_FILE), meta)

    @classmethod
    def from_parts(cls, frame: pl.DataFrame, meta: Mapping[str, Any]) -> DriftReference:
        """A reference from its frame and :meth:`meta` (e.g. read back from a file store)."""
        window = meta.get("window")
        return cls(
            frame=frame,
            rows_total=int(meta["rows_total"]),
            reference_id=meta.get("reference_id"),
            window=(datetime.fromisoformat(window[0]), datetime.fromisoformat(window[1]))
            if window
            else None,
            sampled=bool(meta.get("sampled", False)),
            seed=meta.get("seed"),
        )


def prepare_reference(
    reference: pl.DataFrame,
    columns: Sequence[str] | None = None,
    config: DriftConfig | None = None,
    *,
    reference_id: str | None = None,
    window: Window | None = None,
) -> DriftReference:
    """Sample ``reference`` as ``config`` says and keep the compared columns (those present).

    Columns missing from the reference are not an error here: the report that asks for them is
    skipped with the reason.
    """
    config = config or DriftConfig()
    wanted = list(columns) if columns is not None else default_drift_columns()
    keep = [c for c in dict.fromkeys(wanted) if c in reference.columns]
    n = config.reference_sample_rows
    sampled = n is not None and reference.height > n
    rows = sample_rows(reference, n, config.sample_strata, config.seed) if sampled else reference
    return DriftReference(
        frame=rows.select(keep),
        rows_total=reference.height,
        reference_id=reference_id,
        window=window,
        sampled=sampled,
        seed=config.seed if sampled else None,
    )
