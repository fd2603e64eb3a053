"""Offline validation of jobs/k8s/*.yaml.

KubeRay objects (RayJob, RayCluster) are validated against the KubeRay v1.7.0 CRD schemas in
tests/data/kuberay-crds/ the way the API server would: the CRD's openAPIV3Schema for the
manifest's version is turned into a JSON schema in which
  - ``x-kubernetes-int-or-string: true`` means integer or string,
  - ``nullable: true`` also admits null,
  - ``x-kubernetes-preserve-unknown-fields: true`` admits any extra field,
  - every other object that lists ``properties`` rejects fields it does not list
    (``additionalProperties: false``): the API server prunes unknown fields, and kubectl >= 1.27
    (strict field validation) refuses them, so a misspelt field is a silent no-op at best,
  - the root ``metadata`` (ObjectMeta, which CRD schemas leave open) gets a small ObjectMeta
    schema of its own.
CEL rules (x-kubernetes-validations) are not evaluated; the checks the KubeRay operator itself
makes on a spec (webhook/validation.go: names, container counts, replica bounds, one of
rayClusterSpec/clusterSelector, runtimeEnvYAML) are re-stated below. Plain Kubernetes objects
(the Secret) are checked for their required keys and types.
"""
from __future__ import annotations

import copy
import functools
import re
import shlex
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
K8S_DIR = ROOT / "jobs" / "k8s"
CRD_DIR = Path(__file__).resolve().parent / "data" / "kuberay-crds"
CRD_FILES = {"RayJob": "ray.io_rayjobs.yaml", "RayCluster": "ray.io_rayclusters.yaml"}

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_RAYJOB_NAME = 47  # KubeRay: the generated cluster and its pods must still fit in 63 characters
MAX_RAYCLUSTER_NAME = 63

OBJECT_META_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 253,
                 "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
        "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


# --------------------------------------------------------------------------- schema conversion


_COPIED_KEYS = (
    "type", "required", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems", "minLength", "maxLength", "minProperties",
    "maxProperties", "uniqueItems", "multipleOf",
)


def k8s_to_json_schema(node: dict) -> dict:
    """Convert one (structural) Kubernetes OpenAPI v3 schema node to a JSON-schema node."""
    out: dict = {k: copy.deepcopy(node[k]) for k in _COPIED_KEYS if k in node}
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    else:
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                out[key] = [k8s_to_json_schema(n) for n in node[key]]
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if "properties" in node:
        out["properties"] = {k: k8s_to_json_schema(v) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = k8s_to_json_schema(node["items"])
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = k8s_to_json_schema(extra)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif "properties" in node and not preserve:
        out["additionalProperties"] = False
    return out


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=None)
def load_crd(kind: str) -> dict:
    return yaml.load((CRD_DIR / CRD_FILES[kind]).read_text(), Loader=_Loader)


@functools.lru_cache(maxsize=None)
def crd_validator(kind: str, api_version: str):
    return jsonschema.Draft202012Validator(crd_json_schema(kind, api_version))


