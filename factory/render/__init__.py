"""The renderer: analytic ray casting of the scene's shapes, written against the
array-API standard so one algorithm runs on NumPy, or PyTorch on CPU or GPU, in
batches of many views (see :mod:`factory.render.backend`)."""

from factory.render.renderer import Clip, render_clip, render_clips

__all__ = ["Clip", "render_clip", "render_clips"]
