"""Alarms as a maintenance planner reads them: how many failures are warned early enough, at a
fixed budget of false alarms.

Input are labelled machine-hours (``failure_within_h`` = a failure follows within the horizon of
the row's time) and one score per row. Failures are read back from the labels: a run of positive
rows of one machine ends at its failure, which lies within the hour after the run's last row;
the failure time is taken as that last row's time, so lead times are never overstated (by up
to an hour short). A run still open at the machine's last row (failure after the window) is
not counted.

Alarms: a machine alarms at a row when its score reaches the threshold, unless it alarmed less
than ``horizon_hours`` before (one work order covers the horizon). An alarm on a positive row
warns the failure that follows; any other alarm is a false alarm. A failure's lead time is its
time minus its first warning alarm. The threshold is the one, among the scores' quantiles,
that warns the most failures at least ``min_lead_hours`` ahead with at most
``false_alarms_per_machine_week`` false alarms per machine-week of rows; it is chosen on the
same rows for every scorer (each at its best operating point), so scorers compare fairly while
the absolute numbers are optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

HOURS_PER_WEEK = 168.0


@dataclass(frozen=True)
class PlannerMetrics:
    failures: int  # failures in the rows (complete label runs)
    warned: int  # failures with a warning alarm
    warned_early: int  # failures warned at least min_lead_hours ahead
    share_warned_early: float  # warned_early / failures (NaN without failures)
    median_lead_hours: float  # over warned failures (NaN when none is warned)
    false_alarms: int
    machine_weeks: float
    false_alarms_per_machine_week: float
    threshold: float  # inf: no threshold fits the budget with an alarm
    min_lead_hours: float
    budget_per_machine_week: float
    # lead of every failure in a fixed order (machines sorted, then time; NaN: not warned), so
    # two scorers on the same rows can be compared failure by failure
    leads_hours: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict[str, float]:
        """The scalar metrics (not the per-failure leads) as floats."""
        skip = {"leads_hours"}
        return {f.name: float(getattr(self, f.name)) for f in fields(self) if f.name not in skip}


def share_also_warned(scorer: PlannerMetrics, reference: PlannerMetrics) -> tuple[int, int]:
    """Of the failures ``reference`` warns at least ``min_lead_hours`` ahead, how many
    ``scorer`` warns that early too (both scored on the same rows): ``(both, reference)``."""
    if len(scorer.leads_hours) != len(reference.leads_hours):
        raise ValueError("the two scorers were not measured on the same failures")
    mine = np.asarray(scorer.leads_hours, dtype=np.float64) >= scorer.min_lead_hours
    theirs = np.asarray(reference.leads_hours, dtype=np.float64) >= reference.min_lead_hours
    return int(np.sum(mine & theirs)), int(np.sum(theirs))


def _hours(times: np.ndarray) -> np.ndarray:
    values = np.asarray(times)
    if np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[s]").astype(np.int64) / 3600.0
    return values.astype(np.float64)


@dataclass(frozen=True)
class _Machine:
    hours: np.ndarray  # sorted row times (hours)
    positive: np.ndarray  # bool per row
    run_of_row: np.ndarray  # index of the failure a positive row announces, -1 otherwise
    failure_hours: np.ndarray  # per failure


def _machine(hours: np.ndarray, labels: np.ndarray) -> _Machine:
    positive = labels > 0.5
    run_of_row = np.full(len(hours), -1)
    failures: list[float] = []
    start = None
    for i in range(len(hours) + 1):
        if i < len(hours) and positive[i]:
            start = i if start is None else start
            continue
        if start is not None and i < len(hours):  # the run closed before the machine's last row
            run_of_row[start:i] = len(failures)
            failures.append(hours[i - 1])
        start = None
    return _Machine(hours, positive, run_of_row, np.asarray(failures, dtype=np.float64))


def _alarm_outcome(
    machine: _Machine, score: np.ndarray, threshold: float, refractory: float
) -> tuple[int, np.ndarray]:
    """False alarms and the lead time of each failure (NaN: not warned)."""
    leads = np.full(len(machine.failure_hours), np.nan)
    false_alarms = 0
    next_allowed = -np.inf
    for i in np.flatnonzero(score >= threshold):
        t = machine.hours[i]
        if t < next_allowed:
            continue
        next_allowed = t + refractory
        run = machine.run_of_row[i]
        if machine.positive[i]:
            if run >= 0 and np.isnan(leads[run]):
                leads[run] = machine.failure_hours[run] - t
        else:
            false_alarms += 1
    return false_alarms, leads


def planner_metrics(
    machines: np.ndarray,
    times: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    false_alarms_per_machine_week: float = 1.0,
    min_lead_hours: float = 6.0,
    horizon_hours: float = 24.0,
    threshold: float | None = None,
    candidates: int = 400,
) -> PlannerMetrics:
    """Planner metrics of ``scores`` at the best threshold within the false-alarm budget (or at
    the given ``threshold``)."""
    machines, hours = np.asarray(machines), _hours(times)
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    per_machine = []
    for machine in np.unique(machines):
        rows = np.flatnonzero(machines == machine)
        rows = rows[np.argsort(hours[rows], kind="mergesort")]
        per_machine.append((_machine(hours[rows], labels[rows]), scores[rows]))
    failures = sum(len(m.failure_hours) for m, _ in per_machine)
    machine_weeks = len(labels) / HOURS_PER_WEEK

    def outcome(cut: float) -> tuple[int, np.ndarray]:
        results = [_alarm_outcome(m, s, cut, horizon_hours) for m, s in per_machine]
        leads = np.concatenate([r[1] for r in results]) if results else np.empty(0)
        return sum(r[0] for r in results), leads

    if threshold is None:
        finite = scores[np.isfinite(scores)]
        cuts = (
            np.unique(np.quantile(finite, np.linspace(0, 1, candidates + 1))) if len(finite) else []
        )
        best: tuple[int, int, float] = (-1, 0, np.inf)  # (warned early, -false alarms, cut)
        for cut in cuts:
            false_alarms, leads = outcome(float(cut))
            if machine_weeks == 0 or false_alarms / machine_weeks > false_alarms_per_machine_week:
                continue
            key = (int(np.sum(leads >= min_lead_hours)), -false_alarms, float(cut))
            if key > best:
                best = key
        threshold = best[2]
    false_alarms, leads = outcome(threshold)
    warned = leads[~np.isnan(leads)]
    early = int(np.sum(warned >= min_lead_hours))
    return PlannerMetrics(
        failures=failures,
        warned=len(warned),
        warned_early=early,
        share_warned_early=early / failures if failures else float("nan"),
        median_lead_hours=float(np.median(warned)) if len(warned) else float("nan"),
        false_alarms=false_alarms,
        machine_weeks=machine_weeks,
        false_alarms_per_machine_week=(
            false_alarms / machine_weeks if machine_weeks else float("nan")
        ),
        threshold=float(threshold),
        min_lead_hours=min_lead_hours,
        budget_per_machine_week=false_alarms_per_machine_week,
        leads_hours=tuple(map(float, leads)),
    )


def planner_table(results: dict[str, PlannerMetrics]) -> str:
    """A markdown table of several scorers' planner metrics (the evaluation's metadata)."""
    lines = [
        "| scorer | failures | warned early | share | median lead (h) "
        "| false alarms / machine-week |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r.failures} | {r.warned_early} | {r.share_warned_early:.2f} | "
            f"{r.median_lead_hours:.1f} | {r.false_alarms_per_machine_week:.2f} |"
        )
    return "\n".join(lines)


def save_planner_plot(results: dict[str, PlannerMetrics], path: str) -> str:
    """Bar chart: share of failures warned ≥ the lead, and median lead, per scorer (PNG)."""
    from matplotlib.figure import Figure

    names = list(results)
    fig = Figure(figsize=(6, 3.2))
    share, lead = fig.subplots(1, 2)
    share.bar(names, [results[n].share_warned_early for n in names], color="tab:blue")
    share.set(ylim=(0, 1), title="failures warned early", ylabel="share")
    lead.bar(names, [results[n].median_lead_hours for n in names], color="tab:orange")
    lead.set(title="median lead (h)", ylabel="hours")
    first = next(iter(results.values()), None)
    if first is not None:
        fig.suptitle(
            f"≥ {first.min_lead_hours:g} h ahead, ≤ {first.budget_per_machine_week:g} false "
            "alarm per machine-week",
            fontsize=9,
        )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path
