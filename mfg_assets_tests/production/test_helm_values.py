"""deploy/helm/values.yaml for Dagster's official chart, and the per-asset K8s resource tags.

No helm CLI can be installed here (not in Debian or npm; PyPI has no wheel that ships the CLI,
and the chart's templates are not vendored), so:

* the values are validated with ``jsonschema`` against the chart's real ``values.schema.json``
  (vendored in deploy/helm/schema/, provenance in its README) the way Helm applies it: JSON
  Schema draft 7, ``$ref`` overriding its siblings. Two deliberate relaxations, because the chart's
  own values.yaml (defaults) is not vendored: ``required`` is dropped (Helm validates the defaults
  merged with these values, which supply every required key) except inside ``if/then`` rules,
  and the Kubernetes object schemas the chart ``$ref``s on kubernetesjsonschema.dev (resources,
  tolerations, probes...) are accepted as any object there (Helm would fetch them); those
  objects are checked instead against the Kubernetes client's models (dagster-k8s's strict
  converter);
* the values are also checked against the key sets of the chart's pydantic models for the
  sections the stored schema predates, and kept consistent with deploy/dagster.yaml (same
  limits, retries, compute-log prefix, psycopg2);
* ``helm template``/``helm lint`` run when a helm CLI and a local copy of the chart
  (``DAGSTER_HELM_CHART=/path/to/helm/dagster``) are available;
* the ``dagster-k8s/config`` tags of mfg_assets/defs/common/k8s.py go through dagster-k8s itself:
  parsed from an asset's op tags and a job's tags, then rendered into a Kubernetes Job.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from typing import Any

import dagster as dg
import pytest

from mfg_assets.defs.common.k8s import (
    EVALUATION_K8S_TAGS,
    GPU_RESOURCE,
    GPU_TRAINING_K8S_TAGS,
    K8S_CONFIG_TAG,
    TRAINING_K8S_TAGS,
    k8s_resource_tags,
)
from mfg_assets_tests.production.stack import DEPLOY, load_yaml

VALUES = DEPLOY / "helm" / "values.yaml"
CHART_SCHEMA = DEPLOY / "helm" / "schema" / "values.schema.json"
K8S_SCHEMA_HOST = "https://kubernetesjsonschema.dev/"

K8S_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
    "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
    "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
S3_COMPUTE_LOG_KEYS = {
    "localDir", "prefix", "useSsl", "verify", "verifyCertPath", "endpointUrl", "skipEmptyFiles",
    "uploadInterval", "uploadExtraArgs", "showUrlOnly", "region", "bucket",
}  # fmt: skip
QUEUED_COORDINATOR_KEYS = {
    "maxConcurrentRuns", "tagConcurrencyLimits", "dequeueIntervalSeconds", "dequeueNumWorkers",
    "dequeueUseThreads", "blockOpConcurrencyLimitedRuns",
}  # fmt: skip
POSTGRESQL_KEYS = {
    "postgresqlScheme", "image", "enabled", "postgresqlHost", "postgresqlUsername",
    "postgresqlPassword", "postgresqlDatabase", "postgresqlParams", "service",
}  # fmt: skip
USER_DEPLOYMENT_KEYS = {
    "name", "image", "port", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
    "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity",
    "tolerations", "podSecurityContext", "securityContext", "resources", "livenessProbe",
    "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes", "schedulerName",
    "deploymentNamespace", "initContainers", "sidecarContainers",
}  # fmt: skip
TOP_LEVEL_KEYS = {
    "global", "nameOverride", "fullnameOverride", "rbacEnabled", "dagsterHome", "imagePullSecrets",
    "serviceAccount", "dagsterWebserver", "dagster-user-deployments", "postgresql",
    "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret", "rabbitmq", "redis",
    "flower", "ingress", "computeLogManager", "scheduler", "runLauncher", "pythonLogs",
    "dagsterDaemon", "busybox", "migrate", "telemetry", "retention", "additionalInstanceConfig",
    "concurrency", "defsStateStorage",
}  # fmt: skip


@pytest.fixture(scope="module")
def values() -> dict:
    return load_yaml(VALUES)


def _without_required(node: Any, *, in_then: bool = False) -> Any:
    """The schema without ``required`` lists, except the ``if/then`` rules (e.g. "type
    K8sRunLauncher needs config.k8sRunLauncher"), which the values alone must satisfy."""
    if isinstance(node, list):
        return [_without_required(item, in_then=in_then) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: _without_required(value, in_then=in_then or key == "then")
        for key, value in node.items()
        if key != "required" or in_then
    }


def chart_schema_validator():
    """A draft-7 validator for the chart's values.schema.json (see the module docstring)."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    def retrieve(uri: str) -> Resource:
        if not uri.startswith(K8S_SCHEMA_HOST):
            raise LookupError(f"unexpected remote $ref {uri}")
        return Resource.from_contents(
            {"definitions": _AnyK8sObject()}, default_specification=DRAFT7
        )

    schema = _without_required(json.loads(CHART_SCHEMA.read_text()))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, registry=Registry(retrieve=retrieve))


class _AnyK8sObject(dict):
    """``#/definitions/<anything>/...`` of the Kubernetes schema: an empty (accept-all) schema."""

    def __missing__(self, key: str) -> dict:
        return _AnyK8sObject(properties=_AnyK8sObject())


def _messages(error) -> list[str]:
    """An error's message and those of its causes (``anyOf`` branches)."""
    return [error.message, *(m for sub in error.context for m in _messages(sub))]


def test_values_validate_against_the_charts_values_schema(values: dict):
    errors = sorted(chart_schema_validator().iter_errors(values), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def _launcher(v: dict) -> dict:
    return v["runLauncher"]["config"]["k8sRunLauncher"]


def _queue(v: dict) -> dict:
    return v["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]


BROKEN_VALUES = [
    pytest.param(
        lambda v: _launcher(v).update(envSecret=[{"name": "x"}]),
        "Additional properties",
        id="typo in the K8s run launcher",
    ),
    pytest.param(
        lambda v: v["runLauncher"]["config"].pop("k8sRunLauncher"),
        "'k8sRunLauncher' is a required property",
        id="launcher type without its config",
    ),
    pytest.param(
        lambda v: v["computeLogManager"].update(type="S3LogManager"),
        "is not one of",
        id="unknown compute log manager",
    ),
    pytest.param(
        lambda v: v["dagster-user-deployments"]["deployments"][0].update(port="3030"),
        "is not of type 'integer'",
        id="port as a string",
    ),
    pytest.param(
        lambda v: _queue(v)["tagConcurrencyLimits"][0].update(limit="one"),
        "integer",
        id="tag limit as a string",
    ),
]


@pytest.mark.parametrize(("mutate", "complaint"), BROKEN_VALUES)
def test_the_chart_schema_rejects_broken_values(values: dict, mutate, complaint):
    broken = copy.deepcopy(values)
    mutate(broken)
    messages = [m for e in chart_schema_validator().iter_errors(broken) for m in _messages(e)]
    assert any(complaint in m for m in messages), messages


def _k8s_objects(values: dict) -> list[tuple[str, str, Any]]:
    """(where, Kubernetes model, value) of every Kubernetes object the values embed: the parts
    the chart's schema ``$ref``s to the Kubernetes schema."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    sections = {
        "dagsterWebserver": values["dagsterWebserver"],
        "dagsterDaemon": values["dagsterDaemon"],
        "runLauncher.k8sRunLauncher": launcher,
        **{
            f"deployments[{d['name']}]": d
            for d in values["dagster-user-deployments"]["deployments"]
        },
    }
    found = [
        ("runK8sConfig.containerConfig", "V1Container", launcher["runK8sConfig"]["containerConfig"])
    ]
    for where, section in sections.items():
        if "resources" in section:
            found.append((f"{where}.resources", "V1ResourceRequirements", section["resources"]))
        for key, model in (
            ("envConfigMaps", "V1ConfigMapEnvSource"),
            ("envSecrets", "V1SecretEnvSource"),
        ):
            found += [(f"{where}.{key}", model, ref) for ref in section.get(key, [])]
        for key, model in (("volumeMounts", "V1VolumeMount"), ("volumes", "V1Volume")):
            found += [(f"{where}.{key}", model, item) for item in section.get(key) or []]
    return found


def _check_k8s_object(model: str, value: Any) -> None:
    import kubernetes.client
    from dagster_k8s.models import k8s_snake_case_dict

    k8s_snake_case_dict(getattr(kubernetes.client, model), value)


def test_embedded_kubernetes_objects_match_the_kubernetes_models(values: dict):
    """What the schema leaves to the Kubernetes schema, checked against the Kubernetes client's
    models (dagster-k8s's strict converter: unknown keys and wrong nesting raise)."""
    found = _k8s_objects(values)
    assert {model for _, model, _ in found} >= {
        "V1Container", "V1ResourceRequirements", "V1ConfigMapEnvSource", "V1SecretEnvSource"
    }  # fmt: skip
    for where, model, value in found:
        try:
            _check_k8s_object(model, value)
        except Exception as exc:
            pytest.fail(f"{where}: {exc}")
    with pytest.raises(Exception, match="Unexpected keys in model class V1ResourceRequirements"):
        _check_k8s_object("V1ResourceRequirements", {"request": {"cpu": "1"}})
    with pytest.raises(Exception, match="Unexpected keys in model class V1Container"):
        _check_k8s_object("V1Container", {"resources": {}, "cpuLimit": "1"})


def _image_ok(image: dict) -> None:
    assert set(image) == {"repository", "tag", "pullPolicy"}
    assert image["pullPolicy"] in ("Always", "IfNotPresent", "Never")
    assert isinstance(image["tag"], str), "quote numeric-looking tags"


def test_values_use_only_keys_the_chart_knows(values: dict):
    assert set(values) <= TOP_LEVEL_KEYS, set(values) - TOP_LEVEL_KEYS
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(launcher) <= K8S_RUN_LAUNCHER_KEYS, set(launcher) - K8S_RUN_LAUNCHER_KEYS
    logs = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert set(logs) <= S3_COMPUTE_LOG_KEYS and "bucket" in logs
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert set(queued) <= QUEUED_COORDINATOR_KEYS
    for limit in queued["tagConcurrencyLimits"]:
        assert set(limit) <= {"key", "value", "limit"} and isinstance(limit["limit"], int)
    assert set(values["postgresql"]) <= POSTGRESQL_KEYS
    for deployment in values["dagster-user-deployments"]["deployments"]:
        assert set(deployment) <= USER_DEPLOYMENT_KEYS, set(deployment) - USER_DEPLOYMENT_KEYS
        _image_ok(deployment["image"])
    _image_ok(values["dagsterWebserver"]["image"])
    _image_ok(values["dagsterDaemon"]["image"])
    for section in ("dagsterWebserver", "dagsterDaemon"):
        for ref in values[section].get("envSecrets", []) + values[section].get("envConfigMaps", []):
            assert set(ref) == {"name"}


def test_k8s_launcher_user_code_external_postgres_and_s3_logs(values: dict):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    users = values["dagster-user-deployments"]
    assert users["enabled"] and users["enableSubchart"]
    (deployment,) = users["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "mfg_assets.definitions"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"]

    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlHost"]
    assert pg["postgresqlScheme"] == "postgresql+psycopg2"
    assert pg["postgresqlPassword"] == "", "the password belongs in the secret"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert values["telemetry"]["enabled"] is False
    assert not values["rabbitmq"]["enabled"] and not values["redis"]["enabled"]
    # Everything that reads S3 or the plant gets the credentials from Secrets, not values.
    secrets = {s["name"] for s in deployment["envSecrets"]}
    assert {"mfg-s3-credentials", "mfg-plant-db"} <= secrets


def test_values_agree_with_the_compose_instance(values: dict):
    instance = load_yaml(DEPLOY / "dagster.yaml")
    compose_limits = {
        (t["key"], t.get("value")): t["limit"]
        for t in instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    }
    daemon = values["dagsterDaemon"]
    helm_limits = {
        (t["key"], t.get("value")): t["limit"]
        for t in daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    }
    assert helm_limits[("mfg/kind", "training")] == compose_limits[("mfg/kind", "training")] == 1
    assert set(helm_limits) == set(compose_limits)
    assert daemon["runRetries"]["maxRetries"] == instance["run_retries"]["max_retries"]
    # failed steps are never re-run as new runs (a kept champion is not a failure)
    assert daemon["runRetries"]["retryOnAssetOrOpFailure"] is False
    assert instance["run_retries"]["retry_on_asset_or_op_failure"] is False
    assert daemon["runRetries"]["enabled"] and daemon["runMonitoring"]["enabled"]
    logs = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert logs["prefix"] == instance["compute_logs"]["config"]["prefix"]
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_helm_template_renders_the_chart(values: dict, tmp_path):
    helm = shutil.which("helm")
    chart = os.environ.get("DAGSTER_HELM_CHART")
    if not helm or not chart:
        pytest.skip(
            "needs a helm CLI and DAGSTER_HELM_CHART=<local copy of dagster's helm/dagster chart>"
            " (neither is obtainable from PyPI/Debian/npm here)"
        )
    for args in (["lint", chart], ["template", "mfg", chart]):
        proc = subprocess.run(
            [helm, *args, "-f", str(VALUES)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
    assert "K8sRunLauncher" in proc.stdout and "S3ComputeLogManager" in proc.stdout


def _job_for(tags: dict[str, str]):
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        construct_dagster_k8s_job,
        get_user_defined_k8s_config,
    )

    config = get_user_defined_k8s_config(tags)
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(
            job_image="registry.example.com/mfg-assets:0.1.0",
            dagster_home="/opt/dagster/dagster_home",
            instance_config_map="mfg-instance",
        ),
        args=["dagster", "api", "execute_step"],
        job_name="mfg-step",
        user_defined_k8s_config=config,
        pod_name="mfg-step-pod",
        component="step_worker",
    )
    return job.spec.template.spec


@pytest.mark.parametrize(
    "tags", [TRAINING_K8S_TAGS, GPU_TRAINING_K8S_TAGS, EVALUATION_K8S_TAGS], ids=str
)
def test_resource_tags_are_honored_by_dagster_k8s_as_op_and_job_tags(tags):
    @dg.asset(op_tags=tags)
    def heavy_asset() -> int:
        return 1

    op_tags = heavy_asset.op.tags
    assert isinstance(op_tags[K8S_CONFIG_TAG], str)  # Dagster stores dict tags as JSON
    pod = _job_for(op_tags)
    resources = pod.containers[0].resources
    wanted = tags[K8S_CONFIG_TAG]["container_config"]["resources"]
    assert resources.requests == wanted["requests"]
    assert resources.limits == wanted["limits"]

    job = dg.define_asset_job("heavy_job", selection=[heavy_asset], tags=tags)
    resolved = dg.Definitions(assets=[heavy_asset], jobs=[job]).resolve_job_def("heavy_job")
    run_pod = _job_for(
        {k: json.dumps(v) if isinstance(v, dict) else v for k, v in resolved.tags.items()}
    )
    assert run_pod.containers[0].resources.requests == wanted["requests"]


def test_gpu_tags_request_one_gpu_and_tolerate_the_gpu_taint():
    pod = _job_for({K8S_CONFIG_TAG: json.dumps(GPU_TRAINING_K8S_TAGS[K8S_CONFIG_TAG])})
    resources = pod.containers[0].resources
    assert resources.requests[GPU_RESOURCE] == resources.limits[GPU_RESOURCE] == "1"
    assert any(t.key == GPU_RESOURCE for t in pod.tolerations)
    assert (
        GPU_RESOURCE
        not in TRAINING_K8S_TAGS[K8S_CONFIG_TAG]["container_config"]["resources"]["requests"]
    )
    custom = k8s_resource_tags("8", "32Gi", gpus=2, node_selector={"pool": "gpu-a100"})
    custom_pod = _job_for({K8S_CONFIG_TAG: json.dumps(custom[K8S_CONFIG_TAG])})
    assert custom_pod.node_selector == {"pool": "gpu-a100"}
    assert custom_pod.containers[0].resources.limits[GPU_RESOURCE] == "2"


# Training assets of the code location and the tags their step pods must get. The detector is
# CPU-sized like its default experiment (defect_default); GPU_TRAINING_K8S_TAGS are for GPU runs.
TRAINING_ASSET_TAGS = {
    "maintenance_model": TRAINING_K8S_TAGS,
    "defect_detector": TRAINING_K8S_TAGS,
}


@pytest.mark.parametrize("asset_name", sorted(TRAINING_ASSET_TAGS))
def test_training_assets_request_their_k8s_resources(asset_name: str):
    from mfg_assets.definitions import defs

    key = dg.AssetKey(asset_name)
    graph = defs.resolve_asset_graph()
    op_tags = graph.get(key).assets_def.node_def.tags
    wanted = TRAINING_ASSET_TAGS[asset_name][K8S_CONFIG_TAG]["container_config"]["resources"]
    resources = _job_for(op_tags).containers[0].resources
    assert resources.requests == wanted["requests"]
    assert resources.limits == wanted["limits"]
    assert op_tags.get("mfg/kind") == "training"


@pytest.mark.parametrize("job_name", ["maintenance_training_job", "defect_training_job"])
def test_training_jobs_size_their_run_pods(job_name: str):
    from mfg_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    tags = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in job.tags.items()}
    assert tags["mfg/kind"] == "training"
    wanted = TRAINING_K8S_TAGS[K8S_CONFIG_TAG]["container_config"]["resources"]["requests"]
    assert _job_for(tags).containers[0].resources.requests == wanted
