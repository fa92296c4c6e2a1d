"""The scene layer: what a clip shows, as pure data (imports numpy and pydantic only).

``config`` (the typed scenario YAML; ``validation`` words its errors) and
``distributions`` (its sampled parameters), ``allocation`` (which scenario each index
gets), ``types`` (Scene, objects, camera, lights, room) and ``sampling`` ((config,
index) -> Scene, one seeded stream per part).
"""
