"""k8s/: what an operator applies, checked without a cluster.

* Every kustomization renders, with ``kubectl kustomize`` where kubectl is installed and
  with tests/helpers/kustomize_lite.py otherwise; where both exist they must agree.
* Every rendered object validates against the KubeRay v1.7.0 CRDs and the Kubernetes
  schemas, made strict (tests/helpers/k8s_validate.py), and each kind of check is shown to catch
  a mistake planted in a rendered object.
* The rendered objects have the properties the design asks for (head does no work, GPU
  group from zero, autoscaler, job clean-up, the one Serve config, Secrets only by
  reference, requests and limits everywhere) and pass KubeRay's own spec checks.
* The Dockerfile builds from the pinned Ray image and copies what exists.

The checks that need Ray's own code (the Serve adapter's token variable, the installed
Ray's version against the pins): tests/integration/test_k8s.py.
tests/integration/test_k8s_run.py runs what the manifests describe on a local Ray.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from argparse import ArgumentParser

import pytest
import yaml

from tests.helpers import k8s_validate as kv
from tests.helpers import kustomize_lite
from tests.helpers.k8s_manifests import (
    DOCKERFILE,
    K8S,
    KUBECTL,
    KUSTOMIZATIONS,
    RAY_KINDS,
    REPO,
    cluster_specs,
    cpu_groups,
    dockerfile_args,
    gpu_groups,
    kubectl_kustomize,
    limits,
    one,
    quantity,
    ray_containers,
    render,
)

OVERLAYS = ("overlays/cpu", "overlays/gpu")


SERVE_YAML = K8S / "base" / "serve.yaml"


needs_crds = pytest.mark.skipif(
    not kv.crds_available(), reason=f"KubeRay CRDs not found at {kv.CRDS} (set FACTORY_KUBERAY_CRDS)"
)


def job_arguments(entrypoint: str):
    """The RayJob entrypoint parsed by jobs.generate's own argument parser."""
    from factory.commands.generate import add_arguments

    words = shlex.split(entrypoint)
    assert words[:3] == ["python", "-m", "jobs.generate"], entrypoint
    return add_arguments(ArgumentParser()).parse_args(words[3:])


def test_the_kustomizations_are_the_base_and_two_overlays():
    found = set()
    for path in K8S.rglob("kustomization.yaml"):
        if (yaml.safe_load(path.read_text()) or {}).get("kind", "Kustomization") == "Kustomization":
            found.add(path.parent.relative_to(K8S).as_posix())
    assert found == set(KUSTOMIZATIONS)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_each_kustomization_renders_the_three_ray_objects_and_the_serve_config(name):
    objects = render(name)
    assert sorted(o["kind"] for o in objects) == ["ConfigMap", "RayCluster", "RayJob", "RayService"]
    assert {o["metadata"]["namespace"] for o in objects} == {"factory"}


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: nothing to compare the renderer with")
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_python_renderer_gives_what_kubectl_kustomize_gives(name):
    def by_id(objects):
        return {kustomize_lite.object_id(o): o for o in objects}

    ours = kustomize_lite.build(K8S / name)
    assert len(ours) == len(kubectl_kustomize(name))
    assert by_id(ours) == by_id(kubectl_kustomize(name))


