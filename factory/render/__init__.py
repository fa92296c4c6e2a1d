"""The renderer: Warp kernels (one source for CPU and CUDA) that ray-trace analytic
shapes and triangle meshes (one BVH per asset) for many views per launch, with every
ground-truth layer from the same launch (see :mod:`factory.render.renderer`)."""

from factory.render.renderer import Clip, ClipMotion, ObjectAnnotation, RenderedClip, render_clip, render_clips

__all__ = ["Clip", "ClipMotion", "ObjectAnnotation", "RenderedClip", "render_clip", "render_clips"]
