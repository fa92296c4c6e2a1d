"""The device-side tables of one launch, as Warp structs (filled by
:mod:`factory.render.batch`).

A *view* is one camera exposure of one scene: a frame of a clip, a motion-blur
sub-frame, or the next frame whose poses the flow of a frame needs. Objects, surfaces
and lights are flat arrays indexed through per-scene starts, so scenes of any size
share one launch and no table is padded.

The kernels' enumerations are named constants here, each beside the Python table
that fills it: surface codes, texture kinds and light kinds (shape codes come from
:mod:`factory.scene.shapes` through :mod:`factory.render.geometry`).
"""

from __future__ import annotations

from factory.render.environment import EnvTables
from factory.render.warp_setup import wp
from factory.scene.look_specs import LIGHT_KINDS, TONES
from factory.scene.materials import TEXTURES

# Surface codes: 0 sky, 1 floor, 2 wall, 3 + k object k of the scene.
SKY = wp.constant(0)
FLOOR = wp.constant(1)
WALL = wp.constant(2)
FIRST_OBJECT = wp.constant(3)

# What a render job does with its colour (the jobs' ``shade`` column).
NO_RGB = wp.constant(0)  # ground truth only: the frame's RGB is the mean of its blur sub-frames
RGB_LINEAR = wp.constant(1)  # linear RGB into the job's row of the launch's buffer, for ``resolve``
RGB_SRGB = wp.constant(2)  # sRGB bytes straight into its frame: a frame drawn from one view

# Bits of the kernels' ``layers`` / ``bits`` argument: the optional layers to write
# (factory.render.layers.Layers says which are on).
BACKWARD_FLOW = wp.constant(1)
SCENE_FLOW = wp.constant(2)
OBJECT_COORDS = wp.constant(4)
AMODAL = wp.constant(8)
AMODAL_DEPTH = wp.constant(16)

# Texture kinds of Scenes.texture: a config's ``texture`` name -> its code.
TEXTURE_CODE = {name: code for code, name in enumerate(TEXTURES)}
PLAIN = wp.constant(TEXTURE_CODE["plain"])
CHECKER = wp.constant(TEXTURE_CODE["checker"])
STRIPES = wp.constant(TEXTURE_CODE["stripes"])
NOISE = wp.constant(TEXTURE_CODE["noise"])
FBM = wp.constant(TEXTURE_CODE["fbm"])
MARBLE = wp.constant(TEXTURE_CODE["marble"])
WOOD = wp.constant(TEXTURE_CODE["wood"])
WORLEY = wp.constant(TEXTURE_CODE["worley"])
BRICKS = wp.constant(TEXTURE_CODE["bricks"])
TILES = wp.constant(TEXTURE_CODE["tiles"])

# Tone curves of Scenes.tone: a config's ``camera.tone`` name -> its code.
TONE_CODE = {name: code for code, name in enumerate(TONES)}
FILMIC = wp.constant(TONE_CODE["filmic"])
LINEAR = wp.constant(TONE_CODE["linear"])

# Light kinds of Scenes.light_kind: a config's ``lighting.kind`` name -> its code.
LIGHT_CODE = {name: code for code, name in enumerate(LIGHT_KINDS, start=1)}
DIRECTIONAL = wp.constant(LIGHT_CODE["directional"])
POINT = wp.constant(LIGHT_CODE["point"])
AREA = wp.constant(LIGHT_CODE["area"])  # a point light whose emitter has a size: shaded as one


