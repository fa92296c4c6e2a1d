"""The request body's reader (factory.service.body): every hostile document is a 400
naming where it went wrong, and a good one comes back as json.loads reads it."""

from __future__ import annotations

import json

import pytest

from factory.errors import ApiError
from factory.service.body import MAX_DEPTH, check_tree, parse_json


def refused(raw, field="body") -> dict:
    with pytest.raises(ApiError) as err:
        parse_json(raw, field)
    assert err.value.status == 400
    (problem,) = err.value.problems
    json.dumps(err.value.body(), ensure_ascii=True)  # the answer can always be sent
    return problem


def nested(depth: int, leaf: str = "1") -> str:
    """``depth`` levels of arrays around ``leaf``: depth 1 is ``[1]``."""
    return "[" * depth + leaf + "]" * depth


def test_a_good_body_reads_as_json_does():
    raw = '{"scenario": "tiny", "overrides": {"render": {"width": 48}}, "note": "caf\\u00e9 \\ud83d\\ude00"}'
    assert parse_json(raw) == json.loads(raw)
    assert parse_json(raw.encode()) == json.loads(raw)
    assert parse_json(b"  ") is None


@pytest.mark.parametrize("depth", [50, 5000, 200_000])
def test_deep_nesting_is_refused_before_anything_recurses(depth):
    problem = refused(nested(depth))
    # past the parser's own recursion limit the place is the body; short of it, the path
    assert problem["field"] == "body" or problem["field"] == ".".join(["0"] * MAX_DEPTH)
    assert f"deeper than {MAX_DEPTH} levels" in problem["message"]


def test_deep_nesting_inside_overrides_names_the_place():
    problem = refused('{"scenario": "tiny", "overrides": {"render": ' + nested(100) + "}}")
    assert problem["field"].startswith("overrides.render.0.0") and "deeper than" in problem["message"]
    assert "deeper than" in refused('{"overrides": {"render": ' + nested(3000) + "}}")["message"]


def test_the_depth_limit_is_exact():
    assert parse_json(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    assert "deeper than" in refused(nested(MAX_DEPTH + 1))["message"]


def test_the_walk_needs_no_recursion():
    deep: list = []
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = [deep]
    with pytest.raises(ApiError, match="deeper than 32 levels"):
        check_tree(deep, "body")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"scenario": "\\ud800"}', "scenario"),
        ('{"overrides": {"name": "ok\\udfff"}}', "overrides.name"),
        ('{"overrides": {"scenarios": ["a", "\\ud83d"]}}', "overrides.scenarios.1"),
    ],
)
def test_a_lone_surrogate_is_named_by_its_field(raw, field):
    problem = refused(raw)
    assert problem["field"] == field and "not Unicode text" in problem["message"]


def test_a_lone_surrogate_in_a_key_is_named_escaped():
    problem = refused('{"overrides": {"\\udc00": 1}}')
    assert problem["field"] == "overrides.\\udc00" and "its key holds" in problem["message"]


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("NaN", "NaN is not JSON"),
        ("-Infinity", "-Infinity is not JSON"),
        ("1e999", "not a finite number"),
        ("-1e400", "not a finite number"),
        ("9" * 5000, "4300 digits"),
    ],
)
def test_numbers_nothing_downstream_can_use_are_refused(token, words):
    problem = refused('{"seed": ' + token + "}")
    assert problem["field"] == "body" and words in problem["message"]


def test_another_field_keeps_its_name():
    assert refused(nested(40), "overrides")["field"].startswith("overrides.0")
    assert refused("{", "overrides")["field"] == "overrides"
    assert refused(b'{"a": "\xff"}')["message"].startswith("not valid JSON")  # not UTF-8
