"""What the tests share, in one place.

The modules that define fixtures are pytest plugins, loaded by ``pytest_plugins`` in
``tests/conftest.py``: a test asks for a fixture by name and never imports it. Plain
helpers (functions, constants) are imported as ``from tests.helpers.<module> import ...``.

=====================  ===========================================================
module                 what it holds
=====================  ===========================================================
``servers``            free ports, a local Ray, moto's S3 server and a bucket, a real
                       ``factory serve`` (fixtures: ``ray_local``, ``s3_server``,
                       ``s3``, ``cli_server``)
``datasets``           the tiny config (fixture ``tiny_config``), reference shards
                       and complete datasets written without Ray
``clips``              render-like clips drawn with numpy (no renderer)
``encode``             encode bounds; fixtures ``samples``, ``shard`` (test_encode)
``diversity``          fixture ``tiny_ds`` (test_diversity)
``mix``                real-style WebDatasets; fixture ``data`` (test_mix)
``report``             ``report()``; fixture ``dataset`` (test_report)
``validate``           damage helpers; fixtures ``clean``, ``ds`` (test_validate)
``k8s_manifests``      the rendered ``k8s/`` objects and readers of them
``k8s_validate``       offline schema validation of Kubernetes objects
``kustomize_lite``     a small ``kustomize build`` for where kubectl is missing
=====================  ===========================================================
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
CONFIGS = TESTS / "configs"
