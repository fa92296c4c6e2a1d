"""Offline validation of Kubernetes objects, as strict as an API server's field validation.

* KubeRay objects (``ray.io/v1``) against the ``openAPIV3Schema`` of the KubeRay v1.7.0
  CRDs (``../shared/kuberay-crds-v1.7.0``, or ``$FACTORY_KUBERAY_CRDS``), made strict
  the way ``kubectl apply --validate=strict`` is: an object schema that lists
  ``properties`` and has no ``x-kubernetes-preserve-unknown-fields`` rejects every
  other field (a JSON schema would accept them); ``x-kubernetes-int-or-string``,
  ``nullable``, ``int32``/``int64`` ranges and the keys of ``x-kubernetes-list-type:
  map`` lists are checked too. CEL rules (``x-kubernetes-validations``) need an API
  server: :func:`cel_guarded` lists the fields that carry them, so a test can insist
  that the manifests set none.
* Core objects (ConfigMap, ...) and every object's ``metadata``, and the pod templates
  inside the Ray objects (head and worker groups, the job submitter), against the
  strict Kubernetes schemas that the ``kubernetes-validate`` package ships (offline).

Each ``*_errors`` function returns a list of messages, ``where: what``; empty = valid.
"""

from __future__ import annotations

import copy
import functools
import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from tests.helpers import REPO

KUBERAY_VERSION = "1.7.0"
# A gzipped copy ships with the tests, so a clean clone validates offline; the shared
# folder it was taken from (``../shared``) is compared with it when present.
CRDS = Path(os.environ.get("FACTORY_KUBERAY_CRDS", REPO / "tests" / "data" / f"kuberay-crds-v{KUBERAY_VERSION}"))
SHARED_CRDS = REPO.parent / "shared" / f"kuberay-crds-v{KUBERAY_VERSION}"
CRD_FILES = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayService": "ray.io_rayservices.yaml",
}
K8S_VERSION = "1.32.0"  # the Kubernetes API the core objects are checked against
_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _where(error: jsonschema.ValidationError, prefix: str) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return f"{prefix}{'.' if prefix and path else ''}{path}: {error.message}"


# --- the validator class: draft 2020-12 plus the Kubernetes extensions that matter offline --------------------


def _list_map_keys(validator, keys, instance, schema):
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(instance, list):
        return
    seen = set()
    for item in instance:
        if not isinstance(item, dict):
            continue
        key = tuple(item.get(k) for k in keys)
        if key in seen:
            yield jsonschema.ValidationError(f"duplicate entry for key {dict(zip(keys, key))} in a map list")
        seen.add(key)


def _cel(validator, rules, instance, schema):
    # Evaluating CEL needs an API server; cel_guarded() reports where the manifests meet such rules.
    return iter(())


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"x-kubernetes-list-map-keys": _list_map_keys, "x-kubernetes-validations": _cel}
)


# --- KubeRay CRDs ---------------------------------------------------------------------------------------------


def crd_text(kind: str, folder: Path | None = None) -> str:
    """The CRD YAML of ``kind`` from ``folder`` (default :data:`CRDS`), gzipped or not."""
    folder = folder or CRDS
    path = folder / CRD_FILES[kind]
    if path.is_file():
        return path.read_text()
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes()).decode()


def crds_available() -> bool:
    return all((CRDS / f).is_file() or (CRDS / f"{f}.gz").is_file() for f in CRD_FILES.values())


def strict(schema: Any) -> Any:
    """A CRD's structural schema as a JSON schema that rejects what an API server with
    strict field validation rejects (see the module docstring)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: strict(v) if k in ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not") else v
        for k, v in schema.items()
        if k != "properties"
    }
    if "properties" in schema:
        out["properties"] = {name: strict(s) for name, s in schema["properties"].items()}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if schema.get("type") == "integer" and schema.get("format") in _INT_RANGE:
        low, high = _INT_RANGE[schema["format"]]
        out.setdefault("minimum", low)
        out.setdefault("maximum", high)
    if schema.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if (
        schema.get("type") == "object"
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in schema
    ):
        out["additionalProperties"] = False  # no properties at all: nothing may be set (fields would be pruned)
    return out


@functools.cache
def crd_schema(kind: str) -> dict:
    """``spec.versions[name=v1].schema.openAPIV3Schema`` of the KubeRay CRD for ``kind``."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 4x faster on these 1-MB files
    crd = yaml.load(crd_text(kind), Loader=loader)  # noqa: S506 (a safe loader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


@functools.cache
def _crd_validator(kind: str) -> Any:
    schema = strict(crd_schema(kind))
    schema["properties"]["metadata"] = {"type": "object"}  # checked against the core ObjectMeta instead
    return Validator(schema)


