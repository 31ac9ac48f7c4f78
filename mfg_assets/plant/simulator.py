"""The plant simulator: sensor readings, inspections and machine events for any time window.

Data is generated one machine-hour at a time from its own random streams and then sliced by
timestamp, so any window is deterministic and independent of how it is cut:
``generate(t0, t2)`` equals ``generate(t0, t1)`` followed by ``generate(t1, t2)``. Only the wear
process runs sequentially per machine from the epoch (cheap, cached, computed a week at a time).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from mfg_assets.plant.catalog import DEFECT_TYPES
from mfg_assets.plant.config import PlantConfig
from mfg_assets.plant.dirt import DIRT_KINDS, UNKNOWN_MACHINE_ID, apply_dirt_traced
from mfg_assets.plant.images import image_uris
from mfg_assets.plant.profile import MachineProfile, machine_profile
from mfg_assets.plant.quality import decide_defects, draft_quality
from mfg_assets.plant.randomness import Stream, machine_hour_rng
from mfg_assets.plant.readings import ReadingRows, utc_from_us
from mfg_assets.plant.scenarios import build_scenario
from mfg_assets.plant.sensors import machine_hour_signals
from mfg_assets.plant.wear import HOUR_S, WearTrack, failure_probability, simulate_wear

HOUR_US = HOUR_S * 1_000_000
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JITTER_US = 250_000  # sample timestamps wobble by up to a quarter second
TRACK_BLOCK_HOURS = 168
HOUR_CACHE_SIZE = 4

INSPECTION_COLUMNS = (
    "inspection_time",
    "product_id",
    "machine_id",
    "defect_type",
    "severity",
    "image_uri",
)


def to_us(ts: datetime) -> int:
    """Microseconds since the Unix epoch; naive datetimes are read as UTC."""
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return (ts - UNIX_EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class PlantBatch:
    """What the plant produced in a window, one frame per table.

    ``readings`` has ``ts, machine_id, sensor_type, value, arrival_ts`` (``arrival_ts`` is when
    the row reaches the database: ``ts`` unless late); ``inspections`` and ``events`` have the
    columns of their tables. All timestamps are ``Datetime("us", "UTC")``.
    """

    readings: pl.DataFrame
    inspections: pl.DataFrame
    events: pl.DataFrame


@dataclass(frozen=True)
class _Inspections:
    """Inspections of one or more machine-hours as arrays."""

    ts_us: np.ndarray
    machine: np.ndarray
    product_id: np.ndarray  # object (str)
    defect: np.ndarray  # index into DEFECT_TYPES
    severity: np.ndarray
    appearance: np.ndarray  # object (str)

    @classmethod
    def concat(cls, parts: list[_Inspections]) -> _Inspections:
        if not parts:
            empty_int, empty_str = np.empty(0, np.int64), np.empty(0, object)
            return cls(empty_int, empty_int, empty_str, empty_int, np.empty(0), empty_str)
        names = cls.__dataclass_fields__
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))

    def take(self, index: np.ndarray) -> _Inspections:
        return _Inspections(*(getattr(self, n)[index] for n in self.__dataclass_fields__))


class PlantSimulator:
    """Deterministic plant for one :class:`PlantConfig`; cheap to create, caches wear tracks."""

    def __init__(self, config: PlantConfig) -> None:
        self.config = config
        self.profiles: list[MachineProfile] = [
            machine_profile(config.seed, i, config.sample_interval_s)
            for i in range(config.machines)
        ]
        self.scenarios = [build_scenario(spec) for spec in config.scenarios]
        self._names = [p.machine_id for p in self.profiles] + [UNKNOWN_MACHINE_ID]
        self._epoch_us = to_us(config.epoch)
        self._tracks: list[WearTrack] = []
        self._hours: OrderedDict[int, tuple[ReadingRows, _Inspections]] = OrderedDict()

    @property
    def machine_ids(self) -> list[str]:
        """Ids of the plant's machines (the ``machines`` table)."""
        return self._names[:-1]

    # -- windows -------------------------------------------------------------------------------

    def generate(self, start: datetime, end: datetime) -> PlantBatch:
        """Everything with a timestamp in ``[start, end)``, ordered by time."""
        lo, hi = to_us(start), to_us(end)
        rows, checks = self._collect(lo, hi)
        rows = rows.take((rows.ts_us >= lo) & (rows.ts_us < hi))
        return PlantBatch(
            rows.sorted_by("ts_us", "machine", "sensor").to_frame(self._names),
            self._inspection_frame(checks, lo, hi),
            self.events(start, end),
        )

    def arrivals(self, start: datetime, end: datetime) -> PlantBatch:
        """What reaches the database in ``[start, end)``: readings by ``arrival_ts`` (late rows
        after the on-time rows they trail), inspections and events by timestamp."""
        lo, hi = to_us(start), to_us(end)
        rows, checks = self._collect(
            lo - self.config.dirt.max_delay // timedelta(microseconds=1), hi
        )
        rows = rows.take((rows.arrival_us >= lo) & (rows.arrival_us < hi))
        return PlantBatch(
            rows.sorted_by("arrival_us", "ts_us", "machine", "sensor").to_frame(self._names),
            self._inspection_frame(checks, lo, hi),
            self.events(start, end),
        )

    def ground_truth(self, start: datetime, end: datetime) -> pl.DataFrame:
        """What the simulator did to the readings with ``ts`` in ``[start, end)``, for scoring
        cleaning (the pipeline never reads it): :meth:`readings`' rows in the same order, plus
        ``dirt`` (a :data:`~mfg_assets.plant.dirt.DIRT_KINDS` label) and ``true_value`` (the
        undirtied signal). Scenario changes (offsets, unit changes, stuck sensors) are part of
        the signal, not dirt."""
        lo, hi = to_us(start), to_us(end)
        parts = [
            self._machine_hour_traced(index, hour)
            for hour in self._hour_range(lo, hi)
            for index in range(self.config.machines)
        ]
        rows = ReadingRows.concat([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int8)
        truth = np.concatenate([p[2] for p in parts]) if parts else np.empty(0)
        window = (rows.ts_us >= lo) & (rows.ts_us < hi)
        rows, labels, truth = rows.take(window), labels[window], truth[window]
        order = np.lexsort([rows.sensor, rows.machine, rows.ts_us])
        return (
            rows.take(order)
            .to_frame(self._names)
            .with_columns(
                pl.Series("dirt", DIRT_KINDS, dtype=pl.String).gather(labels[order]),
                pl.Series("true_value", truth[order], dtype=pl.Float64),
            )
        )

    def readings(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Sensor readings with ``ts`` in ``[start, end)`` (dirt included), by ts/machine/sensor."""
        return self.generate(start, end).readings

    def inspections(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Quality inspections with ``inspection_time`` in ``[start, end)``."""
        return self.generate(start, end).inspections

    def _inspection_frame(self, checks: _Inspections, lo: int, hi: int) -> pl.DataFrame:
        checks = checks.take((checks.ts_us >= lo) & (checks.ts_us < hi))
        checks = checks.take(np.lexsort([checks.machine, checks.ts_us]))
        frame = pl.DataFrame(
            [
                utc_from_us(checks.ts_us, "inspection_time"),
                pl.Series("product_id", checks.product_id, dtype=pl.String),
                pl.Series("machine_id", self._names, dtype=pl.String).gather(checks.machine),
                pl.Series("defect_type", DEFECT_TYPES, dtype=pl.String).gather(checks.defect),
                pl.Series("severity", checks.severity, dtype=pl.Float64),
                pl.Series("image_appearance", checks.appearance, dtype=pl.String),
            ]
        )
        uris = image_uris(frame, seed=self.config.seed)
        return frame.with_columns(uris).select(INSPECTION_COLUMNS)

    def events(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Failure and maintenance events with ``ts`` in ``[start, end)``."""
        lo, hi = to_us(start), to_us(end)
        lo_s, hi_s = (lo - self._epoch_us) / 1e6, (hi - self._epoch_us) / 1e6
        ts, machine, kind = [], [], []
        for index in range(self.config.machines):
            track = self._track(index, math.ceil(hi_s / HOUR_S))
            for event_type, times in (
                ("failure", track.down_start_s),
                ("maintenance", track.maintenance_s),
            ):
                hit = times[(times >= lo_s) & (times < hi_s)]
                ts.extend(self._epoch_us + (hit * 1e6).astype(np.int64))
                machine.extend([self._names[index]] * len(hit))
                kind.extend([event_type] * len(hit))
        frame = pl.DataFrame(
            [
                utc_from_us(np.array(ts, dtype=np.int64), "ts"),
                pl.Series("machine_id", machine, dtype=pl.String),
                pl.Series("event_type", kind, dtype=pl.String),
            ]
        )
        return frame.sort("ts", "machine_id", "event_type")

    def wear(self, machine_id: str, at: list[datetime]) -> np.ndarray:
        """Ground-truth wear of a machine at the given times (hidden from the plant's data)."""
        index = self._names.index(machine_id)
        t_s = (np.array([to_us(t) for t in at], dtype=np.int64) - self._epoch_us) / 1e6
        return self._track(index, math.ceil(t_s.max(initial=0) / HOUR_S)).wear_at(t_s)

    def failure_probability(
        self, machine_id: str, at: list[datetime], horizon_hours: float
    ) -> np.ndarray:
        """The oracle: probability that the machine fails within ``horizon_hours`` after each
        time, from its hidden wear and fault state (``plant.wear.failure_probability``);
        benchmarks score models against it, the pipeline never reads it."""
        index = self._names.index(machine_id)
        t_s = (np.array([to_us(t) for t in at], dtype=np.int64) - self._epoch_us) / 1e6
        hours = math.ceil(t_s.max(initial=0) / HOUR_S) + 1
        track = self._track(index, hours)
        hour = np.clip((t_s // HOUR_S).astype(np.int64), 0, None)
        factor = self._rate_factor(self.profiles[index], int(hour.max(initial=0)) + 1)[hour]
        return failure_probability(
            track.wear_at(t_s),
            self.profiles[index].wear_rate * factor,
            track.fault_progress(t_s) > 0,
            horizon_hours,
        )

    # -- machine-hours -------------------------------------------------------------------------

    def _hour_range(self, lo_us: int, hi_us: int) -> range:
        first = max(0, (lo_us - self._epoch_us) // HOUR_US)
        last = max(0, -((self._epoch_us - hi_us) // HOUR_US))  # ceil
        return range(first, last)

    def _collect(self, lo_us: int, hi_us: int) -> tuple[ReadingRows, _Inspections]:
        """Readings and inspections of every machine-hour overlapping ``[lo_us, hi_us)``."""
        hours = [self._hour(h) for h in self._hour_range(lo_us, hi_us)]
        return (
            ReadingRows.concat([rows for rows, _ in hours]),
            _Inspections.concat([checks for _, checks in hours]),
        )

    def _track(self, index: int, hour: int) -> WearTrack:
        if not self._tracks or self._tracks[0].hours < hour:
            hours = max(1, -(-hour // TRACK_BLOCK_HOURS)) * TRACK_BLOCK_HOURS
            self._tracks = [
                simulate_wear(p, self.config.seed, hours, self._rate_factor(p, hours))
                for p in self.profiles
            ]
        return self._tracks[index]

    def _rate_factor(self, profile: MachineProfile, hours: int) -> np.ndarray:
        factor = np.ones(hours)
        for scenario in self.scenarios:
            first = -((self._epoch_us - to_us(scenario.start)) // HOUR_US)  # first hour on/after
            factor[max(first, 0) :] *= scenario.wear_factor(profile.machine_id)
        return factor

    def _hour(self, hour: int) -> tuple[ReadingRows, _Inspections]:
        if hour not in self._hours:
            readings = [self._machine_hour_readings(i, hour) for i in range(self.config.machines)]
            checks = [self._machine_hour_inspections(i, hour) for i in range(self.config.machines)]
            self._hours[hour] = (ReadingRows.concat(readings), _Inspections.concat(checks))
            if len(self._hours) > HOUR_CACHE_SIZE:
                self._hours.popitem(last=False)
        return self._hours[hour]

    def _machine_hour_readings(self, index: int, hour: int) -> ReadingRows:
        return self._machine_hour_traced(index, hour)[0]

    def _machine_hour_traced(
        self, index: int, hour: int
    ) -> tuple[ReadingRows, np.ndarray, np.ndarray]:
        """One machine-hour's delivered rows, their dirt labels and undirtied values."""
        cfg, profile = self.config, self.profiles[index]
        track = self._track(index, hour + 1)
        rng = machine_hour_rng(cfg.seed, index, hour, Stream.SENSORS)
        samples = HOUR_S // cfg.sample_interval_s
        offset_us = (
            np.arange(samples, dtype=np.int64) * cfg.sample_interval_s * 1_000_000
            + profile.phase_us
            + rng.integers(0, JITTER_US, samples)
        )
        t_s = hour * HOUR_S + offset_us / 1e6
        ts_us = self._epoch_us + hour * HOUR_US + offset_us
        hour_of_day = (cfg.epoch.hour + hour + offset_us / HOUR_US) % 24
        signals = machine_hour_signals(
            profile, hour_of_day, track.wear_at(t_s), track.fault_progress(t_s), rng
        )
        for scenario in self.scenarios:
            scenario.shape_signals(profile.machine_id, ts_us >= to_us(scenario.start), signals)
        up = track.is_up(t_s)
        values = signals.values()[up]
        n_up, n_sensors = values.shape
        rows = ReadingRows(
            ts_us=np.repeat(ts_us[up], n_sensors),
            machine=np.full(n_up * n_sensors, index, dtype=np.int32),
            sensor=np.tile(np.arange(n_sensors, dtype=np.int8), n_up),
            value=values.ravel(),
            arrival_us=np.repeat(ts_us[up], n_sensors),
        )
        dirt_rng = machine_hour_rng(cfg.seed, index, hour, Stream.DIRT)
        return apply_dirt_traced(rows, cfg.dirt, dirt_rng, unknown_machine=cfg.machines)

    def _machine_hour_inspections(self, index: int, hour: int) -> _Inspections:
        cfg, profile = self.config, self.profiles[index]
        track = self._track(index, hour + 1)
        rng = machine_hour_rng(cfg.seed, index, hour, Stream.QUALITY)
        count = int(rng.poisson(cfg.inspections_per_machine_hour))
        offset_us = np.sort(rng.integers(0, HOUR_US, count))
        draws = rng.random((count, 2))
        severity_draw = rng.beta(2.0, 5.0, count)
        t_s = hour * HOUR_S + offset_us / 1e6
        up = np.flatnonzero(track.is_up(t_s))
        t_s, offset_us = t_s[up], offset_us[up]
        ts_us = self._epoch_us + hour * HOUR_US + offset_us
        wear = track.wear_at(t_s)
        draft = draft_quality(wear, track.fault_progress(t_s))
        for scenario in self.scenarios:
            scenario.shape_quality(profile.machine_id, ts_us >= to_us(scenario.start), draft)
        defect, severity = decide_defects(draft, draws[up], severity_draw[up], wear)
        label = (cfg.epoch + timedelta(hours=hour)).strftime("%Y%m%d%H")
        product_id = np.array([f"P{label}-{profile.machine_id}-{k:03d}" for k in up], dtype=object)
        return _Inspections(
            ts_us=ts_us,
            machine=np.full(len(up), index, dtype=np.int32),
            product_id=product_id,
            defect=defect,
            severity=severity,
            appearance=draft.appearance,
        )
