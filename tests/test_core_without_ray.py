"""The pure core imports no Ray: only factory.pipeline (and the serving app) may."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CORE = [
    "factory.config", "factory.errors", "factory.sample", "factory.generate", "factory.encode",
    "factory.storage", "factory.shards", "factory.manifest", "factory.resume", "factory.commands.generate",
    "factory.service.catalogue", "factory.service.request", "factory.service.payload", "factory.commands.serve",
    "factory.allocation", "factory.reader", "factory.commands.plan",
    "factory.mix", "factory.commands.mix",
    "factory.validate", "factory.invariants", "factory.commands.validate",
    "factory.report", "factory.report.build", "factory.commands.report",
    "factory.diversity", "factory.commands.compare",
]


def test_core_modules_import_with_ray_made_unimportable():
    code = textwrap.dedent(f"""
        import importlib, sys
        sys.modules["ray"] = None  # any 'import ray' now raises ImportError
        for name in {CORE!r}:
            importlib.import_module(name)
        loaded = sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] == "ray")
        assert not loaded, loaded
        try:
            import factory.pipeline
        except ImportError:
            print("ok")
        else:
            raise AssertionError("the shim did not block ray")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
