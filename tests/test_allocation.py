"""Scenario allocation: exact counts, the order of the samples, minimums, and `factory plan`.

The allocation is checked against independent formulations: the Sainte-Laguë method
as a sequential seat-by-seat election with exact fractions, the divisor-method
optimality condition for counts with minimums, and a plain sort of the positions.
"""

from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest
from conftest import write_dataset

from factory.allocation import allocate
from factory.cli import main
from factory.config import parse_config
from factory.errors import ConfigError
from factory.generate import generate_sample, scenario_of
from factory.reader import open_dataset


def config_of(weights, minimums=None):
    minimums = minimums or {}
    return parse_config({"name": "alloc", "scenarios": {
        n: {"weight": w, "min_count": minimums.get(n, 0)} for n, w in weights.items()}})


def election(weights: dict[str, float], seats: int) -> list[str]:
    """Sainte-Laguë seat by seat: each seat to the largest w / (2c + 1), ties to the
    scenario listed first."""
    w = {n: Fraction(repr(v)) for n, v in weights.items()}
    c = dict.fromkeys(weights, 0)
    out = []
    for _ in range(seats):
        best = max(weights, key=lambda n: (w[n] / (2 * c[n] + 1), -list(weights).index(n)))
        c[best] += 1
        out.append(best)
    return out


def random_weights(rng: random.Random) -> dict[str, float]:
    return {f"s{i}": rng.choice([0.05, 0.1, 0.15, 0.2, 0.25, 1.0, 2.0, 3.0, 0.7, 1.3]) for i in range(rng.randint(1, 6))}


def test_stream_is_the_sainte_lague_election_and_every_dataset_its_prefix():
    rng = random.Random(5)
    for _ in range(40):
        weights = random_weights(rng)
        cfg = config_of(weights)
        seats = election(weights, 120)
        assert [scenario_of(cfg, i) for i in range(120)] == seats
        for n in (1, 7, 50, 120):
            alloc = allocate(cfg, n)
            assert not alloc.spread
            assert alloc.scenarios(0, n) == seats[:n]
            assert alloc.counts == {s: seats[:n].count(s) for s in weights}


def test_counts_are_exact_within_one_of_the_quota_and_never_shrink_as_the_dataset_grows():
    cfg = config_of({"nominal": 0.7, "night": 0.2, "fog": 0.1})
    previous = None
    for n in range(1, 400):
        counts = allocate(cfg, n).counts
        assert sum(counts.values()) == n
        for s, w in (("nominal", 0.7), ("night", 0.2), ("fog", 0.1)):
            assert abs(counts[s] - n * w) < 1  # met exactly: the quota rounded one way or the other
        if previous:
            assert all(counts[s] >= previous[s] for s in counts)  # house-monotone
        previous = counts
    assert allocate(cfg, 1000).counts == {"nominal": 700, "night": 200, "fog": 100}


def test_minimum_counts_bind_and_the_rest_follow_the_divisor_method():
    rng = random.Random(11)
    for _ in range(60):
        weights = random_weights(rng)
        n = rng.randint(1, 80)
        minimums = {s: rng.randint(0, 4) for s in weights}
        while sum(minimums.values()) > n:
            minimums[rng.choice(list(weights))] = 0
        alloc = allocate(config_of(weights, minimums), n)
        c = alloc.counts
        assert sum(c.values()) == n and all(c[s] >= minimums[s] for s in weights)
        # No sample could move from a scenario above its minimum to another one and
        # make the allocation fairer: w_s / (2c_s - 1) >= w_t / (2c_t + 1).
        w = {s: Fraction(repr(v)) for s, v in weights.items()}
        for s in weights:
            if c[s] > minimums[s]:
                for t in weights:
                    if t != s:
                        assert w[s] / (2 * c[s] - 1) >= w[t] / (2 * c[t] + 1), (weights, minimums, n, c)
        # The order: every index has the scenario the sorted positions give it.
        if alloc.spread:
            rates = c
        else:
            rates = {s: w[s] for s in weights}
        positions = sorted((Fraction(2 * k + 1) / rates[s], list(weights).index(s), s)
                           for s in weights for k in range(c[s]))
        expected = [s for _, _, s in positions]
        assert alloc.scenarios(0, n) == expected
        assert [alloc.scenario_of(i) for i in range(n)] == expected


