"""The CPU renderer: analytic ray casting of the scene's shapes, written against an
array namespace so the same algorithm can later run on a GPU array library."""

from factory.render.renderer import render_clip

__all__ = ["render_clip"]
