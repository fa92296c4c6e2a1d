"""The physics layer: a Scene's motion over the clip, simulated by MuJoCo
(``model.build``: the MuJoCo model of a scene; ``dynamics.simulate`` -> Motion).

Imports the scene layer only (and MuJoCo).
"""
