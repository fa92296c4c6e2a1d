"""The physics layer: a Scene's motion over the clip (``dynamics.simulate`` -> Motion).

Imports the scene layer only.
"""
