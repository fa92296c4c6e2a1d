"""A small pure-Python ``kustomize build`` for exactly the features ``k8s/`` uses.

When ``kubectl`` is installed, the tests render with ``kubectl kustomize`` and also
check that this renderer gives the same objects for every kustomization under ``k8s/``
(tests/unit/test_k8s.py), so on a machine without kubectl the same tests run on an output
proven equal. A feature outside the list below raises :class:`Unsupported` rather than
being ignored, so a new feature in ``k8s/`` cannot pass here unrendered.

Supported, in kustomize's order within one kustomization:

1. ``resources``: YAML files (several documents each) and directories (built on their own);
2. ``components`` (``kind: Component``), applied in order to everything accumulated so far;
3. ``configMapGenerator`` with ``files`` (``path`` or ``key=path``) and ``literals``,
   only with ``disableNameSuffixHash: true`` (no name hashes);
4. transformers: ``patches`` (JSON 6902 operation lists, from ``path`` or inline
   ``patch``, with a ``target``), ``namespace``, ``labels`` (object metadata only),
   ``images`` (every ``containers`` / ``initContainers`` list anywhere, as kustomize's
   image transformer does) and ``replacements`` (whole values; field paths with
   ``[key.with.dots]``, ``[name=value]`` list selectors and list indices).

Files a kustomization reads must lie in or below its folder, as kustomize's default
load restrictor demands; resource folders may lie anywhere.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "RuntimeClass",
}
_KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "namespace",
    "labels",
    "configMapGenerator",
    "generatorOptions",
    "patches",
    "images",
    "replacements",
}


class Unsupported(NotImplementedError):
    """The kustomization uses a kustomize feature this renderer does not emulate."""


class KustomizeError(ValueError):
    """The kustomization is wrong (a missing file, a target that matches nothing, ...)."""


def build(path: str | Path) -> list[dict]:
    """The objects ``kubectl kustomize PATH`` prints, as parsed YAML, in build order."""
    objects = _build(Path(path).resolve(), [], component=False)
    seen = set()
    for obj in objects:
        key = object_id(obj)
        if key in seen:
            raise KustomizeError(f"{path}: two objects with the id {key}")
        seen.add(key)
    return objects


def object_id(obj: dict) -> tuple[str, str, str, str]:
    """``(apiVersion, kind, namespace, name)``: what tells two objects apart."""
    meta = obj.get("metadata") or {}
    return obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def _kustomization(folder: Path) -> dict:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            data = yaml.safe_load((folder / name).read_text()) or {}
            unknown = set(data) - _KNOWN_FIELDS
            if unknown:
                raise Unsupported(f"{folder / name}: kustomize fields {sorted(unknown)} are not emulated")
            return data
    raise KustomizeError(f"{folder}: no kustomization file ({', '.join(KUSTOMIZATION_FILES)})")


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if root != path and root not in path.parents:
        raise KustomizeError(f"security; file '{path}' is not in or below '{root}'")
    if not path.is_file():
        raise KustomizeError(f"{root}: no file {relative!r}")
    return path


def _build(folder: Path, objects: list[dict], component: bool) -> list[dict]:
    k = _kustomization(folder)
    kind = k.get("kind", "Kustomization")
    if kind != ("Component" if component else "Kustomization"):
        raise KustomizeError(f"{folder}: a {kind} where a {'Component' if component else 'Kustomization'} belongs")
    for entry in k.get("resources") or []:
        if "://" in entry or entry.startswith("github.com/"):
            raise Unsupported(f"{folder}: remote resource {entry!r}")
        target = (folder / entry).resolve()
        if target.is_dir():
            objects.extend(_build(target, [], component=False))
        else:
            text = _inside(folder, entry).read_text()
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    for entry in k.get("components") or []:
        objects = _build((folder / entry).resolve(), objects, component=True)
    objects.extend(_config_maps(folder, k))
    for patch in k.get("patches") or []:
        _patch(folder, objects, patch)
    if k.get("namespace"):
        for obj in objects:
            if obj.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
                raise Unsupported(f"{folder}: namespace on a {obj['kind']} (kustomize also rewrites references)")
            if obj.get("kind") not in _CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = k["namespace"]
    for entry in k.get("labels") or []:
        if (
            entry.get("includeSelectors")
            or entry.get("includeTemplates")
            or set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
        ):
            raise Unsupported(f"{folder}: labels other than on object metadata: {entry}")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])
    for image in k.get("images") or []:
        for obj in objects:
            _set_images(obj, image)
    for entry in k.get("replacements") or []:
        if "path" in entry:
            loaded = yaml.safe_load(_inside(folder, entry["path"]).read_text())
            for replacement in loaded if isinstance(loaded, list) else [loaded]:
                _replace(objects, replacement)
        else:
            _replace(objects, entry)
    return objects


def _config_maps(folder: Path, k: dict) -> list[dict]:
    out = []
    defaults = k.get("generatorOptions") or {}
    for gen in k.get("configMapGenerator") or []:
        options = {**defaults, **(gen.get("options") or {})}
        extra = set(gen) - {"name", "namespace", "files", "literals", "options"}
        if extra or set(options) - {"disableNameSuffixHash"} or not options.get("disableNameSuffixHash"):
            raise Unsupported(
                f"{folder}: configMapGenerator {gen.get('name')!r}: only files and literals with "
                "disableNameSuffixHash: true are emulated"
            )
        data = {}
        for entry in gen.get("files") or []:
            key, _, rel = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)
            data[key] = _inside(folder, rel).read_text()
        for entry in gen.get("literals") or []:
            key, _, value = entry.partition("=")
            data[key] = value
        meta = {"name": gen["name"]}
        if gen.get("namespace"):
            meta["namespace"] = gen["namespace"]
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    return out


def _selected(obj: dict, select: dict, where: str) -> bool:
    unknown = set(select) - {"group", "version", "kind", "name", "namespace"}
    if unknown:
        raise Unsupported(f"{where}: selectors {sorted(unknown)}")
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    have = {
        "group": group,
        "version": version,
        "kind": obj.get("kind", ""),
        "name": obj.get("metadata", {}).get("name", ""),
        "namespace": obj.get("metadata", {}).get("namespace", ""),
    }
    return all(re.fullmatch(str(pattern), have[field]) for field, pattern in select.items())


def _patch(folder: Path, objects: list[dict], patch: dict) -> None:
    if set(patch) - {"path", "patch", "target"}:
        raise Unsupported(f"{folder}: patch fields {sorted(patch)}")
    text = _inside(folder, patch["path"]).read_text() if "path" in patch else patch["patch"]
    ops = yaml.safe_load(text)
    if not isinstance(ops, list) or "target" not in patch:
        raise Unsupported(f"{folder}: only JSON 6902 patches with a target are emulated (not strategic merge)")
    targets = [obj for obj in objects if _selected(obj, patch["target"], str(folder))]
    if not targets:
        raise KustomizeError(f"{folder}: patch target {patch['target']} matches no object")
    for obj in targets:
        for op in ops:
            _json6902(obj, op, folder)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer {path!r} does not start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json6902(obj: dict, op: dict, where: Path) -> None:
    kind = op.get("op")
    if kind not in ("add", "replace", "remove", "test"):
        raise Unsupported(f"{where}: JSON patch op {kind!r}")
    *parents, last = _pointer(op["path"])
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[index] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del node[index]
        elif node[index] != op["value"]:
            raise KustomizeError(f"{where}: JSON patch test failed at {op['path']}")
        return
    if kind in ("replace", "remove", "test") and last not in node:
        raise KustomizeError(f"{where}: JSON patch {kind} of a missing field {op['path']}")
    if kind in ("add", "replace"):
        node[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        del node[last]
    elif node[last] != op["value"]:
        raise KustomizeError(f"{where}: JSON patch test failed at {op['path']}")


def _set_images(node: Any, image: dict) -> None:
    if set(image) - {"name", "newName", "newTag", "digest"}:
        raise Unsupported(f"images entry {image}")
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    if isinstance(container, dict) and isinstance(container.get("image"), str):
                        container["image"] = _new_image(container["image"], image)
            _set_images(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, image)


def _new_image(current: str, image: dict) -> str:
    name = image["name"]
    if current != name and not current.startswith((name + ":", name + "@")):
        return current
    rest = current[len(name) :]
    new = image.get("newName", name)
    if image.get("digest"):
        return f"{new}@{image['digest']}"
    if image.get("newTag"):
        return f"{new}:{image['newTag']}"
    return new + rest


def _field_path(path: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _step(node: Any, part: str, create: bool, where: str) -> Any:
    selector = re.fullmatch(r"\[([^=\]]+)=([^\]]*)\]", part)
    if selector:
        key, value = selector.groups()
        matches = (
            [item for item in node if isinstance(item, dict) and str(item.get(key)) == value]
            if isinstance(node, list)
            else []
        )
        if len(matches) != 1:
            raise KustomizeError(f"{where}: {part} selects {len(matches)} list items")
        return matches[0]
    key = part[1:-1] if part.startswith("[") and part.endswith("]") else part
    if isinstance(node, list):
        return node[int(key)]
    if key not in node:
        if not create:
            raise KustomizeError(f"{where}: no field {key!r}")
        node[key] = {}
    return node[key]


def _replace(objects: list[dict], replacement: dict) -> None:
    source = replacement["source"]
    if set(source) - {"group", "version", "kind", "name", "namespace", "fieldPath"} or set(replacement) - {
        "source",
        "targets",
    }:
        raise Unsupported(f"replacement {replacement}")
    select = {k: v for k, v in source.items() if k != "fieldPath"}
    found = [obj for obj in objects if _selected(obj, select, "replacement source")]
    if len(found) != 1:
        raise KustomizeError(f"replacement source {select} matches {len(found)} objects")
    value: Any = found[0]
    for part in _field_path(source.get("fieldPath", "metadata.name")):
        value = _step(value, part, False, f"replacement source {select}")
    for target in replacement["targets"]:
        options = target.get("options") or {}
        if set(target) - {"select", "fieldPaths", "options"} or set(options) - {"create"}:
            raise Unsupported(f"replacement target {target}")
        for obj in objects:
            if not _selected(obj, target["select"], "replacement target"):
                continue
            for path in target["fieldPaths"]:
                *parents, last = _field_path(path)
                node: Any = obj
                for part in parents:
                    node = _step(node, part, options.get("create", False), f"replacement target {path}")
                key = last[1:-1] if last.startswith("[") else last
                if isinstance(node, list):
                    node[int(key)] = copy.deepcopy(value)
                elif key in node or options.get("create"):
                    node[key] = copy.deepcopy(value)
                else:
                    raise KustomizeError(f"replacement target {path}: no field {key!r}")
