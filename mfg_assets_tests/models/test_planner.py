"""Planner metrics on hand-computed examples: failures read from label runs, alarms with a
one-horizon refractory period, false alarms per machine-week, threshold within the budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfg_assets.models.maintenance.planner import (
    planner_metrics,
    planner_table,
    share_also_warned,
)


def plant(alarms: dict[str, dict[int, float]], open_run: bool = False):
    """Machine A fails at hour 30 (positive rows 7..30), B never fails; 48 rows each.
    ``alarms`` gives scores at chosen hours (0 elsewhere)."""
    machines, hours, labels, scores = [], [], [], []
    for machine in ("A", "B"):
        for hour in range(48):
            machines.append(machine)
            hours.append(float(hour))
            positive = machine == "A" and 7 <= hour <= 30
            positive |= open_run and machine == "B" and hour >= 40  # failure after the window
            labels.append(1.0 if positive else 0.0)
            scores.append(alarms.get(machine, {}).get(hour, 0.0))
    return np.array(machines), np.array(hours), np.array(labels), np.array(scores)


def test_warned_failure_and_false_alarm_at_a_given_threshold() -> None:
    m, t, y, s = plant({"A": {20: 1.0}, "B": {5: 1.0}})
    result = planner_metrics(m, t, y, s, threshold=1.0)
    assert result.failures == 1 and result.warned == 1 and result.warned_early == 1
    assert result.median_lead_hours == 10.0  # failure at 30 (last positive row) - alarm at 20
    assert result.share_warned_early == 1.0
    assert result.false_alarms == 1
    assert math.isclose(result.machine_weeks, 96 / 168)
    assert math.isclose(result.false_alarms_per_machine_week, 168 / 96)


def test_late_warning_counts_as_warned_but_not_early() -> None:
    m, t, y, s = plant({"A": {27: 1.0}})
    result = planner_metrics(m, t, y, s, threshold=1.0)
    assert result.warned == 1 and result.warned_early == 0 and result.median_lead_hours == 3.0
    assert result.share_warned_early == 0.0 and result.false_alarms == 0


def test_an_early_false_alarm_silences_the_machine_for_one_horizon() -> None:
    # alarm at 3 (no failure within 24 h: false), then 20 and 25 fall in its 24 h refractory
    m, t, y, s = plant({"A": {3: 1.0, 20: 1.0, 25: 1.0}})
    result = planner_metrics(m, t, y, s, threshold=1.0)
    assert result.false_alarms == 1 and result.warned == 0
    assert math.isnan(result.median_lead_hours)
    # from hour 27 on it may alarm again
    m, t, y, s = plant({"A": {3: 1.0, 28: 1.0}})
    assert planner_metrics(m, t, y, s, threshold=1.0).median_lead_hours == 2.0


def test_threshold_is_the_best_within_the_false_alarm_budget() -> None:
    # 96 rows = 0.57 machine-weeks: a budget of 1 per machine-week allows no false alarm
    m, t, y, s = plant({"A": {20: 0.9}, "B": {5: 0.8}})
    result = planner_metrics(m, t, y, s)
    assert result.threshold == 0.9 and result.false_alarms == 0 and result.warned_early == 1
    # a budget of 2 per machine-week allows one; the warning is the same, so the higher cut wins
    assert planner_metrics(m, t, y, s, false_alarms_per_machine_week=2.0).threshold == 0.9
    # B's false alarm outscores A's warning: no cut warns within the budget
    m, t, y, s = plant({"A": {20: 0.5}, "B": {5: 0.9}})
    none = planner_metrics(m, t, y, s)
    assert none.warned == 0 and none.false_alarms == 0 and none.threshold == math.inf


def test_a_run_open_at_the_end_is_not_a_failure_and_table_renders() -> None:
    m, t, y, s = plant({"A": {20: 1.0}}, open_run=True)
    result = planner_metrics(m, t, y, s, threshold=1.0)
    assert result.failures == 1
    table = planner_table({"challenger": result})
    assert "| challenger | 1 | 1 | 1.00 | 10.0 |" in table


def test_datetime_times_give_the_same_result() -> None:
    m, t, y, s = plant({"A": {20: 1.0}, "B": {5: 1.0}})
    stamps = np.datetime64("2026-11-01T00:00", "us") + (t * 3600e6).astype("timedelta64[us]")
    assert planner_metrics(m, stamps, y, s, threshold=1.0) == planner_metrics(
        m, t, y, s, threshold=1.0
    )


def test_share_also_warned_compares_failure_by_failure() -> None:
    """Two failures (machine A at 30, machine C at 40): the reference warns both early, the
    scorer only C's; a late alarm is not "as early"."""
    m, t, y, _ = plant({})
    c_hours = np.arange(48.0)
    m = np.concatenate([m, np.full(48, "C")])
    t = np.concatenate([t, c_hours])
    y = np.concatenate([y, ((c_hours >= 17) & (c_hours <= 40)).astype(float)])

    def scores(alarms: dict[tuple[str, int], float]) -> np.ndarray:
        return np.array([alarms.get((str(a), int(h)), 0.0) for a, h in zip(m, t, strict=True)])

    reference = planner_metrics(m, t, y, scores({("A", 20): 1, ("C", 25): 1}), threshold=1.0)
    scorer = planner_metrics(m, t, y, scores({("A", 28): 1, ("C", 30): 1}), threshold=1.0)
    assert reference.leads_hours == (10.0, 15.0)
    assert scorer.leads_hours == (2.0, 10.0)
    assert share_also_warned(scorer, reference) == (1, 2)
    assert share_also_warned(reference, scorer) == (1, 1)
    assert "leads_hours" not in scorer.as_dict()
    other = planner_metrics(*plant({"A": {20: 1.0}}), threshold=1.0)
    with pytest.raises(ValueError, match="same failures"):
        share_also_warned(other, reference)
