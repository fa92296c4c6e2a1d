"""The rendered ``k8s/`` manifests, and small readers of them, for tests/*/test_k8s*.py.

:func:`render` prints a kustomization with ``kubectl kustomize`` where kubectl is
installed and with tests/helpers/kustomize_lite.py otherwise (tests/unit/test_k8s.py
proves the two equal wherever both exist).
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess

import yaml

from tests.helpers import REPO, kustomize_lite
from tests.helpers import k8s_validate as kv

K8S = REPO / "k8s"
KUBECTL = shutil.which("kubectl")
KUSTOMIZATIONS = ("base", "overlays/cpu", "overlays/gpu")
DOCKERFILE = K8S / "image" / "Dockerfile"
RAY_KINDS = ("RayCluster", "RayJob", "RayService")


@functools.cache
def kubectl_kustomize(name: str) -> tuple[dict, ...]:
    """``kubectl kustomize k8s/NAME``, parsed (kubectl must be installed)."""
    out = subprocess.run([KUBECTL, "kustomize", str(K8S / name)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize k8s/{name} failed:\n{out.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


@functools.cache
def _rendered(name: str) -> tuple[dict, ...]:
    return kubectl_kustomize(name) if KUBECTL else tuple(kustomize_lite.build(K8S / name))


def render(name: str) -> list[dict]:
    """The objects of the kustomization ``k8s/NAME`` (a fresh copy: callers may change it)."""
    return copy.deepcopy(list(_rendered(name)))


def one(objects: list[dict], kind: str) -> dict:
    """The one object of ``kind``."""
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


def cluster_specs(objects: list[dict]) -> dict[str, dict]:
    """The Ray cluster spec inside each KubeRay object, by kind."""
    return {
        "RayCluster": one(objects, "RayCluster")["spec"],
        "RayJob": one(objects, "RayJob")["spec"]["rayClusterSpec"],
        "RayService": one(objects, "RayService")["spec"]["rayClusterConfig"],
    }


def limits(container: dict, resource: str) -> str | int | None:
    return (container.get("resources") or {}).get("limits", {}).get(resource)


def gpu_groups(spec: dict) -> list[dict]:
    """The worker groups of a Ray cluster spec whose Ray container has a GPU limit."""
    return [
        g
        for g in spec.get("workerGroupSpecs", [])
        if limits(g["template"]["spec"]["containers"][0], "nvidia.com/gpu") is not None
    ]


def cpu_groups(spec: dict) -> list[dict]:
    """The other worker groups."""
    return [g for g in spec.get("workerGroupSpecs", []) if g not in gpu_groups(spec)]


_UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: str | int) -> float:
    """A Kubernetes quantity ("500m", "2Gi", 4) as a number."""
    number, unit = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value)).groups()
    return float(number) * _UNITS[unit]


def ray_containers(objects: list[dict]):
    """``(where, container)`` of every container in the KubeRay objects."""
    for obj in objects:
        if obj["kind"] in RAY_KINDS:
            for path, container in kv.containers(obj):
                yield f"{obj['kind']} {path}", container


def dockerfile_args() -> dict[str, str]:
    """The image Dockerfile's ``ARG`` defaults, by name."""
    return dict(re.findall(r'^ARG (\w+)="?([^"\n]*)"?$', DOCKERFILE.read_text(), re.MULTILINE))
