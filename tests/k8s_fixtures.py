"""Fixtures and helpers shared by tests/unit/test_k8s.py and tests/integration/test_k8s.py."""

from __future__ import annotations

import re

import k8s_validate as kv
from k8s_manifests import (
    K8S,
)

KUSTOMIZATIONS = ("base", "overlays/cpu", "overlays/gpu")


DOCKERFILE = K8S / "image" / "Dockerfile"


RAY_KINDS = ("RayCluster", "RayJob", "RayService")


def ray_containers(objects: list[dict]):
    for obj in objects:
        if obj["kind"] in RAY_KINDS:
            for path, container in kv.containers(obj):
                yield f"{obj['kind']} {path}", container


def dockerfile_args() -> dict[str, str]:
    return dict(re.findall(r'^ARG (\w+)="?([^"\n]*)"?$', DOCKERFILE.read_text(), re.MULTILINE))
