"""A reviewable description of the asset graph, for the snapshot test."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg


def _partitions(pdef: dg.PartitionsDefinition | None) -> Any:
    if pdef is None:
        return None
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return {"type": type(pdef).__name__, "cron": pdef.cron_schedule, "tz": pdef.timezone}
    return {"type": type(pdef).__name__}


def _mapping(mapping: Any) -> Any:
    if mapping is None:
        return None
    if isinstance(mapping, dg.TimeWindowPartitionMapping):
        return {
            "type": "TimeWindowPartitionMapping",
            "start_offset": mapping.start_offset,
            "end_offset": mapping.end_offset,
        }
    return {"type": type(mapping).__name__}


def describe(defs: dg.Definitions) -> dict[str, Any]:
    """Keys, groups, deps (with partition mappings), partitions, checks, policies."""
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if node.is_external:
            continue
        freshness = node.freshness_policy
        backfill = node.backfill_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "deps": {
                parent.to_user_string(): _mapping(
                    graph.get_partition_mapping(key, parent)
                    if node.partitions_def and graph.get(parent).partitions_def
                    else None
                )
                for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string())
            },
            "checks": sorted(c.name for c in node.check_keys),
            "freshness": None if freshness is None else json.loads(dg.serialize_value(freshness)),
            "backfill": None if backfill is None else backfill.policy_type.value,
            "automation": None
            if node.automation_condition is None
            else node.automation_condition.get_label() or type(node.automation_condition).__name__,
        }
    repo = defs.get_repository_def()
    jobs = sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__"))
    schedules = sorted([s.name, s.cron_schedule, s.job_name] for s in repo.schedule_defs)
    sensors = sorted(s.name for s in repo.sensor_defs)
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors}
