"""The Blender side of ``benchmarks/peer_blender.py``: builds a scene description
(the JSON that script exports from factory's Scene and Motion) with ``bpy`` and renders
its frames with Cycles at 1 sample per pixel on one thread.

It runs inside the benchmark-only virtual environment that ``peer_blender.py`` creates
(``bpy`` is never a dependency of factory), as

    python benchmarks/peer_blender_scene.py SCENE.json OUT_DIR

and writes ``OUT_DIR/frame_TTTT.png`` (8-bit sRGB, the "Standard" view transform) per
frame, then prints one JSON line of seconds: ``import`` (``import bpy``), ``build`` (an
empty file, the objects, materials, world, camera and light), ``first`` (one render of
frame 0 before the timed ones: Cycles' one-time set-up), ``wall`` and ``cpu`` (lists,
wall and process CPU seconds of one ``bpy.ops.render.render`` call per frame, poses set
before the clock starts) and ``save`` (writing the PNGs, outside the render times).

The description's frames: world metres, +z up; ``world_to_camera`` in OpenCV axes (+x
right, +y down, +z forward); object poses as object-to-world 4x4 matrices; colours
linear RGB in [0, 1]. Shapes are built from factory's parts (``factory.scene.shapes``):
spheres, boxes and cylinders as meshes, a capsule as a cylinder and two spheres, an ell
as its two boxes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
# isort: off
import bpy  # noqa: E402 - first: bmesh and mathutils exist once bpy has loaded
import bmesh  # noqa: E402
from mathutils import Matrix, Vector  # noqa: E402

# isort: on

T_IMPORT = time.perf_counter() - T_START
SEGMENTS = 32  # around a sphere or a cylinder (a sphere has half as many rings)
SENSOR_MM = 36.0  # Blender's sensor width; only its ratio to the focal length matters
CV_TO_BLENDER_CAMERA = Matrix.Diagonal((1.0, -1.0, -1.0, 1.0))  # OpenCV camera axes -> Blender's (-z forward, +y up)


def _add_part(bm, primitive: str, centre, half) -> None:
    """One convex part of an object (factory's ``Part``, placed: centre and half-extents
    in metres in the object frame) added to ``bm``; curved faces shaded smooth."""
    if primitive == "capsule":  # a cylinder of the core segment and a sphere at each end
        r, seg = half[0], half[2] - half[0]
        _add_part(bm, "cylinder", centre, (r, r, seg))
        for sign in (-1.0, 1.0):
            _add_part(bm, "sphere", (centre[0], centre[1], centre[2] + sign * seg), (r, r, r))
        return
    matrix = Matrix.Translation(Vector(centre)) @ Matrix.Diagonal((*half, 1.0))
    before = len(bm.faces)
    if primitive == "sphere":
        bmesh.ops.create_uvsphere(bm, u_segments=SEGMENTS, v_segments=SEGMENTS // 2, radius=1.0, matrix=matrix)
    elif primitive == "box":
        bmesh.ops.create_cube(bm, size=2.0, matrix=matrix)
    elif primitive == "cylinder":
        bmesh.ops.create_cone(
            bm, cap_ends=True, cap_tris=False, segments=SEGMENTS, radius1=1.0, radius2=1.0, depth=2.0, matrix=matrix
        )
    else:
        raise ValueError(f"no Blender primitive for part {primitive!r}")
    if primitive != "box":
        bm.faces.ensure_lookup_table()
        for f in list(bm.faces)[before:]:
            f.smooth = primitive == "sphere" or len(f.verts) == 4  # a cylinder's caps stay flat


def _material(name: str, color, roughness: float, specular: float):
    """A Principled BSDF of base colour ``color`` (linear RGB) and ``roughness``; its
    specular level follows factory's highlight strength (Blender's default is 0.5)."""
    mat = bpy.data.materials.new(name)  # with a node tree: Blender 5 has no use_nodes switch to set
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Specular IOR Level"].default_value = min(1.0, specular)
    return mat


def _mesh_object(name: str, parts: list, mat):
    bm = bmesh.new()
    for p in parts:
        _add_part(bm, p["primitive"], p["centre"], p["half"])
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    mesh.materials.append(mat)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _world(sky_color, ambient: float) -> None:
    """The camera sees the sky colour; every other ray sees a uniform grey of radiance
    ``ambient``, which lights a Lambert surface open to the sky as factory's ambient term
    (``albedo * ambient``) does."""
    world = bpy.data.worlds.new("world")
    bpy.context.scene.world = world
    nt = world.node_tree
    nt.nodes.clear()
    sky, amb = nt.nodes.new("ShaderNodeBackground"), nt.nodes.new("ShaderNodeBackground")
    sky.inputs["Color"].default_value = (*sky_color, 1.0)
    amb.inputs["Color"].default_value = (ambient, ambient, ambient, 1.0)
    path, mix = nt.nodes.new("ShaderNodeLightPath"), nt.nodes.new("ShaderNodeMixShader")
    out = nt.nodes.new("ShaderNodeOutputWorld")
    nt.links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
    nt.links.new(amb.outputs["Background"], mix.inputs[1])
    nt.links.new(sky.outputs["Background"], mix.inputs[2])
    nt.links.new(mix.outputs["Shader"], out.inputs["Surface"])


def _light(index: int, light: dict) -> None:
    """factory's light as a Blender one of the same irradiance. factory's Lambert term is
    ``albedo * I * cos``, Blender's diffuse BSDF ``albedo / pi * E * cos``: a sun of
    strength ``pi * I``; a point light whose irradiance at ``ref`` metres is ``I``
    (``P / (4 pi ref^2)`` for power P) has ``P = 4 pi^2 I ref^2``."""
    if light["kind"] == "directional":
        data = bpy.data.lights.new(f"light{index}", "SUN")
        data.energy = math.pi * light["intensity"]
        data.angle = 0.0  # a hard shadow, as factory's default
    else:
        data = bpy.data.lights.new(f"light{index}", "POINT")
        data.energy = 4.0 * math.pi**2 * light["intensity"] * light["ref"] ** 2
        data.shadow_soft_size = 0.0
    obj = bpy.data.objects.new(f"light{index}", data)
    vec = Vector(light["vector"])
    if light["kind"] == "directional":  # a sun shines along its -z: +z towards the light
        obj.rotation_euler = vec.to_track_quat("Z", "Y").to_euler()
    else:
        obj.location = vec
    bpy.context.scene.collection.objects.link(obj)


def _camera(desc: dict):
    """A camera of the pinhole K (square pixels, fx = fy assumed) and image size."""
    K, W, H = desc["K"], desc["width"], desc["height"]
    data = bpy.data.cameras.new("camera")
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = SENSOR_MM
    data.lens = K[0][0] * SENSOR_MM / W
    data.shift_x = (W / 2 - K[0][2]) / max(W, H)  # principal point off the image centre
    data.shift_y = (K[1][2] - H / 2) / max(W, H)
    data.clip_start, data.clip_end = 0.01, 60.0  # factory's floor ends 60 m along the axis
    obj = bpy.data.objects.new("camera", data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.scene.camera = obj
    return obj


def _settings(width: int, height: int) -> None:
    """Cycles on the CPU at 1 sample per pixel on one thread, no denoising."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.render.threads_mode = "FIXED"
    scene.render.threads = 1
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.use_compositing = False
    scene.render.use_sequencer = False
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"  # plain sRGB, as factory writes


