"""Kubernetes resource requests for heavy steps, as ``dagster-k8s/config`` tags.

On Kubernetes (deploy/helm/values.yaml: K8sRunLauncher) every run is a pod. These tags size it:

* as **op tags** on an asset (``@dg.asset(op_tags=GPU_TRAINING_K8S_TAGS)``) they size that
  asset's step pod when the job runs with dagster-k8s' ``k8s_job_executor`` (one pod per step);
* as **job tags** (``dg.define_asset_job(..., tags={**TRAINING_K8S_TAGS, ...})``) they size the
  run pod the K8sRunLauncher starts, which is where steps run with the default executor.

Outside Kubernetes (embedded profile, compose) the tags are inert metadata. Keep ``mfg/kind``
tags separate: they drive the run queue's concurrency limits (one training at a time).

``k8s_resource_tags`` builds other sizes; the values are validated by dagster-k8s itself in
``mfg_assets_tests/production/test_helm_values.py``.
"""

from __future__ import annotations

from typing import Any

K8S_CONFIG_TAG = "dagster-k8s/config"
GPU_RESOURCE = "nvidia.com/gpu"


def k8s_resource_tags(
    cpu: str,
    memory: str,
    gpus: int = 0,
    cpu_limit: str | None = None,
    memory_limit: str | None = None,
    node_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``dagster-k8s/config`` tag requesting ``cpu``/``memory`` (and ``gpus`` NVIDIA GPUs).

    Memory is limited to the request unless ``memory_limit`` says otherwise (a training step
    that outgrows it is OOM-killed and retried rather than starving its node); CPU is only
    limited when ``cpu_limit`` is given. GPU pods tolerate the usual ``nvidia.com/gpu`` taint.
    """
    requests: dict[str, str] = {"cpu": cpu, "memory": memory}
    limits: dict[str, str] = {"memory": memory_limit or memory}
    if cpu_limit:
        limits["cpu"] = cpu_limit
    if gpus:
        # Extended resources must be whole numbers, with request == limit.
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(int(gpus))
    config: dict[str, Any] = {
        "container_config": {"resources": {"requests": requests, "limits": limits}}
    }
    pod_spec: dict[str, Any] = {}
    if gpus:
        pod_spec["tolerations"] = [
            {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
        ]
    if node_selector:
        pod_spec["node_selector"] = dict(node_selector)
    if pod_spec:
        config["pod_spec_config"] = pod_spec
    return {K8S_CONFIG_TAG: config}


# Predictive-maintenance model (PyTorch on hourly features): CPU training.
TRAINING_K8S_TAGS: dict[str, Any] = k8s_resource_tags(cpu="2", memory="8Gi", cpu_limit="4")

# Defect detector (Ultralytics YOLO on inspection images): one NVIDIA GPU.
GPU_TRAINING_K8S_TAGS: dict[str, Any] = k8s_resource_tags(
    cpu="4", memory="16Gi", gpus=1, memory_limit="24Gi"
)

# Evaluation, drift reports, bento builds: modest but above the default pod size.
EVALUATION_K8S_TAGS: dict[str, Any] = k8s_resource_tags(cpu="1", memory="4Gi")
