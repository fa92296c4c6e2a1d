"""Textured meshes (UV-mapped and magnified, a minified checker through the mip levels,
triplanar) give the same bytes from CPU kernels built for this CPU's own instruction set
(-march=native, FMA and all) as from the generic build factory ships: the texture
filter's level of detail uses no libm. Both builds compile from scratch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factory.render.warp_setup import CPU_FLAGS

ROOT = Path(__file__).parents[2]

_DIGESTS = """
import hashlib, json
from factory.render import render_clip
from factory.render.device import get_device
from tests.unit.test_textures import _Still, textured_scenes
out = {}
for name, scene in textured_scenes().items():
    f = render_clip(scene, _Still(scene.objects), device=get_device("cpu")).frames
    out[name] = hashlib.sha256(f.rgb.tobytes() + f.depth.tobytes() + f.instance.tobytes()).hexdigest()
print(json.dumps(out))
"""


def _digests(env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _DIGESTS],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_texture_bytes_do_not_depend_on_how_the_cpu_kernels_were_built(tmp_path):
    native = _digests(
        {"FACTORY_KERNEL_CACHE": str(tmp_path / "native"), "FACTORY_WARP_CPU_FLAGS": "-march=native " + CPU_FLAGS}
    )
    generic = _digests({"FACTORY_KERNEL_CACHE": str(tmp_path / "generic")})
    assert native == generic and len(generic) == 3
