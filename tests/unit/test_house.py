"""The house as the imports draw it: layers import only downwards, no import cycle, Ray
only in ``factory/onray/`` and the Serve adapter, small modules and functions.

Everything is read from the code itself (``ast`` over every file of the package), so a
new module is covered the day it is added; nothing here keeps a hand-made list of
modules. README "Layout" and ``factory/__init__.py`` describe the same rules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "factory"

# Layers from the bottom up: a module may import its own layer and those before it.
LAYERS = (
    "base",
    "scene",
    "assets",
    "physics",
    "render",
    "sample",
    "dataset",
    "trust",
    "client",
    "onray",
    "service",
    "commands",
)
# Where Ray may be imported: every Ray Data use, the Serve adapter and the command that serves it.
RAY_ALLOWED = ("factory.onray", "factory.service.app", "factory.commands.serve")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = f
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module name ``name`` imports, at any depth of the file (function-level too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


GRAPH = {name: {m for m in _imports(name, path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "commands" if module == "factory.cli" else "base"  # errors, timing, the package itself


def _related(a: str, b: str) -> bool:
    """A package and its own submodules (``factory.trust.report`` and its ``build``)."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    graph = {a: {b for b in bs if not _related(a, b)} for a, bs in GRAPH.items()}
    assert _cycles(graph) == []


def test_layers_import_only_downwards():
    rank = {layer: n for n, layer in enumerate(LAYERS)}
    upward = sorted(
        f"{a} -> {b}" for a, bs in GRAPH.items() for b in bs if not _related(a, b) and rank[_layer(b)] > rank[_layer(a)]
    )
    assert upward == []


def test_every_folder_is_a_known_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(LAYERS), folders - set(LAYERS)


def _imports_ray(path: Path) -> bool:
    return any(m.split(".")[0] == "ray" for m in _imports("x.y", path))


def test_ray_is_imported_only_in_onray_and_the_serve_adapter():
    importers = sorted(name for name, path in MODULES.items() if _imports_ray(path))
    stray = [m for m in importers if not any(m == a or m.startswith(a + ".") for a in RAY_ALLOWED)]
    assert stray == []
    assert "factory.onray.map" in importers  # the scan sees a real Ray import


def test_everything_else_imports_with_ray_made_unimportable():
    rest = sorted(m for m in MODULES if not any(m == a or m.startswith(a + ".") for a in RAY_ALLOWED))
    assert "factory.trust.validate" in rest or any(m.startswith("factory.trust.validate.") for m in rest)
    code = textwrap.dedent(f"""
        import importlib, sys
        sys.modules["ray"] = None  # any 'import ray' now raises ImportError
        for name in {rest!r}:
            importlib.import_module(name)
        loaded = sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] == "ray")
        assert not loaded, loaded
        try:
            import factory.onray.map
        except ImportError:
            print("ok")
        else:
            raise AssertionError("the shim did not block ray")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_public_entry_points_are_importable_from_factory():
    import factory

    for name in ("load_config", "generate_sample", "generate_samples", "generate_members", "decode_sample"):
        assert callable(getattr(factory, name)), name
    with pytest.raises(AttributeError):
        factory.no_such_thing  # noqa: B018


# What a unit test may not import: Ray (and what imports it), the S3 server.
NOT_IN_UNIT_TESTS = ("ray", "moto", *RAY_ALLOWED)


def test_unit_tests_import_no_ray_and_no_server():
    found = {}
    for path in sorted((ROOT / "tests" / "unit").glob("*.py")):
        bad = sorted(
            m for m in _imports("tests.unit.x", path) if any(m == b or m.startswith(b + ".") for b in NOT_IN_UNIT_TESTS)
        )
        if bad:
            found[path.name] = bad
    assert found == {}, "move these tests to tests/integration"
    assert _imports("x.y", Path(__file__)) >= {"ast", "subprocess"}  # the scan reads imports


def test_modules_and_functions_are_small():
    long_modules = {
        str(p.relative_to(ROOT)): n
        for p in MODULES.values()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    long_functions = {}
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions[f"{path.relative_to(ROOT)}:{node.name}"] = n
    assert long_modules == {} and long_functions == {}
