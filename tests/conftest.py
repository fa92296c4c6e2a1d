"""The suite's set-up: the shared helpers of ``tests/helpers`` loaded as plugins (a test
asks for their fixtures by name and imports their plain helpers from
``tests.helpers.<module>``), and the markers set from where a test lives and what it
asks for. The markers are declared in pyproject.toml (``--strict-markers``):

* ``integration``: every test under ``tests/integration`` (set here);
* ``ray``: the test uses Ray. Set here on a test that asks for ``ray_local`` or
  ``cli_server``; a test that starts Ray another way (a subprocess, a local cluster)
  carries it itself. ``make test`` runs ``pytest -n 2 --dist loadgroup``: every ``ray``
  test is put in the xdist group "ray" here, so one worker runs them all and the
  session's Ray is started once and never twice at the same time;
* ``s3``: the test uses moto's S3 server (asks for ``s3`` or ``s3_server``; set here);
* ``cuda``: the test needs a CUDA device; skipped here where Warp sees none;
* ``slow``: a minute or more (kernels compiled from scratch, a local multi-node
  cluster, training); ``-m "not slow"`` leaves them out.

``tests/unit`` holds no Ray and no servers: a unit test that asks for a server fixture
or is marked ``ray`` stops the collection with the test's name.
"""

from __future__ import annotations

import pytest

from tests.helpers import TESTS

pytest_plugins = [
    "tests.helpers.servers",
    "tests.helpers.datasets",
    "tests.helpers.encode",
    "tests.helpers.diversity",
    "tests.helpers.mix",
    "tests.helpers.report",
    "tests.helpers.validate",
]

UNIT, INTEGRATION = TESTS / "unit", TESTS / "integration"
# The fixtures of tests/helpers/servers.py that start Ray or a server, and the marker each
# gives the tests that ask for it.
SERVER_FIXTURES = {"ray_local": "ray", "cli_server": "ray", "s3_server": "s3", "s3": "s3"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)
        servers = sorted(set(getattr(item, "fixturenames", ())) & SERVER_FIXTURES.keys())
        for name in servers:
            item.add_marker(SERVER_FIXTURES[name])
        if item.get_closest_marker("ray") is not None:
            _in_xdist_group(item, "ray")
        if UNIT in item.path.parents and (servers or item.get_closest_marker("ray") is not None):
            misplaced.append(f"{item.nodeid} ({', '.join(servers) or 'marked ray'})")
    if misplaced:
        raise pytest.UsageError(
            "tests/unit holds no Ray and no servers; move these to tests/integration:\n  " + "\n  ".join(misplaced)
        )


def _in_xdist_group(item: pytest.Item, group: str) -> None:
    """Put ``item`` in the xdist group ``group``: ``--dist loadgroup`` runs a group's tests
    in one worker. pytest-xdist 3.8 marks a test's group by appending ``@group`` to
    ``item._nodeid``, which pytest 9 no longer reads (the id is ``item._id``): without
    the line below the group was spread over both workers (8 grouped tests ran 4 on gw0
    and 4 on gw1). The id is set as the controller reads it, with the suffix."""
    item.add_marker(pytest.mark.xdist_group(group))
    loadgroup = item.config.getoption("loadgroup", default=False)  # set in an xdist worker only
    if loadgroup and hasattr(item, "_id") and "@" not in item.nodeid:
        item._id = type(item._id).parse(f"{item.nodeid}@{group}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("cuda") is not None:
        # Imported here, for CUDA tests only: it loads Warp.
        from factory.render.device import cuda_available

        if not cuda_available():
            pytest.skip("no CUDA device here")
