"""The pure core imports no Ray: only factory.onray.pipeline (and the serving app) may."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CORE = [
    "factory.scene.config", "factory.errors", "factory.sample.types", "factory.sample.generate", "factory.sample.encode",
    "factory.dataset.storage", "factory.dataset.shards", "factory.dataset.manifest", "factory.dataset.resume", "factory.commands.generate",
    "factory.service.catalogue", "factory.service.request", "factory.service.payload", "factory.commands.serve",
    "factory.scene.allocation", "factory.dataset.reader", "factory.commands.plan",
    "factory.trust.mix", "factory.commands.mix",
    "factory.trust.validate", "factory.trust.invariants", "factory.commands.validate",
    "factory.trust.report", "factory.trust.report.build", "factory.commands.report",
    "factory.trust.diversity", "factory.commands.compare",
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
            import factory.onray.pipeline
        except ImportError:
            print("ok")
        else:
            raise AssertionError("the shim did not block ray")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