def test_the_python_renderer_refuses_what_it_does_not_emulate(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamePrefix: x-\n")
    with pytest.raises(kustomize_lite.Unsupported, match="namePrefix"):
        kustomize_lite.build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\nconfigMapGenerator: [{name: b, literals: [a=1]}]\n"
    )
    with pytest.raises(kustomize_lite.Unsupported, match="disableNameSuffixHash"):
        kustomize_lite.build(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("resources: [../cm.yaml]\n")
    with pytest.raises(kustomize_lite.KustomizeError, match="not in or below"):
        kustomize_lite.build(tmp_path)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_rendered_object_validates_strictly(name):
    import kubernetes_validate

    for obj in render(name):
        if obj["kind"] not in RAY_KINDS:  # the package's own entry point agrees (offline, bundled schemas)
            kubernetes_validate.validate(obj, kv.K8S_VERSION, strict=True)
        if obj["kind"] not in RAY_KINDS or kv.crds_available():
            assert kv.errors(obj) == [], obj["kind"]
    if not kv.crds_available():
        pytest.skip(f"the core objects validate; the KubeRay ones were not checked: no CRDs at {kv.CRDS}")


@needs_crds
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_no_field_relies_on_cel_rules_that_only_an_api_server_checks(name):
    for obj in render(name):
        if obj["kind"] in RAY_KINDS:
            assert kv.cel_guarded(obj) == [], obj["kind"]


GPU_WORKERS = "spec.workerGroupSpecs.1"


PLANTED = [  # (kind, dotted path in the rendered gpu overlay, value or DELETE, words the error must carry)
    ("RayCluster", "spec.enableInTreeAutoscalng", True, "'enableInTreeAutoscalng' was unexpected"),
    ("RayCluster", f"{GPU_WORKERS}.replicas", "two", "'two' is not of type 'integer'"),
    ("RayCluster", f"{GPU_WORKERS}.maxReplicas", 2**31, "greater than the maximum of 2147483647"),
    (
        "RayCluster",
        f"{GPU_WORKERS}.template.spec.containers.0.imagePullPolize",
        "Always",
        "'imagePullPolize' was unexpected",
    ),
    ("RayCluster", f"{GPU_WORKERS}.template.spec.containers.0.resources.limits.cpu", "four", "does not match"),
    (
        "RayCluster",
        f"{GPU_WORKERS}.template.spec.containers.0.resources.limits.memory",
        True,  # int-or-string
        "is not valid under any of the given schemas",
    ),
    ("RayCluster", f"{GPU_WORKERS}.groupName", "DELETE", "'groupName' is a required property"),
    ("RayCluster", "spec.headGroupSpec.template.spec.containers.0.name", "DELETE", "'name' is a required property"),
    ("RayCluster", "spec.autoscalerOptions.upscalingMode", "Fast", "is not one of"),
    ("RayCluster", "metadata.labelz", {"a": "b"}, "'labelz' was unexpected"),
    ("RayJob", "spec.shutdownAfterJobFinishes", "yes", "'yes' is not of type 'boolean'"),
    ("RayJob", "spec.submitterPodTemplate.spec.restartPolicy", None, "None is not"),
    ("RayJob", "spec.rayClusterSpec.headGroupSpec.rayStartParams.num-cpus", 0, "0 is not of type 'string'"),
    ("RayService", "spec.rayClusterConfig", "DELETE", "'rayClusterConfig' is a required property"),
    ("RayService", "spec.serveConfigV2", {"applications": []}, "is not of type 'string'"),
    ("ConfigMap", "datta", {"serve.yaml": "x"}, "'datta' was unexpected"),
    ("ConfigMap", ("data", "serve.yaml"), 1, "is not of type"),
]


@pytest.mark.parametrize("kind, path, value, words", PLANTED, ids=[f"{k}:{p}" for k, p, *_ in PLANTED])
def test_validation_catches_a_planted_mistake(kind, path, value, words):
    if kind in RAY_KINDS and not kv.crds_available():
        pytest.skip(f"no KubeRay CRDs at {kv.CRDS} (set FACTORY_KUBERAY_CRDS)")
    obj = one(render("overlays/gpu"), kind)
    assert kv.errors(obj) == []
    found = kv.errors(kv.planted(obj, path, None if value == "DELETE" else value, delete=value == "DELETE"))
    assert any(words in e for e in found), found


def test_the_core_pod_schema_checks_the_pod_templates_inside_the_ray_objects():
    cluster = one(render("overlays/gpu"), "RayCluster")
    template = cluster["spec"]["workerGroupSpecs"][1]["template"]
    assert kv.pod_template_errors(template) == []
    template["spec"]["containers"][0]["resourcez"] = {}
    template["spec"]["tolerations"][0]["efect"] = "NoSchedule"
    found = kv.pod_template_errors(template)
    assert any("'resourcez' was unexpected" in e for e in found), found
    assert any("'efect' was unexpected" in e for e in found), found
    # and a duplicate container name, which the list-map keys forbid
    template = cluster["spec"]["workerGroupSpecs"][1]["template"]
    template["spec"]["containers"] = template["spec"]["containers"] * 2
    assert any("duplicate entry for key {'name': 'ray-worker'}" in e for e in kv.pod_template_errors(template))
    # the same templates are found inside the RayJob (and its submitter) and the RayService
    job = one(render("overlays/gpu"), "RayJob")
    assert [p for p, _ in kv.pod_templates(job)] == [
        "spec.rayClusterSpec.headGroupSpec.template",
        "spec.rayClusterSpec.workerGroupSpecs[0].template",
        "spec.rayClusterSpec.workerGroupSpecs[1].template",
        "spec.submitterPodTemplate",
    ]
    job["spec"]["submitterPodTemplate"]["spec"]["containers"][0]["imagee"] = "x"
    assert any("'imagee' was unexpected" in e for e in kv.pod_template_errors(job["spec"]["submitterPodTemplate"]))
    if kv.crds_available():
        assert any("submitterPodTemplate" in e and "'imagee' was unexpected" in e for e in kv.errors(job))


@needs_crds
def test_the_crd_schemas_alone_would_let_a_misspelled_field_through():
    """Why k8s_validate.strict exists: a plain JSON-schema check of the CRD accepts
    unknown fields, which a strict API server rejects."""
    import jsonschema

    cluster = kv.planted(one(render("overlays/gpu"), "RayCluster"), "spec.enableInTreeAutoscalng", True)
    jsonschema.Draft202012Validator(kv.crd_schema("RayCluster")).validate(cluster)  # passes
    assert kv.errors(cluster)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_ray_cluster_is_written_once_and_copied_after_the_overlays_changes(name):
    specs = cluster_specs(render(name))
    assert specs["RayJob"] == specs["RayCluster"] == specs["RayService"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_head_does_no_work_and_the_autoscaler_is_on(name):
    spec = cluster_specs(render(name))["RayCluster"]
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert spec["enableInTreeAutoscaling"] is True
    resources = spec["autoscalerOptions"]["resources"]
    assert resources["requests"] and resources["limits"]
    (cpu,) = cpu_groups(spec)
    assert cpu["groupName"] == "cpu" and 0 <= cpu["minReplicas"] <= cpu["maxReplicas"]
    assert "replicas" not in cpu  # the autoscaler's: a re-apply must not reset it


def test_the_gpu_overlay_adds_a_gpu_group_scaled_from_zero():
    spec = cluster_specs(render("overlays/gpu"))["RayCluster"]
    (gpu,) = gpu_groups(spec)
    assert gpu["minReplicas"] == 0 and gpu["maxReplicas"] >= 1 and "replicas" not in gpu
    pod = gpu["template"]["spec"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert int(limits(pod["containers"][0], "nvidia.com/gpu")) >= 1


def test_the_cpu_overlay_has_no_gpus_anywhere():
    text = yaml.safe_dump_all(render("overlays/cpu"))
    assert "nvidia.com/gpu" not in text and "tolerations" not in text
    assert gpu_groups(cluster_specs(render("overlays/cpu"))["RayCluster"]) == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_rayjob_cleans_up_retries_and_runs_a_valid_generate_command(name):
    objects = render(name)
    job = one(objects, "RayJob")["spec"]
    assert job["shutdownAfterJobFinishes"] is True and job["ttlSecondsAfterFinished"] > 0
    assert job["backoffLimit"] >= 1
    assert "clusterSelector" not in job  # its own cluster: the only kind KubeRay deletes with the job
    args = job_arguments(job["entrypoint"])
    assert (REPO / args.config).is_file()  # relative to the image's working directory, a copy of the repository
    assert args.out.startswith("s3://") and not args.resume and not args.overwrite  # rerun = resume
    assert args.no_progress  # no progress bars in pod logs
    spec = cluster_specs(objects)["RayJob"]
    if args.gpus_per_worker:  # one render actor per GPU: as many as the GPU group can hold
        gpus = sum(
            g["maxReplicas"] * int(limits(g["template"]["spec"]["containers"][0], "nvidia.com/gpu"))
            for g in gpu_groups(spec)
        )
        assert args.max_workers == gpus / args.gpus_per_worker
    else:  # render actors hold 0.95 CPU (factory.onray.pipeline.resources): they must fit in the CPU group at its largest
        cpus = sum(
            g["maxReplicas"] * quantity(limits(g["template"]["spec"]["containers"][0], "cpu")) for g in cpu_groups(spec)
        )
        assert args.max_workers * 0.95 <= cpus
    assert bool(args.gpus_per_worker) == (name == "overlays/gpu")


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_rayservice_serves_exactly_the_repositorys_serve_config(name):
    objects = render(name)
    text = SERVE_YAML.read_text()
    served = one(objects, "RayService")["spec"]["serveConfigV2"]
    assert served == text  # byte for byte, comments included
    assert yaml.safe_load(served) == yaml.safe_load(text)
    assert one(objects, "ConfigMap")["data"] == {"serve.yaml": text}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_container_has_requests_and_limits_and_requests_fit_the_limits(name):
    objects = render(name)
    found = list(ray_containers(objects))
    # 3 clusters x (head + worker groups: cpu, and gpu in the gpu overlay) + the job submitter
    assert len(found) == {"base": 7, "overlays/cpu": 7, "overlays/gpu": 10}[name]
    autoscalers = [
        (f"{kind} autoscaler", {"resources": spec["autoscalerOptions"]["resources"]})
        for kind, spec in cluster_specs(objects).items()
    ]
    for where, container in found + autoscalers:
        resources = container.get("resources") or {}
        assert {"cpu", "memory"} <= set(resources.get("requests", {})) and {"cpu", "memory"} <= set(
            resources.get("limits", {})
        ), where
        for resource, request in resources["requests"].items():
            assert quantity(request) <= quantity(resources["limits"][resource]), (where, resource)


def test_the_example_secrets_are_placeholders_that_no_kustomization_includes():
    example = K8S / "secrets.example.yaml"
    secrets = list(yaml.safe_load_all(example.read_text()))
    assert {s["metadata"]["name"] for s in secrets} == {"factory-s3", "factory-serve", "factory-ray-auth"}
    for secret in secrets:
        assert secret["kind"] == "Secret" and all(
            "REPLACE" in v or v.startswith("http") for v in secret["stringData"].values()
        )
    for path in K8S.rglob("kustomization.yaml"):
        assert "secrets.example" not in path.read_text(), path


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kuberays_own_spec_checks_pass(name):
    """What KubeRay v1.7's operator checks before it acts (ray-operator/controllers/ray/
    utils/validation.go), beyond the CRD schema."""
    objects = render(name)
    limits_by_kind = {"RayCluster": 53, "RayJob": 47, "RayService": 47}  # cluster names get 6 characters more
    for obj in objects:
        if obj["kind"] in limits_by_kind:
            name_ = obj["metadata"]["name"]
            assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name_) and len(name_) <= limits_by_kind[obj["kind"]]
    for spec in cluster_specs(objects).values():
        groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
        for group in groups:
            assert group["template"]["spec"]["containers"], "a group without containers"
            assert "labels" not in group["rayStartParams"]
            assert not (
                group.get("resources")
                and {"num-cpus", "num-gpus", "memory", "resources"} & set(group["rayStartParams"])
            ), "resources in both rayStartParams and resources"
            assert group["template"]["spec"].get("restartPolicy", "Never") == "Never"  # autoscaler v2
        assert len({g["groupName"] for g in spec["workerGroupSpecs"]}) == len(spec["workerGroupSpecs"])
        assert tuple(map(int, spec["rayVersion"].split("."))) >= (2, 52)  # token authentication
        for group in spec["workerGroupSpecs"]:
            assert 0 <= group["minReplicas"] <= group["maxReplicas"]
    job = one(objects, "RayJob")["spec"]
    assert job["backoffLimit"] >= 0 and (job["shutdownAfterJobFinishes"] or not job.get("ttlSecondsAfterFinished"))
    assert isinstance(yaml.safe_load(job.get("runtimeEnvYAML") or "{}"), dict)
    assert "headService" not in one(objects, "RayService")["spec"]["rayClusterConfig"]["headGroupSpec"]


def test_the_dockerfile_builds_from_the_pinned_ray_image_and_copies_what_exists():
    text = DOCKERFILE.read_text()
    args = dockerfile_args()
    (base,) = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert base == "rayproject/ray:${RAY_VERSION}-py311${RAY_VARIANT}" and args["RAY_VARIANT"] == ""
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"  # the image's Python (py311) satisfies it
    assert "--constraint" in text and "ray==${RAY_VERSION}" in text  # pip may not replace the image's Ray
    sources = [s for line in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.MULTILINE) for s in line.split()]
    assert sources and all((REPO / s).exists() for s in sources), sources
    ignore = [
        line
        for line in (K8S / "image" / "Dockerfile.dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ignore[0] == "*" and {f"!{s}" for s in sources} <= set(ignore)
    (workdir,) = re.findall(r"^WORKDIR (\S+)", text, re.MULTILINE)
    assert "-e ." in text  # installed in place: configs/ and k8s/base/serve.yaml are found next to the package
    for name in OVERLAYS:  # the pods run where the image put the repository
        dirs = {c.get("workingDir") for _, c in ray_containers(render(name)) if c["name"] != "ray-job-submitter"}
        assert dirs == {workdir}


def test_the_docs_create_the_secrets_the_manifests_reference():
    section = (REPO / "docs" / "kubernetes.md").read_text()
    created = dict(re.findall(r"kubectl create secret generic (\S+) .*?--from-literal=(\w+)=", section, re.DOTALL))
    assert created.get("factory-serve") == "token" and created.get("factory-ray-auth") == "auth_token"
    assert "factory-s3" in created and "AWS_SECRET_ACCESS_KEY" in section
    assert "kubectl apply -k k8s/overlays/gpu" in section and "helm install kuberay-operator" in section
    assert f"--version {kv.KUBERAY_VERSION}" in section  # the operator whose CRDs the manifests are checked with
    assert "docker build -f k8s/image/Dockerfile" in section and "factory-serve-serve-svc" in section


@pytest.mark.skipif(not kv.SHARED_CRDS.is_dir(), reason="no shared KubeRay CRDs next to this checkout")
def test_the_crds_in_the_repository_are_the_shared_ones():
    for kind in kv.CRD_FILES:
        assert kv.crd_text(kind) == kv.crd_text(kind, kv.SHARED_CRDS)