@wp.struct
class Views:
    """Per view (V) and per posed object (P); float32, metres. ``row_*`` list, per
    image row, the objects whose image (the pixel rect of its bounding sphere, with a
    pixel of margin) the row's pixels lie in: a pixel-centre ray outside that rect
    cannot hit the object, so a pixel tests only its row's list. ``shadow_*`` do the
    same for a pixel's hard shadow ray towards a directional light."""

    origin: wp.array(dtype=wp.vec3)  # (V,) camera centre, world
    rot: wp.array(dtype=wp.mat33)  # (V,) world-to-camera rotation
    trans: wp.array(dtype=wp.vec3)  # (V,) world-to-camera translation
    intr: wp.array(dtype=wp.vec4)  # (V,) fx, fy, cx, cy in pixels
    scene: wp.array(dtype=wp.int32)  # (V,) index into the Scenes tables
    pose_start: wp.array(dtype=wp.int32)  # (V,) first row of this view's object poses
    pos: wp.array(dtype=wp.vec3)  # (P,) object centre, world
    orient: wp.array(dtype=wp.mat33)  # (P,) object-to-world rotation
    # Per view and pixel row (V, H): the objects whose image (the rect of its bounding
    # sphere, a pixel of margin) holds that row, as row_obj[first : first + count] =
    # (k, j0, j1): object k of the view, for columns [j0, j1) only, in k order.
    row_first: wp.array2d(dtype=wp.int32)
    row_count: wp.array2d(dtype=wp.int32)
    row_obj: wp.array(dtype=wp.vec3i)
    # Per view, light slot of its scene and pixel row (V, L, H): the objects whose
    # bounding sphere the row's hard shadow rays towards that (directional) light can
    # meet (batch._shadow_rects), as shadow_obj[first : first + count] = (k, j0, j1):
    # object k, for columns [j0, j1) only.
    shadow_first: wp.array3d(dtype=wp.int32)
    shadow_count: wp.array3d(dtype=wp.int32)
    shadow_obj: wp.array(dtype=wp.vec3i)
    # Deforming surfaces (factory.render.deform; docs/renderer.md "Deforming meshes"):
    # per posed object (P + 1,) its row of the D rows below, -1 for a rigid object; per
    # row the BVH of its vertices at this view (about the pose's centre), the first row
    # of its V vertices in the flat (sum V,) world points and unit smooth normals, and
    # their rest positions in the surface's own frame (its pattern's coordinates).
    deform: wp.array(dtype=wp.int32)
    deform_mesh: wp.array(dtype=wp.uint64)
    deform_first: wp.array(dtype=wp.int32)
    deform_points: wp.array(dtype=wp.vec3)
    deform_normals: wp.array(dtype=wp.vec3)
    deform_rest: wp.array(dtype=wp.vec3)


@wp.struct
class MeshData:
    """One mesh asset's per-vertex, per-face and texture arrays on a device (built once
    per device by :class:`factory.render.meshes.MeshCache`; V vertices, F faces, M
    materials, T textures). Arrays a mesh lacks hold one zero row (Warp wants arrays);
    ``materials`` says whether ``face_material`` means anything."""

    normals: wp.array(dtype=wp.vec3)  # (V,) unit vertex normals, unit frame
    uv: wp.array(dtype=wp.vec2)  # (V,) texture coordinates (v up), when has_uv
    has_uv: int  # 1: uv holds its UVs; 0: textures map triplanar
    face_material: wp.array(dtype=wp.int32)  # (F,) each face's material
    mat_colour: wp.array(dtype=wp.vec3)  # (M,) linear RGB
    mat_texture: wp.array(dtype=wp.int32)  # (M,) a texture index, or -1
    tex_first: wp.array(dtype=wp.int32)  # (T,) first row of its mip levels in level
    tex_count: wp.array(dtype=wp.int32)  # (T,) its mip levels
    level: wp.array(dtype=wp.vec3i)  # (Lv,) width, height, first texel (textures.PackedTextures)
    texels: wp.array(dtype=wp.uint8)  # RGBA sRGB bytes of every level


