"""Preview pictures: the contact sheet's layout, the boxes drawn where meta says,
and the animated GIF."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from factory.sample.preview import animated_preview, contact_sheet, id_colours, sheet_layout
from tests.helpers.clips import synthetic_frames, synthetic_meta

GREY = 100


def grey_frames(T=3, H=20, W=30):
    f = synthetic_frames(T, H, W)
    f.rgb[:] = GREY
    return f


def panel(sheet, name, H, W):
    y, x = sheet_layout(H, W)[1][name]
    return sheet[y : y + H, x : x + W]


def test_sheet_shape_dtype_and_panels():
    f = synthetic_frames(4, 24, 32)
    sheet = contact_sheet(f, synthetic_meta(f), 2)
    assert sheet.dtype == np.uint8 and sheet.shape == (*sheet_layout(24, 32)[0], 3)
    np.testing.assert_array_equal(panel(sheet, "rgb", 24, 32), f.rgb[2])
    sky = f.depth[2] == 0
    assert (panel(sheet, "depth", 24, 32)[sky] == 0).all() and (panel(sheet, "depth", 24, 32)[~sky] > 0).any(-1).all()
    assert (panel(sheet, "flow", 24, 32)[~f.flow_valid[2]] == 0).all()
    # Instance colours: the hash colour of each id, the same id the same colour.
    inst = panel(sheet, "instance", 24, 32)
    lut = id_colours(65536)
    np.testing.assert_array_equal(inst, lut[f.instance[2]])
    assert (inst[f.instance[2] == 0] == 0).all()


def test_boxes_drawn_where_meta_says():
    T, H, W = 3, 20, 30
    f = grey_frames(T, H, W)
    box = [4, 5, 12, 15]  # x0, y0, x1, y1: pixel edges, x1/y1 exclusive
    meta = {
        "objects": [
            {"id": 7, "category": "box", "bbox_visible": [None, box, [0, 0, 2, 2]]},
            {"id": 9, "category": "box", "bbox_visible": [None, None, None]},  # never visible
            {"id": 11, "category": "box"},  # no boxes at all
        ]
    }
    boxes = panel(contact_sheet(f, meta, 1), "boxes", H, W)
    colour = id_colours(8)[7]
    drawn = (boxes != GREY).any(-1)
    # Outline on the first and last covered rows/columns: columns 4..11, rows 5..14.
    expected = np.zeros((H, W), bool)
    expected[5, 4:12] = expected[14, 4:12] = True
    expected[5:15, 4] = expected[5:15, 11] = True
    np.testing.assert_array_equal(drawn, expected)
    assert (boxes[expected] == colour).all()
    # Frame 0 has no visible box: the panel is the plain RGB.
    np.testing.assert_array_equal(panel(contact_sheet(f, meta, 0), "boxes", H, W), f.rgb[0])


@pytest.mark.parametrize("meta", [{}, {"objects": None}, {"objects": [{"id": 3}]}, {"objects": [{"bbox_visible": []}]}])
def test_sheet_tolerates_sparse_meta(meta):
    f = grey_frames()
    sheet = contact_sheet(f, meta, 0)
    np.testing.assert_array_equal(panel(sheet, "boxes", 20, 30), f.rgb[0])


def test_frame_out_of_range():
    f = grey_frames(T=2)
    with pytest.raises(IndexError, match="2 frames"):
        contact_sheet(f, {}, 2)


def test_animated_preview_is_a_gif_of_every_frame():
    f = synthetic_frames(5, 16, 20)
    data = animated_preview(f, {**synthetic_meta(f), "fps": 10})
    assert data == animated_preview(f, {**synthetic_meta(f), "fps": 10})  # deterministic
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "GIF" and im.n_frames == 5
        h, w = sheet_layout(16, 20)[0]
        assert im.size == (w, h)
        assert im.info["duration"] == 100


def test_the_third_row_shows_the_optional_layers_and_tracks():
    from factory.render.tracks import OCCLUDED, VISIBLE, Tracks

    T, H, W = 3, 24, 32
    f = grey_frames(T, H, W)
    assert sheet_layout(H, W)[0] == contact_sheet(f, {}, 0).shape[:2]  # no layers: two rows
    f.object_coords = np.full((T, H, W, 3), np.nan, np.float32)
    f.object_coords[:, 5:10, 5:10] = (0.25, 0.5, 1.0)
    n = 2
    uv = np.zeros((T, n, 2), np.float32)
    uv[:, 0] = (20.5, 12.5)
    uv[:, 1] = (8.5, 18.5)
    state = np.array([[VISIBLE, OCCLUDED]] * T, np.uint8)
    zeros = np.zeros((T, n, 3), np.float32)
    tracks = Tracks(
        np.zeros(n, np.int32),
        uv[0],
        np.zeros(n, np.int32),
        uv,
        zeros[..., 0],
        zeros,
        zeros,
        state,
        np.ones(4, np.float32),
    )
    sheet = contact_sheet(f, {}, 1, tracks)
    assert sheet.shape[:2] == sheet_layout(H, W, True)[0] and sheet.shape[0] > sheet_layout(H, W)[0][0]
    y, x = sheet_layout(H, W, True)[1]["object coords"]
    coords = sheet[y : y + H, x : x + W]
    np.testing.assert_array_equal(coords[7, 7], [63, 127, 255])
    assert not coords[0, 0].any()  # off objects: black
    y, x = sheet_layout(H, W, True)[1]["tracks"]
    drawn = sheet[y : y + H, x : x + W]
    colour = id_colours(65536)[1]
    np.testing.assert_array_equal(drawn[12, 20], colour)  # a visible point: a filled dot
    assert (drawn[18, 8] == GREY // 2).all()  # an occluded one: hollow, its centre untouched
    assert (drawn[18, 10] != GREY // 2).any()  # its ring