def cel_guarded(obj: dict) -> list[str]:
    """The fields ``obj`` sets whose CRD schema carries CEL rules (not checked offline)."""
    found = []

    def walk(schema: dict, value: Any, path: str) -> None:
        if schema.get("x-kubernetes-validations"):
            found.append(path)
        if isinstance(value, dict):
            other = schema.get("additionalProperties")
            for key, item in value.items():
                sub = (schema.get("properties") or {}).get(key) or (other if isinstance(other, dict) else None)
                if sub:
                    walk(sub, item, f"{path}.{key}" if path else key)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                walk(schema["items"], item, f"{path}[{i}]")

    walk(crd_schema(obj["kind"]), obj, "")
    return found


# --- core Kubernetes schemas (kubernetes-validate) ------------------------------------------------------------


def _schema_file(name: str) -> dict:
    from kubernetes_validate.utils import schema_contents

    return schema_contents(f"kubernetes-json-schema/v{K8S_VERSION}-local-strict/{name}", K8S_VERSION)


@functools.cache
def _registry() -> Registry:
    return Resource.from_contents(_schema_file("_definitions.json")) @ Registry()


@functools.cache
def _core_validator(name: str) -> Any:
    """Validator for a core schema: a file (``configmap-v1.json``) or a definition
    (``io.k8s.api.core.v1.PodTemplateSpec``)."""
    if name.endswith(".json"):
        schema = _schema_file(name)
    else:
        schema = {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{name}"}
    return Validator(schema, registry=_registry())


def _core_errors(instance: Any, schema: str, where: str) -> list[str]:
    return [_where(e, where) for e in _core_validator(schema).iter_errors(instance)]


def pod_template_errors(template: dict, where: str = "template") -> list[str]:
    """What is wrong with a pod template, by the core PodTemplateSpec schema."""
    return _core_errors(template, "io.k8s.api.core.v1.PodTemplateSpec", where)


def pod_templates(obj: dict) -> Iterator[tuple[str, dict]]:
    """``(path, template)`` of every pod template inside a KubeRay object."""
    spec = obj.get("spec") or {}
    clusters = {
        "RayCluster": ("spec", spec),
        "RayJob": ("spec.rayClusterSpec", spec.get("rayClusterSpec")),
        "RayService": ("spec.rayClusterConfig", spec.get("rayClusterConfig")),
    }
    prefix, cluster = clusters.get(obj.get("kind"), ("", None))
    if isinstance(cluster, dict):
        head = cluster.get("headGroupSpec") or {}
        if "template" in head:
            yield f"{prefix}.headGroupSpec.template", head["template"]
        for i, group in enumerate(cluster.get("workerGroupSpecs") or []):
            if isinstance(group, dict) and "template" in group:
                yield f"{prefix}.workerGroupSpecs[{i}].template", group["template"]
    if obj.get("kind") == "RayJob" and isinstance(spec.get("submitterPodTemplate"), dict):
        yield "spec.submitterPodTemplate", spec["submitterPodTemplate"]


def containers(obj: dict) -> Iterator[tuple[str, dict]]:
    """``(path, container)`` of every container in the pod templates of a KubeRay object."""
    for path, template in pod_templates(obj):
        spec = template.get("spec") or {}
        for field in ("initContainers", "containers"):
            for i, container in enumerate(spec.get(field) or []):
                yield f"{path}.spec.{field}[{i}]", container


def errors(obj: dict) -> list[str]:
    """Everything wrong with ``obj``, as a strict API server (and KubeRay's CRDs) would see it."""
    where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    if obj.get("apiVersion") == "ray.io/v1":
        if obj.get("kind") not in CRD_FILES:
            return [f"{where}: no KubeRay CRD for kind {obj.get('kind')!r}"]
        out = [_where(e, where) for e in _crd_validator(obj["kind"]).iter_errors(obj)]
        out += _core_errors(obj.get("metadata"), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", f"{where} metadata")
        for path, template in pod_templates(obj):
            out += pod_template_errors(template, f"{where} {path}")
        return out
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    name = f"{obj.get('kind', '').lower()}-{group.split('.')[0] + '-' if group else ''}{version}.json"
    try:
        validator = _core_validator(name)
    except FileNotFoundError:
        return [f"{where}: no Kubernetes {K8S_VERSION} schema for {obj.get('apiVersion')} {obj.get('kind')}"]
    return [_where(e, where) for e in validator.iter_errors(obj)]


def planted(obj: dict, path: str | tuple, value: Any = None, delete: bool = False) -> dict:
    """A deep copy of ``obj`` with ``path`` (dotted, list indices as numbers, or a tuple
    of keys for keys with dots) set to ``value``, or deleted: to plant a mistake."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(".") if isinstance(path, str) else path
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return out