@wp.struct
class Scenes:
    """Per scene (S), per object (O), per surface (N) and per light (L)."""

    obj_start: wp.array(dtype=wp.int32)  # (S,)
    obj_count: wp.array(dtype=wp.int32)  # (S,)
    shape: wp.array(dtype=wp.int32)  # (O,) shape code (geometry.SPHERE ... MESH)
    dims: wp.array(dtype=wp.vec3)  # (O,) half-extents (analytic) or axis scales (mesh)
    radius: wp.array(dtype=wp.float32)  # (O,) bounding radius about the centre
    convex: wp.array(dtype=wp.int32)  # (O,) 1: cannot shadow itself
    mesh: wp.array(dtype=wp.uint64)  # (O,) wp.Mesh id of a mesh object (0 otherwise)
    mesh_slot: wp.array(dtype=wp.int32)  # (O,) its asset's row of mesh_data (-1: analytic)
    materials: wp.array(dtype=wp.int32)  # (O,) 1: its asset's materials give its colour
    mesh_data: wp.array(dtype=MeshData)  # the launch's mesh assets (meshes.MeshCache)
    srgb: wp.array(dtype=wp.float32)  # (256,) sRGB byte -> linear (textures.SRGB_DECODE)
    dfg: wp.array2d(dtype=wp.vec2)  # the split-sum table of factory.render.dfg (roughness, n.v)
    surf_start: wp.array(dtype=wp.int32)  # (S,)
    color: wp.array(dtype=wp.vec3)  # (N,) linear RGB base colour
    color2: wp.array(dtype=wp.vec3)  # (N,) the pattern's second colour
    texture: wp.array(dtype=wp.int32)  # (N,) pattern code (PLAIN ... TILES)
    texture_scale: wp.array(dtype=wp.float32)  # (N,) pattern units (cells, tiles, bricks) per metre
    pattern_seed: wp.array(dtype=wp.int32)  # (N,) shifts the pattern's noise
    roughness: wp.array(dtype=wp.float32)  # (N,) perceptual roughness where the pattern weight is 0
    roughness2: wp.array(dtype=wp.float32)  # (N,) and where it is 1
    metallic: wp.array(dtype=wp.float32)  # (N,) 0 dielectric .. 1 metal
    specular: wp.array(dtype=wp.float32)  # (N,) a dielectric's F0 / 0.08
    family: wp.array(dtype=wp.int32)  # (N,) material family id (factory.scene.materials; 0: none)
    instance: wp.array(dtype=wp.int32)  # (N,) instance id (0 sky, floor, walls)
    semantic: wp.array(dtype=wp.int32)  # (N,) class id
    light_start: wp.array(dtype=wp.int32)  # (S,)
    light_count: wp.array(dtype=wp.int32)  # (S,)
    light_kind: wp.array(dtype=wp.int32)  # (L,) DIRECTIONAL, POINT or AREA
    light_vec: wp.array(dtype=wp.vec3)  # (L,) unit direction to it, or its position
    light_intensity: wp.array(dtype=wp.vec3)  # (L,) intensity times its colour, per channel
    light_ref: wp.array(dtype=wp.float32)  # (L,) a point light's distance from the origin
    light_spread: wp.array(dtype=wp.float32)  # (L,) area half-width: metres (point), tan (directional)
    ambient: wp.array(dtype=wp.float32)  # (S,) a uniform white fill, on top of the environment
    env: EnvTables  # per scene: the backdrop's maps and irradiance (factory.render.environment)
    gain: wp.array(dtype=wp.vec3)  # (S,) exposure times white balance, per channel
    tone: wp.array(dtype=wp.int32)  # (S,) FILMIC or LINEAR
    room: wp.array(dtype=wp.vec4)  # (S,) has_room, half width, half depth, height


@wp.struct
class Quality:
    """A launch's shading options as the kernels read them: the config's
    ``render.shadow_rays``, ``ao_rays`` and ``ao_distance``
    (:class:`factory.scene.config.RenderSettings` documents and checks them; the
    renderer copies them in)."""

    shadow_rays: int  # rays per light per pixel (1: hard shadows from the centre)
    ao_rays: int  # ambient-occlusion rays per pixel (0: off)
    ao_distance: float  # metres an occluder counts within


@wp.struct
class Hit:
    """What the camera ray through one pixel centre meets, as
    :func:`factory.render.trace.trace` gives it (normals not yet turned to face the
    viewer). The primary pass writes one per job row and pixel, an array (R, H, W) of
    them: the shading pass reads a pixel's own, and a frame's flow those of its next
    frame's job. One record a pixel: one address to compute and one cache line to
    touch, where five arrays took five."""

    t: float  # metric depth along the ray (MISS: sky)
    code: int  # surface code (SKY, FLOOR, WALL, FIRST_OBJECT + k)
    n: wp.vec3  # shading normal, world, unit
    ng: wp.vec3  # geometric normal, world, unit
    local: wp.vec3  # hit point in the surface's own frame, metres
    face: int  # a mesh's triangle (-1: not a mesh)
    bary: wp.vec2  # its barycentrics (Warp's: hit = u p0 + v p1 + (1 - u - v) p2)
