"""Who made a dataset: the generator's version, git commit, Python and library versions.

Recorded in the manifest's ``generator`` block (never in a sample, whose bytes must not
depend on the machine that made them) so that a reviewer, and the dataset card, can
name the exact code and libraries behind the data.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import factory

# (distribution, what it does to the data): the libraries whose versions can change a
# sample's bytes. The same on every render device: Warp's kernels render on cpu and cuda
# alike (the device itself is in the config, and so in its hash).
LIBRARIES = (
    ("numpy", "random draws and the renderer's host-side tables"),
    ("mujoco-core", "the physics: every pose, velocity and contact (MuJoCo)"),
    ("warp-lang", "rendering arithmetic: the compiled render kernels, on render.device cpu or cuda"),
    ("trimesh", "the triangle-mesh assets (trimesh.creation)"),
    ("deflate", "PNG compression (libdeflate) of the image members, under output.png libdeflate (the default)"),
    ("opencv-python-headless", "MP4 encoding, and the PNGs under output.png opencv (libpng + zlib)"),
    ("pyyaml", "reading scenario configs"),
    ("pydantic", "config validation and the defaults in the resolved config"),
)


def _git(*args: str) -> subprocess.CompletedProcess | None:
    root = Path(factory.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str | None:
    """The git commit of the code, when known.

    ``FACTORY_GIT_COMMIT`` wins (set it when building an image); otherwise ask git
    about the checkout the ``factory`` package was imported from. None if unknown.
    """
    env = os.environ.get("FACTORY_GIT_COMMIT")
    if env:
        return env
    out = _git("rev-parse", "--verify", "-q", "HEAD")
    commit = out.stdout.strip() if out is not None and out.returncode == 0 else ""
    return commit or None


def installed_version(name: str) -> str | None:
    """The installed version of distribution ``name``; None when it is not installed."""
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def generator_info() -> dict[str, Any]:
    """``{name, version, git_commit, git_dirty, python, libraries}``.

    ``git_dirty`` is True when the checkout has uncommitted changes to tracked files,
    None when unknown (no checkout, or the commit came from ``FACTORY_GIT_COMMIT``).
    ``libraries`` maps each of :data:`LIBRARIES` to its installed version
    (None if not installed) in the process that writes the manifest; Ray workers run
    the same environment (``runtime_env`` or the cluster image).
    """
    commit, dirty = git_commit(), None
    if commit and not os.environ.get("FACTORY_GIT_COMMIT"):
        out = _git("diff", "--quiet", "HEAD", "--")
        dirty = None if out is None or out.returncode not in (0, 1) else out.returncode == 1
    return {
        "name": "factory",
        "version": factory.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "libraries": {name: installed_version(name) for name, _ in LIBRARIES},
    }
