"""The endpoint's cost model (factory.service.cost): the calibration's fit recovers
known costs, the shipped model is what the calibration script wrote for these terms
(benchmarks/calibrate_cost.py, over the grid and with the fit of
factory.service.calibration), every driver raises a request's cost, and a request over
the budget is a 413 naming the fields that drive it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from factory.errors import ApiError
from factory.scene.config import load_config
from factory.service import calibration
from factory.service.catalogue import Catalogue
from factory.service.cost import MODEL_FILE, TERMS, CostModel, drivers, scenario_terms
from factory.service.request import Limits, SampleRequest, resolve
from tests.helpers import CONFIGS

MODEL = CostModel.load()


def test_the_fit_recovers_known_costs_and_never_goes_negative():
    rows = [scenario_terms(calibration.config_of(p), "only") for p in calibration.GRID]
    rng = np.random.default_rng(0)
    truth = {k: float(rng.uniform(0.5, 2.0)) * 10.0**-e for k, e in zip(TERMS, (8, 10, 10, 7, 8, 3))}
    seconds = [sum(truth[k] * r[k] for k in TERMS) for r in rows]
    got = calibration.fit(rows, seconds)
    assert got == pytest.approx(truth, rel=1e-6)
    # a term that only hurts the fit is dropped, not given a negative cost
    noisy = calibration.fit(rows, [s * (1.3 if r["steps x objects"] > 1e4 else 1.0) for s, r in zip(seconds, rows)])
    assert all(v >= 0 for v in noisy.values())


def test_the_shipped_model_is_the_calibration_of_these_terms():
    doc = json.loads(MODEL_FILE.read_text())
    assert set(doc["seconds_per_unit"]) == set(TERMS) and all(v >= 0 for v in doc["seconds_per_unit"].values())
    assert len(doc["grid"]) == len(calibration.GRID)
    for entry, point in zip(doc["grid"], calibration.GRID):
        assert tuple(entry["point"].values()) == point
        terms = scenario_terms(calibration.config_of(point), "only")
        assert sum(MODEL.per_sample(terms).values()) == pytest.approx(entry["predicted"], rel=1e-3, abs=1e-5)
    assert doc["fit"]["median_relative_error"] < 0.5  # the budget is an estimate; the file says how good


@pytest.mark.parametrize(
    "change",
    [
        {"render": {"width": 64}},
        {"render": {"height": 64}},
        {"render": {"frames": 4}},
        {"render": {"substeps": 16}},
        {"render": {"motion_blur_samples": 4}},
        {"scenarios": {"few": {"objects": {"count": 12}}}},
        {"scenarios": {"few": {"lighting": {"count": 4}}}},
        {"render": {"shadow_rays": 8}},
        {"render": {"ao_rays": 4}},
        {
            "scenarios": {
                "few": {"objects": {"shape": {"dist": "choice", "values": ["sphere", "torus"], "weights": [1, 1]}}}
            }
        },
    ],
)
def test_every_driver_raises_the_cost(change):
    from factory.service.request import merge

    base = load_config(CONFIGS / "tiny.yaml")
    bigger = base.model_validate(merge(base.resolved(), change))
    assert MODEL.request(bigger, 1)[0] > MODEL.request(base, 1)[0]
    assert MODEL.request(base, 4)[0] == pytest.approx(4 * MODEL.request(base, 1)[0])


def test_the_drivers_are_the_fields_of_the_dearest_terms():
    parts = dict.fromkeys(TERMS, 0.0) | {"steps x objects": 9.0, "sample": 1.0}
    assert drivers(parts, "a") == [
        "render.frames",
        "render.substeps",
        "scenarios.a.objects.count",
        "scenarios.a.furniture.count",
        "count",
    ]


def test_a_request_over_the_budget_is_a_413_naming_what_drives_it():
    catalogue = Catalogue(CONFIGS)
    heavy = {
        "scenario": "tiny",
        "count": 8,
        "overrides": {"render": {"substeps": 256, "frames": 2}, "scenarios": {"few": {"objects": {"count": 256}}}},
    }
    with pytest.raises(ApiError) as err:
        resolve(SampleRequest.model_validate(heavy), catalogue, Limits(max_cost_s=1.0))
    assert err.value.status == 413
    fields = [p["field"] for p in err.value.problems]
    assert {"render.substeps", "scenarios.few.objects.count", "count"} <= set(fields)
    assert "over this service's budget of 1 s" in err.value.problems[0]["message"]
    resolve(SampleRequest.model_validate({"scenario": "tiny"}), catalogue, Limits(max_cost_s=1.0))  # light: fine


def test_soft_shadows_and_occlusion_are_priced_by_their_rays():
    """Rays multiply the render work: many shadow and occlusion rays put a request that
    is light without them over the budget, and the 413 names the fields that did it."""
    catalogue = Catalogue(CONFIGS)
    base = {
        "scenario": "tiny",
        "overrides": {
            "render": {"width": 128, "height": 128, "frames": 8},
            "scenarios": {"few": {"objects": {"count": 16}}},
        },
    }
    resolve(SampleRequest.model_validate(base), catalogue, Limits(max_cost_s=1.0))  # fits without them
    rays = {"render": {"shadow_rays": 64, "ao_rays": 64}, "scenarios": {"few": {"lighting": {"count": 8}}}}
    heavy = {**base, "overrides": merge_overrides(base["overrides"], rays)}
    with pytest.raises(ApiError) as err:
        resolve(SampleRequest.model_validate(heavy), catalogue, Limits(max_cost_s=1.0))
    assert err.value.status == 413
    fields = {p["field"] for p in err.value.problems}
    assert {"render.shadow_rays", "render.ao_rays", "scenarios.few.lighting.count"} <= fields


def merge_overrides(a: dict, b: dict) -> dict:
    from factory.service.request import merge

    return merge(a, b)


def test_every_shipped_config_is_priced_and_asset_shapes_are_meshes():
    """The endpoint prices every config it serves (configs/*.yaml), gen:/pack: shapes
    included: their objects and furniture count in the mesh term."""
    from tests.helpers import REPO

    for path in sorted((REPO / "configs").glob("*.yaml")):
        config = load_config(path)
        for name in config.scenarios:
            terms = scenario_terms(config, name)
            assert all(np.isfinite(v) and v >= 0 for v in terms.values()), (path.name, name)
    household = load_config(REPO / "configs" / "household.yaml")
    spill = household.scenarios["spill"]
    terms = scenario_terms(household, "spill")
    assert terms["views x pixels x rays x meshes"] > 0
    meshes = spill.objects.count.upper() + spill.furniture.count.upper()  # both draw gen:/pack: shapes
    r = household.render
    views = r.frames * max(1, r.motion_blur_samples)
    rays = r.rays_per_pixel(spill.max_lights())
    assert terms["views x pixels x rays x meshes"] == views * r.width * r.height * rays * meshes