def crd_json_schema(kind: str, api_version: str) -> dict:
    crd = load_crd(kind)
    group, _, version = api_version.partition("/")
    assert group == crd["spec"]["group"], f"{kind}: apiVersion group {group!r} is not {crd['spec']['group']!r}"
    assert crd["spec"]["names"]["kind"] == kind
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert version in versions, f"{kind}: version {version!r} not in CRD ({sorted(versions)})"
    assert versions[version].get("served"), f"{kind} {version} is not served"
    schema = k8s_to_json_schema(versions[version]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = OBJECT_META_SCHEMA
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def schema_errors(doc: dict) -> list[str]:
    validator = crd_validator(doc["kind"], doc["apiVersion"])
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


# --------------------------------------------------------------------------- KubeRay's own checks


def cluster_spec_problems(spec: dict, where: str) -> list[str]:
    problems = []
    head_containers = spec["headGroupSpec"]["template"]["spec"].get("containers") or []
    if not head_containers:
        problems.append(f"{where}.headGroupSpec: no container")
    names = [g["groupName"] for g in spec.get("workerGroupSpecs", [])]
    if len(names) != len(set(names)):
        problems.append(f"{where}.workerGroupSpecs: duplicate groupName in {names}")
    for group in spec.get("workerGroupSpecs", []):
        if not group["template"]["spec"].get("containers"):
            problems.append(f"{where}.workerGroupSpecs[{group['groupName']}]: no container")
        lo, hi = group.get("minReplicas", 0), group.get("maxReplicas", 2**31 - 1)
        replicas = group.get("replicas", lo)
        if not lo <= replicas <= hi:
            problems.append(f"{where}.workerGroupSpecs[{group['groupName']}]: replicas "
                            f"{replicas} outside [{lo}, {hi}]")
    return problems


def kuberay_problems(doc: dict) -> list[str]:
    name = doc["metadata"]["name"]
    problems = []
    limit = MAX_RAYJOB_NAME if doc["kind"] == "RayJob" else MAX_RAYCLUSTER_NAME
    if len(name) > limit or not DNS1035.match(name):
        problems.append(f"{doc['kind']} name {name!r} must be a DNS-1035 label of <= {limit} chars")
    spec = doc["spec"]
    if doc["kind"] == "RayCluster":
        problems += cluster_spec_problems(spec, "spec")
    else:
        has_spec, has_selector = "rayClusterSpec" in spec, bool(spec.get("clusterSelector"))
        if has_spec == has_selector:
            problems.append("RayJob needs exactly one of rayClusterSpec and clusterSelector")
        if has_spec:
            problems += cluster_spec_problems(spec["rayClusterSpec"], "spec.rayClusterSpec")
        if spec.get("shutdownAfterJobFinishes") and not has_spec:
            problems.append("shutdownAfterJobFinishes needs a rayClusterSpec")
        if "runtimeEnvYAML" in spec and not isinstance(yaml.safe_load(spec["runtimeEnvYAML"]), dict):
            problems.append("runtimeEnvYAML is not a YAML mapping")
        if spec.get("activeDeadlineSeconds", 1) <= 0:
            problems.append("activeDeadlineSeconds must be positive")
        if spec.get("backoffLimit", 0) < 0:
            problems.append("backoffLimit must be >= 0")
    return problems


# --------------------------------------------------------------------------- the manifests


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def all_docs() -> list[tuple[str, dict]]:
    return [(p.name, d) for p in sorted(K8S_DIR.glob("*.yaml")) for d in load_docs(p)]


def ray_docs() -> list[tuple[str, dict]]:
    return [(f, d) for f, d in all_docs() if d.get("kind") in CRD_FILES]


def cluster_specs(doc: dict) -> list[dict]:
    if doc["kind"] == "RayCluster":
        return [doc["spec"]]
    return [doc["spec"]["rayClusterSpec"]] if "rayClusterSpec" in doc["spec"] else []


def pod_specs(cluster_spec: dict) -> list[tuple[str, dict]]:
    pods = [("head", cluster_spec["headGroupSpec"]["template"]["spec"])]
    pods += [(g["groupName"], g["template"]["spec"]) for g in cluster_spec.get("workerGroupSpecs", [])]
    return pods


def pyproject_ray_version() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        m = re.match(r"^ray(\[[^\]]*\])?==([0-9.]+)$", dep.replace(" ", ""))
        if m:
            return m.group(2)
    raise AssertionError("pyproject.toml does not pin ray exactly")


def test_expected_manifests_exist():
    names = {p.name for p in K8S_DIR.glob("*.yaml")}
    assert {"rayjob-cpu.yaml", "raycluster-gpu.yaml", "rayjob-sweep.yaml", "secret-example.yaml"} <= names
    kinds = sorted(d["kind"] for _, d in all_docs())
    assert kinds.count("RayJob") >= 2 and "RayCluster" in kinds and "Secret" in kinds


@pytest.mark.parametrize("fname,doc", ray_docs(), ids=lambda v: v if isinstance(v, str) else v["metadata"]["name"])
def test_kuberay_manifest_matches_crd_schema(fname, doc):
    errors = schema_errors(doc)
    assert not errors, f"{fname}:\n" + "\n".join(errors)
    assert not kuberay_problems(doc), f"{fname}: {kuberay_problems(doc)}"


def test_misspelt_field_is_rejected():
    _, doc = next((f, d) for f, d in ray_docs() if d["metadata"]["name"] == "sim-run-cpu")
    bad = copy.deepcopy(doc)
    head = bad["spec"]["rayClusterSpec"]["headGroupSpec"]
    head["rayStartParam"] = head.pop("rayStartParams")
    errors = schema_errors(bad)
    assert any("rayStartParam" in e and "not allowed" in e for e in errors), errors
    # Deep inside the embedded PodSpec too (containers[].resources.limit).
    bad = copy.deepcopy(doc)
    res = bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]
    res["limit"] = res.pop("limits")
    assert any("'limit'" in e for e in schema_errors(bad))


