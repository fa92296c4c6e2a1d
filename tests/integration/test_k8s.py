"""k8s/, the checks that need Ray's own code: the Serve adapter's token variable is the one
the manifests pass by Secret reference, and the Ray version is pinned once (pyproject.toml,
the installed Ray, rayVersion, the image tags and the Dockerfile agree). The rest of the
offline checks are in tests/unit/test_k8s.py; tests/integration/test_k8s_run.py runs
what the manifests describe on a local Ray.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.helpers.k8s_manifests import KUSTOMIZATIONS, REPO, cluster_specs, dockerfile_args, ray_containers, render


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_credentials_only_come_from_secrets_by_reference(name):
    from factory.service.app import TOKEN_ENV

    objects = render(name)
    assert not [o for o in objects if o["kind"] == "Secret"]
    secretish = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)
    for where, container in ray_containers(objects):
        for env in container.get("env", []):
            if secretish.search(env["name"]):
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], (where, env["name"])
        for source in container.get("envFrom", []):
            assert set(source) == {"secretRef"} and source["secretRef"]["optional"] is True, where
        tokens = [e for e in container.get("env", []) if e["name"] == TOKEN_ENV]
        if "ray-job-submitter" != container["name"]:  # every Ray container: Serve replicas run on the workers
            assert tokens == [
                {
                    "name": TOKEN_ENV,
                    "valueFrom": {"secretKeyRef": {"name": "factory-serve", "key": "token", "optional": True}},
                }
            ], where
    for spec in cluster_specs(objects).values():
        head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
        assert head["envFrom"] == [{"secretRef": {"name": "factory-s3", "optional": True}}]
        assert spec["authOptions"] == {"mode": "token", "secretName": "factory-ray-auth"}
    text = yaml.safe_dump_all(objects)
    assert "AWS_SECRET_ACCESS_KEY" not in text and "aws_secret_access_key" not in text.lower()


def pinned_ray() -> str:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if re.match(r"ray(\[|==)", d)]
    return re.fullmatch(r"ray(\[[a-z,]+\])?==([0-9.]+)", pin).group(2)


def test_the_ray_version_is_pinned_once_and_everything_agrees():
    import ray

    import factory

    version = pinned_ray()
    assert ray.__version__ == version
    assert dockerfile_args()["RAY_VERSION"] == version
    for name in KUSTOMIZATIONS:
        objects = render(name)
        for kind, spec in cluster_specs(objects).items():
            assert spec["rayVersion"] == version, (name, kind)
            assert "image" not in spec.get("autoscalerOptions", {})  # the autoscaler runs the head's image
        if name != "base":
            images = {c["image"] for _, c in ray_containers(objects)}
            variant = "-gpu" if name == "overlays/gpu" else ""
            assert images == {f"ghcr.io/OWNER/factory:{factory.__version__}-ray{version}{variant}"}, name