def test_rare_scenarios_with_minimums_are_spread_over_the_dataset_not_bunched():
    cfg = config_of({"nominal": 0.98, "rare": 0.02}, {"rare": 10})
    alloc = allocate(cfg, 100)
    assert alloc.spread and alloc.counts == {"nominal": 90, "rare": 10}
    names = alloc.scenarios(0, 100)
    assert [i for i, s in enumerate(names) if s == "rare"] == [5 + 10 * k for k in range(10)]
    # every shard of 10 gets exactly one
    assert all(names[i:i + 10].count("rare") == 1 for i in range(0, 100, 10))


def test_one_index_of_a_huge_dataset_is_found_without_listing_the_others():
    cfg = config_of({"a": 0.5, "b": 0.3, "c": 0.2}, {"c": 10})
    big = allocate(cfg, 10**9)
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


def test_a_dataset_with_binding_minimums_holds_what_the_manifest_says(tmp_path, tiny_config):
    cfg = parse_config({**tiny_config.resolved(), "scenarios": {
        "few": {**tiny_config.resolved()["scenarios"]["few"], "weight": 0.95},
        "one": {**tiny_config.resolved()["scenarios"]["one"], "weight": 0.05, "min_count": 3}}})
    manifest = write_dataset(cfg, tmp_path / "ds", 8, 4)
    block = manifest["scenarios"]
    assert block["method"] == "sainte-lague" and block["order"] == "spread"
    assert block["requested"] == block["achieved"] == {"few": 5, "one": 3}
    assert block["minimums"] == {"few": 0, "one": 3} and block["weights"] == {"few": 0.95, "one": 0.05}
    # each sample records its scenario and the parameters drawn for it
    metas = [json.loads(m["json"]) for _, _, m in open_dataset(str(tmp_path / "ds")).samples()]
    assert [m["scenario"] for m in metas] == allocate(cfg, 8).scenarios(0, 8)
    assert sum(m["scenario"] == "one" for m in metas) == 3
    assert all(m["params"]["objects.count"] == 1 for m in metas if m["scenario"] == "one")
    # the same index of the open-ended stream is another scenario: the dataset size matters
    assert scenario_of(cfg, 1) != metas[1]["scenario"] or scenario_of(cfg, 2) != metas[2]["scenario"]


def test_factory_plan_prints_the_allocation(capsys, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({"name": "p", "scenarios": {
        "nominal": {"weight": 0.7}, "night": {"weight": 0.2}, "fog": {"weight": 0.1, "min_count": 30}}}))
    assert main(["plan", str(path), "--samples", "200", "--shard-size", "50", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    alloc = allocate(config_of({"nominal": 0.7, "night": 0.2, "fog": 0.1}, {"fog": 30}), 200)
    assert doc["requested"] == alloc.counts == {"nominal": 132, "night": 38, "fog": 30}
    rows = {r["scenario"]: r for r in doc["scenario_table"]}
    names = alloc.scenarios(0, 200)
    for s in rows:
        per_shard = [names[i:i + 50].count(s) for i in range(0, 200, 50)]
        assert (rows[s]["per_shard_min"], rows[s]["per_shard_max"]) == (min(per_shard), max(per_shard))
        assert rows[s]["first_indices"] == [i for i, n in enumerate(names) if n == s][:5]
    assert rows["fog"]["quota"] == pytest.approx(20.0)
    assert main(["plan", str(path), "--samples", "200"]) == 0
    text = capsys.readouterr().out
    assert "fog" in text and "minimums bind" in text and " 30 " in text
    assert main(["plan", str(path), "--samples", "20"]) == 2
    assert "min_count" in capsys.readouterr().err