def test_wrong_types_and_values_are_rejected():
    _, doc = next((f, d) for f, d in ray_docs() if d["metadata"]["name"] == "sim-run-cpu")
    bad = copy.deepcopy(doc)
    bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "two"  # int32 expected
    assert any("replicas" in e for e in schema_errors(bad))
    bad = copy.deepcopy(doc)
    bad["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0  # map of strings
    assert any("num-cpus" in e for e in schema_errors(bad))
    bad = copy.deepcopy(doc)
    bad["spec"]["rayClusterSpec"]["authOptions"]["mode"] = "tokens"  # enum [disabled, token]
    assert any("authOptions.mode" in e for e in schema_errors(bad))
    bad = copy.deepcopy(doc)
    bad["apiVersion"] = "ray.io/v2"
    with pytest.raises(AssertionError, match="not in CRD"):
        schema_errors(bad)
    bad = copy.deepcopy(doc)
    del bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["groupName"]  # required
    assert any("groupName" in e for e in schema_errors(bad))
    # int-or-string quantities accept both forms, and nothing else.
    ok = copy.deepcopy(doc)
    ok["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = 4
    assert schema_errors(ok) == []
    bad = copy.deepcopy(ok)
    bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = [4]
    assert schema_errors(bad)
    # KubeRay's own rules.
    bad = copy.deepcopy(doc)
    bad["spec"]["clusterSelector"] = {"ray.io/cluster": "x"}
    assert kuberay_problems(bad)
    bad = copy.deepcopy(doc)
    bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = 9
    assert kuberay_problems(bad)


def test_ray_version_and_images_match_the_project():
    ray_version = pyproject_ray_version()
    for fname, doc in ray_docs():
        for cspec in cluster_specs(doc):
            assert cspec["rayVersion"] == ray_version, fname
            # Token auth (Ray >= 2.52) on every cluster: an open dashboard runs anyone's code.
            assert cspec.get("authOptions", {}).get("mode") == "token", fname
            gpu = any("nvidia.com/gpu" in c.get("resources", {}).get("limits", {})
                      for _, pod in pod_specs(cspec) for c in pod["containers"])
            for group, pod in pod_specs(cspec):
                image = pod["containers"][0]["image"]
                assert image.rsplit(":", 1)[1].endswith("-gpu") == gpu, (fname, group, image)
                assert pod["securityContext"]["runAsNonRoot"] is True
                assert pod["securityContext"]["runAsUser"] == 1000  # the image's USER 1000:1000


def test_gpu_cluster_requests_gpus_and_runs_cupy():
    docs = {d["metadata"]["name"]: d for _, d in all_docs()}
    cluster = docs["sim-gpu"]
    assert cluster["kind"] == "RayCluster"
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in head["resources"].get("limits", {})
    workers = cluster["spec"]["workerGroupSpecs"]
    assert any(int(g["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]) >= 1
               for g in workers)
    gpu_jobs = [d for d in docs.values() if d["kind"] == "RayJob"
                and d["spec"].get("clusterSelector", {}).get("ray.io/cluster") == "sim-gpu"]
    assert gpu_jobs and all("backend=cupy" in shlex.split(j["spec"]["entrypoint"]) for j in gpu_jobs)


def _entrypoint_parts(entrypoint: str) -> tuple[list[str], list[str]]:
    argv = shlex.split(entrypoint)
    assert argv[:4] == ["python", "-m", "jobs", "run"], argv
    cut = argv.index("--")
    return argv[4:cut], argv[cut + 1:]


@pytest.mark.parametrize("fname,doc", [(f, d) for f, d in all_docs() if d["kind"] == "RayJob"],
                         ids=lambda v: v if isinstance(v, str) else v["metadata"]["name"])
def test_rayjob_entrypoint_runs_sim_and_uploads_its_run_dir(fname, doc):
    entrypoint = doc["spec"]["entrypoint"]
    # KubeRay's submitter pastes the entrypoint into a bash command line, and the Ray driver runs
    # it through a shell again: anything a shell would interpret is interpreted twice.
    assert not re.search(r"[$;&|`'\"<>\\]", entrypoint), entrypoint
    wrapper, sim = _entrypoint_parts(entrypoint)
    opts = dict(zip(wrapper[::2], wrapper[1::2]))
    assert sim[:2] == ["sim", "run"], sim
    overrides = dict(a.split("=", 1) for a in sim[2:] if "=" in a)
    key = "hydra.sweep.dir" if "-m" in sim else "hydra.run.dir"
    assert overrides[key] == opts["--run-dir"] and opts["--run-dir"].startswith("/")
    assert opts["--upload-to"].startswith("s3://")
    assert overrides["checkpoint.store"].startswith("s3://")
    for k in ("periods", "population.households", "cluster.actors"):
        assert k in overrides, (fname, k)


def test_object_store_env_comes_from_the_example_secret():
    secrets = {d["metadata"]["name"]: d for _, d in all_docs() if d["kind"] == "Secret"}
    for fname, doc in ray_docs():
        for cspec in cluster_specs(doc):
            for group, pod in pod_specs(cspec):
                env = {e["name"]: e for e in pod["containers"][0].get("env", [])}
                for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "FSSPEC_S3_ENDPOINT_URL",
                            "AWS_ENDPOINT_URL_S3"):
                    assert var in env, (fname, group, var)
                    assert "value" not in env[var], f"{fname}/{group}: {var} must come from a Secret"
                    ref = env[var]["valueFrom"]["secretKeyRef"]
                    assert ref["name"] in secrets, (fname, ref)
                    assert ref["key"] in secrets[ref["name"]]["stringData"], (fname, ref)
                # Endpoint is optional (absent for AWS S3), credentials are not.
                assert env["FSSPEC_S3_ENDPOINT_URL"]["valueFrom"]["secretKeyRef"].get("optional") is True
                assert not env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"].get("optional", False)


SECRET_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "v1"},
        "kind": {"const": "Secret"},
        "metadata": OBJECT_META_SCHEMA,
        "type": {"type": "string"},
        "immutable": {"type": "boolean"},
        "data": {"type": "object", "additionalProperties": {
            "type": "string", "pattern": r"^[A-Za-z0-9+/]*={0,2}$"}},
        "stringData": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "propertyNames": {"enum": ["apiVersion", "kind", "metadata", "type", "immutable", "data", "stringData"]},
}
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def test_secret_example_is_a_valid_opaque_secret_with_placeholders():
    docs = load_docs(K8S_DIR / "secret-example.yaml")
    assert len(docs) == 1
    secret = docs[0]
    errors = [e.message for e in jsonschema.Draft202012Validator(SECRET_SCHEMA).iter_errors(secret)]
    assert not errors, errors
    assert secret["type"] == "Opaque"
    values = {**secret.get("stringData", {}), **secret.get("data", {})}
    assert all(SECRET_KEY.match(k) for k in values)
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= values.keys()
    # No real credentials in the repository: the credential values are marked placeholders.
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "REPLACE_ME" in values[key]
    # A Secret missing its name or with a non-string value is rejected.
    bad = copy.deepcopy(secret)
    bad["stringData"]["AWS_ACCESS_KEY_ID"] = 123
    assert list(jsonschema.Draft202012Validator(SECRET_SCHEMA).iter_errors(bad))
    bad = copy.deepcopy(secret)
    del bad["metadata"]["name"]
    assert list(jsonschema.Draft202012Validator(SECRET_SCHEMA).iter_errors(bad))


# --------------------------------------------------------------------------- hardening


def _hardened_pod(where: str, pod: dict) -> None:
    assert pod.get("automountServiceAccountToken") is False, where
    sec = pod["securityContext"]
    assert sec["runAsNonRoot"] is True and sec["runAsUser"] == 1000, where
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in pod["containers"]:
        csec = container["securityContext"]
        assert csec["allowPrivilegeEscalation"] is False, where
        assert csec["readOnlyRootFilesystem"] is True, where
        assert csec["capabilities"]["drop"] == ["ALL"], where
        assert container["resources"]["limits"]["memory"], where
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]], where  # writable scratch