def build(desc: dict) -> tuple:
    """The whole scene from its description; returns (camera, objects in order)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _settings(desc["width"], desc["height"])
    floor = desc["floor"]
    floor_mat = _material("floor", floor["color"], floor["roughness"], floor["specular"])
    bm = bmesh.new()
    bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=200.0)  # z = 0, beyond the camera's clip
    mesh = bpy.data.meshes.new("floor")
    bm.to_mesh(mesh)
    bm.free()
    mesh.materials.append(floor_mat)
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("floor", mesh))
    _world(desc["sky_color"], desc["ambient"])
    for i, light in enumerate(desc["lights"]):
        _light(i, light)
    objects = []
    for o in desc["objects"]:
        mat = _material(f"mat{o['id']}", o["color"], o["roughness"], o["specular"])
        objects.append(_mesh_object(f"{o['shape']}{o['id']}", o["parts"], mat))
    return _camera(desc), objects


def pose(camera, objects: list, frame: dict) -> None:
    """Camera and object poses of one frame (OpenCV world-to-camera -> Blender's camera)."""
    camera.matrix_world = Matrix(frame["world_to_camera"]).inverted() @ CV_TO_BLENDER_CAMERA
    for obj, m in zip(objects, frame["objects"]):
        obj.matrix_world = Matrix(m)


def main() -> None:
    desc = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    camera, objects = build(desc)
    pose(camera, objects, desc["frames"][0])
    bpy.context.view_layer.update()
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    bpy.ops.render.render(write_still=False)  # Cycles' one-time set-up (kernels, shaders)
    first = time.perf_counter() - t0
    wall, cpu, save = [], [], 0.0
    for t, frame in enumerate(desc["frames"]):
        pose(camera, objects, frame)
        t0, c0 = time.perf_counter(), time.process_time()
        bpy.ops.render.render(write_still=False)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # every thread of the process: Cycles renders in a worker
        t0 = time.perf_counter()
        bpy.data.images["Render Result"].save_render(filepath=str(out / f"frame_{t:04d}.png"))
        save += time.perf_counter() - t0
    figures = {"import": T_IMPORT, "build": built, "first": first, "wall": wall, "cpu": cpu, "save": save}
    print(json.dumps({"version": bpy.app.version_string, **figures}))


if __name__ == "__main__":
    main()
