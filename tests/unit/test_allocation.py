"""Scenario allocation: exact counts, the order of the samples, minimums, and `factory plan`.

The allocation is checked against independent formulations: the largest-remainder
property stated directly (every count its quota rounded down or up, the rounded-up
ones holding the largest remainders), the minimums' rule stated as "the others share
what is left by weight", and a plain sort of exact fractional positions.
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import pytest

from factory.cli import main
from factory.dataset.reader import open_dataset
from factory.errors import ConfigError
from factory.sample.generate import generate_sample, scenario_of
from factory.scene.allocation import allocate
from factory.scene.config import parse_config
from tests.helpers.datasets import memory_url, write_dataset


def config_of(weights, minimums=None):
    minimums = minimums or {}
    return parse_config(
        {"name": "alloc", "scenarios": {n: {"weight": w, "min_count": minimums.get(n, 0)} for n, w in weights.items()}}
    )


def random_weights(rng: random.Random) -> dict[str, float]:
    return {
        f"s{i}": rng.choice([0.05, 0.1, 0.15, 0.2, 0.25, 1.0, 2.0, 3.0, 0.7, 1.3]) for i in range(rng.randint(1, 6))
    }


def sorted_positions(rates: dict[str, Fraction], counts: dict[str, int]) -> list[str]:
    """The documented order, by sorting: (s, k) at (k + (2i+1)/2S) / rate_s."""
    names = list(rates)
    S = len(names)
    pos = sorted(
        ((k + Fraction(2 * i + 1, 2 * S)) / rates[s], i, s)
        for i, s in enumerate(names)
        if rates[s]
        for k in range(counts[s])
    )
    return [s for _, _, s in pos]


def check_largest_remainder(weights: dict[str, Fraction], seats: int, counts: dict[str, int]) -> None:
    total = sum(weights.values())
    quota = {s: seats * w / total for s, w in weights.items()}
    assert sum(counts.values()) == seats
    assert all(counts[s] in (math.floor(quota[s]), math.ceil(quota[s])) for s in weights), (quota, counts)
    up = [quota[s] - math.floor(quota[s]) for s in weights if counts[s] > quota[s]]
    down = [quota[s] - math.floor(quota[s]) for s in weights if counts[s] == math.floor(quota[s]) < quota[s]]
    assert not up or not down or min(up) >= max(down)


def test_counts_are_each_scenarios_quota_rounded_by_largest_remainder():
    rng = random.Random(5)
    for _ in range(60):
        weights = random_weights(rng)
        for n in (1, 7, 24, 50, 333):
            counts = allocate(config_of(weights), n).counts
            check_largest_remainder({s: Fraction(repr(w)) for s, w in weights.items()}, n, counts)
    cfg = config_of({"nominal": 0.5, **{f"edge{i}": 0.1 for i in range(5)}})
    assert allocate(cfg, 24).counts["nominal"] == 12  # an exact quota is met exactly
    assert allocate(config_of({"nominal": 0.7, "night": 0.2, "fog": 0.1}), 1000).counts == {
        "nominal": 700,
        "night": 200,
        "fog": 100,
    }


def test_minimum_counts_hold_and_the_others_share_what_is_left_by_weight():
    rng = random.Random(11)
    for _ in range(80):
        weights = random_weights(rng)
        n = rng.randint(1, 80)
        minimums = {s: rng.randint(0, 6) for s in weights}
        while sum(minimums.values()) > n:
            minimums[rng.choice(list(weights))] = 0
        alloc = allocate(config_of(weights, minimums), n)
        c = alloc.counts
        assert sum(c.values()) == n and all(c[s] >= minimums[s] for s in weights)
        held = {s for s in weights if minimums[s] and c[s] == minimums[s]}
        free = {s: Fraction(repr(weights[s])) for s in weights if s not in held}
        if free:  # the rest is exactly a largest-remainder split of what the minimums left
            check_largest_remainder(free, n - sum(minimums[s] for s in held), {s: c[s] for s in free})
        # The order: every index has the scenario the sorted positions give it.
        expected = sorted_positions({s: Fraction(c[s]) for s in weights}, c)
        assert alloc.scenarios(0, n) == expected
        assert [alloc.scenario_of(i) for i in range(n)] == expected


def test_the_open_ended_stream_follows_the_weights_in_every_prefix():
    rng = random.Random(3)
    for _ in range(30):
        weights = random_weights(rng)
        cfg = config_of(weights)
        got = [scenario_of(cfg, i) for i in range(150)]
        rates = {s: Fraction(repr(w)) for s, w in weights.items()}
        assert got == sorted_positions(rates, dict.fromkeys(weights, 150))[:150]
        total = sum(weights.values())
        for n in range(1, 151):
            for s, w in weights.items():
                assert abs(got[:n].count(s) - n * w / total) <= 1.5


def test_rare_scenarios_are_spread_over_the_dataset_not_bunched():
    cfg = config_of({"nominal": 0.98, "rare": 0.02}, {"rare": 10})
    alloc = allocate(cfg, 100)
    assert alloc.counts == {"nominal": 90, "rare": 10}
    names = alloc.scenarios(0, 100)
    assert all(names[i : i + 10].count("rare") == 1 for i in range(0, 100, 10))  # one in every shard of 10
    # five edge cases of equal weight interleave instead of sitting next to each other
    edge = allocate(config_of({"nominal": 0.5, **{f"e{i}": 0.1 for i in range(5)}}), 100).scenarios(0, 100)
    runs = [edge[i] for i in range(1, 100) if edge[i] != "nominal" and edge[i - 1] != "nominal"]
    assert len(runs) <= 10
    assert all(edge[i : i + 10].count("nominal") == 5 for i in range(0, 100, 10))


def test_one_index_of_a_huge_dataset_is_found_without_listing_the_others():
    cfg = config_of({"a": 0.5, "b": 0.3, "c": 0.2}, {"c": 10})
    big = allocate(cfg, 10**9)  # building it lists nothing either
    i = 987_654_321
    window = big.scenarios(i - 3, i + 3)
    assert [big.scenario_of(j) for j in range(i - 3, i + 3)] == window
    assert big.counts == {"a": 500_000_000, "b": 300_000_000, "c": 200_000_000}


def test_minimums_over_the_sample_count_and_indices_outside_the_dataset_are_refused():
    cfg = config_of({"a": 1.0, "b": 1.0}, {"a": 3, "b": 4})
    with pytest.raises(ConfigError) as err:
        allocate(cfg, 6)
    assert "min_count" in str(err.value) and "add up to 7" in str(err.value) and "6 samples" in str(err.value)
    assert allocate(cfg, 7).counts == {"a": 3, "b": 4}
    with pytest.raises(IndexError, match="outside a dataset of 7"):
        allocate(cfg, 7).scenario_of(7)
    with pytest.raises(ValueError, match="outside a dataset of 7"):
        generate_sample(cfg, 7, samples=7)
    with pytest.raises(ConfigError) as err:
        parse_config({"scenarios": {"a": {"min_count": -1}}})
    assert "scenarios.a.min_count" in str(err.value)


def test_a_dataset_with_binding_minimums_holds_what_the_manifest_says(tiny_config):
    cfg = parse_config(
        {
            **tiny_config.resolved(),
            "scenarios": {
                "few": {**tiny_config.resolved()["scenarios"]["few"], "weight": 0.95},
                "one": {**tiny_config.resolved()["scenarios"]["one"], "weight": 0.05, "min_count": 3},
            },
        }
    )
    url = memory_url("allocation")
    manifest = write_dataset(cfg, url, 8, 4)
    block = manifest["scenarios"]
    assert block["method"] == "largest-remainder"
    assert block["requested"] == block["achieved"] == {"few": 5, "one": 3}
    assert block["minimums"] == {"few": 0, "one": 3} and block["weights"] == {"few": 0.95, "one": 0.05}
    # each sample records its scenario and the parameters drawn for it
    metas = [json.loads(m["json"]) for _, _, m in open_dataset(url).samples()]
    assert [m["scenario"] for m in metas] == allocate(cfg, 8).scenarios(0, 8)
    assert sum(m["scenario"] == "one" for m in metas) == 3
    assert all(m["params"]["objects.count"] == 1 for m in metas if m["scenario"] == "one")
    # the open-ended stream has other scenarios at these indices: the dataset size matters
    assert [scenario_of(cfg, i) for i in range(8)].count("one") < 3


def test_factory_plan_prints_the_allocation(capsys, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "p",
                "scenarios": {
                    "nominal": {"weight": 0.7},
                    "night": {"weight": 0.2},
                    "fog": {"weight": 0.1, "min_count": 30},
                },
            }
        )
    )
    assert main(["plan", str(path), "--samples", "200", "--shard-size", "50", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    alloc = allocate(config_of({"nominal": 0.7, "night": 0.2, "fog": 0.1}, {"fog": 30}), 200)
    assert doc["requested"] == alloc.counts == {"nominal": 132, "night": 38, "fog": 30}
    rows = {r["scenario"]: r for r in doc["scenario_table"]}
    names = alloc.scenarios(0, 200)
    for s in rows:
        per_shard = [names[i : i + 50].count(s) for i in range(0, 200, 50)]
        assert (rows[s]["per_shard_min"], rows[s]["per_shard_max"]) == (min(per_shard), max(per_shard))
        assert rows[s]["first_indices"] == [i for i, n in enumerate(names) if n == s][:5]
    assert rows["fog"]["quota"] == pytest.approx(20.0)
    assert main(["plan", str(path), "--samples", "200"]) == 0
    text = capsys.readouterr().out
    assert "fog" in text and "held at min_count: fog" in text and " 30 " in text
    assert main(["plan", str(path), "--samples", "20"]) == 2
    assert "min_count" in capsys.readouterr().err