def test_ray_pods_are_hardened_with_a_memory_backed_object_store():
    for fname, doc in ray_docs():
        for cspec in cluster_specs(doc):
            assert cspec.get("enableInTreeAutoscaling") is False, fname
            for group in cspec.get("workerGroupSpecs", []):
                # Autoscaling off: no range that looks like one.
                assert group.get("minReplicas", group["replicas"]) == group["replicas"], fname
                assert group.get("maxReplicas", group["replicas"]) == group["replicas"], fname
            for group, pod in pod_specs(cspec):
                where = f"{fname}:{group}"
                _hardened_pod(where, pod)
                volumes = {v["name"]: v for v in pod["volumes"]}
                container = pod["containers"][0]
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                shm = volumes[mounts["/dev/shm"]]["emptyDir"]
                assert shm["medium"] == "Memory", where
                # The memory-backed shm counts against the container's memory: keep it below half.
                to_gi = lambda q: float(q.removesuffix("Gi"))  # noqa: E731
                assert 0 < to_gi(shm["sizeLimit"]) <= to_gi(container["resources"]["limits"]["memory"]) / 2
                assert "/app/outputs" in mounts, where  # `sim run`'s default output directory


def test_rayjob_submitter_pods_are_hardened():
    for fname, doc in ray_docs():
        if doc["kind"] != "RayJob" or doc["spec"].get("submissionMode") != "K8sJobMode":
            continue
        pod = doc["spec"]["submitterPodTemplate"]["spec"]
        assert pod["restartPolicy"] == "Never", fname
        _hardened_pod(f"{fname}:submitter", pod)
