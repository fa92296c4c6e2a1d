"""The checks of ``factory validate`` are listed once, in
``factory/trust/validate/checks.py``: every check name the code reports
(``failure("...")``, ``res.fail("...")``, ``found.add("...")`` and the invariants'
``add("...")``) is in that list, and every name in it is named in the code.

The names are read from the code itself with ``ast``, so a new check is held to the list
the day it is written. No Ray, no data: milliseconds.
"""

from __future__ import annotations

import ast
from pathlib import Path

from factory.trust.validate.checks import CHECKS, DATASET_CHECKS, SAMPLE_CHECKS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "factory/trust/validate").glob("*.py")) + [
    ROOT / "factory/trust/invariants.py",
    ROOT / "factory/trust/intrinsics.py",
]
REPORTERS = {"failure", "fail", "add"}  # the calls whose first argument is a check name


def _reported() -> dict[str, list[str]]:
    """Check name -> where it is reported (``file:line``); a name built at run time
    (an f-string) is recorded as such, so that the test can refuse it."""
    out: dict[str, list[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in REPORTERS:
                continue
            first = node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.setdefault(first.value, []).append(where)
            elif isinstance(first, ast.JoinedStr):
                out.setdefault(f"<f-string {ast.unparse(first)}>", []).append(where)
    return out


def _strings() -> set[str]:
    """Every string literal of the code outside checks.py (a name may reach its
    reporter through a variable, as in ``for check, field, want in (("meta.seed", ...``)."""
    return {
        node.value
        for path in SOURCES
        if path.name != "checks.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_every_reported_check_is_in_the_one_list_and_every_listed_check_is_in_the_code():
    reported = _reported()
    assert "shard.sha256" in reported and "depth.finite" in reported  # the scan sees both the validator and invariants
    unlisted = {name: where for name, where in reported.items() if name not in CHECKS}
    assert not unlisted, f"check names reported but not in factory/trust/validate/checks.py: {unlisted}"
    unused = set(CHECKS) - _strings()
    assert not unused, f"listed checks that the code never names: {sorted(unused)}"


def test_each_check_has_a_one_line_description_and_a_dotted_name():
    assert not set(DATASET_CHECKS) & set(SAMPLE_CHECKS)
    assert list(CHECKS) == [*DATASET_CHECKS, *SAMPLE_CHECKS]
    for name, description in CHECKS.items():
        group, _, rest = name.partition(".")
        assert group and rest and name == name.lower(), name
        assert description and "\n" not in description, name
