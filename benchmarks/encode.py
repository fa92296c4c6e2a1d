"""What encoding a clip costs, per member: CPU ms and bytes per clip of each PNG writer
against today's, in one run, on the benchmark workloads of ``benchmarks/render.py``.

Writers (every one lossless; the byte-changing ones are checked to decode with Pillow,
the default PNG decoder of both WebDataset readers, to exactly the baseline's arrays):

* ``baseline``: the encoder before issue 23 (its expressions written out here): OpenCV's
  libpng, zlib level 1, libpng's adaptive filter per row, Z_RLE for the id members;
* ``opencv``: ``encode_sample(png="opencv")`` of this checkout (checked to give the
  baseline's bytes);
* ``opencv <strategy>``: OpenCV with one fixed row filter per member
  (``encode.FAST_FILTERS``) instead of the adaptive one, zlib level 1, the given zlib
  strategy (``ids RLE``: the default one, Z_RLE for the ids as today);
* ``libdeflate``: ``encode_sample(png="libdeflate")`` (factory.sample.png), the
  default writer (``output.png``);
* ``isal``, ``zlib-ng``: the same filters with ISA-L level 1 or zlib-ng level 1 (only
  where the ``isal`` / ``zlib-ng`` packages are installed; not dependencies);
* ``threads``: the ``opencv`` members in a thread pool (OpenCV releases the GIL):
  the same bytes; CPU and wall time of the whole sample, not per member.

Per member it prints CPU ms per clip (the best of ``--repeats``, ``time.process_time``,
which counts every thread) and kB per clip, then render + encode frames/s with each
writer, from the render time of the same clips in the same process. Pin it to a core
(``taskset -c 0``) for per-core figures; give it two to see what threads gain in wall
time.

    python benchmarks/encode.py [--size 256] [--frames 24] [--samples 2] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.render import workload  # noqa: E402
from factory.sample import encode as enc  # noqa: E402
from factory.sample import png as fast  # noqa: E402
from factory.sample.generate import generate_samples  # noqa: E402
from factory.scene.config import parse_config  # noqa: E402

MEMBERS = enc.IMAGE_MEMBERS
IDS = ("instance.png", "semantic.png")


def baseline_arrays(f) -> dict:
    """The filmstrips the encoder of before issue 23 handed OpenCV, with its expressions
    (lazy: each member's prep is timed with it)."""
    T, H, W = f.depth.shape

    def depth():
        code = np.minimum(np.rint(f.depth.astype(np.float64) * 1000.0), 65535)
        return np.where(f.depth > 0, np.maximum(code, 1), 0).astype(np.uint16).reshape(T * H, W)

    def normals():
        code = np.clip(np.rint((f.normals + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)
        return code[..., ::-1].reshape(T * H, W, 3)

    def flow():
        code = np.clip(np.rint(np.asarray(f.flow, np.float32) * np.float32(64.0)) + 32768, 1, 65535)
        code = np.where(f.flow_valid[..., None], code, 0).astype(np.uint16)
        return np.concatenate([code[..., 0], code[..., 1]], axis=-1).reshape(T * H, 2 * W)

    return {
        "rgb.png": lambda: f.rgb[..., ::-1].reshape(T * H, W, 3),
        "depth.png": depth,
        "instance.png": lambda: f.instance.reshape(T * H, W),
        "semantic.png": lambda: f.semantic.reshape(T * H, W),
        "normals.png": normals,
        "flow.png": flow,
    }


def _opencv(image: np.ndarray, params: list) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), params)
    assert ok
    return buf.tobytes()


def _baseline(f, name: str) -> bytes:
    """One member as the encoder of before issue 23 wrote it (its prep timed with it:
    the prep of depth, normals and flow is redone per member, as it was)."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    if name in IDS:
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    return _opencv(baseline_arrays(f)[name](), params)


def _bgr_arrays(f) -> dict:
    """This checkout's filmstrips in OpenCV's channel order (lazy, one per member)."""
    T, H, W = f.depth.shape
    return {
        "rgb.png": lambda: enc._bgr(f.rgb.reshape(T * H, W, 3)),
        "depth.png": lambda: enc.encode_depth(f.depth).reshape(T * H, W),
        "instance.png": lambda: f.instance.reshape(T * H, W),
        "semantic.png": lambda: f.semantic.reshape(T * H, W),
        "normals.png": lambda: enc._bgr(enc.encode_normals(f.normals).reshape(T * H, W, 3)),
        "flow.png": lambda: enc.encode_flow(f.flow, f.flow_valid).reshape(T * H, 2 * W),
    }


def _opencv_fixed(strategy: str):
    """OpenCV at zlib level 1 with the member's fixed filter and the given strategy."""
    S = {"ids RLE": None, "RLE": "RLE", "FILTERED": "FILTERED", "HUFFMAN_ONLY": "HUFFMAN_ONLY"}[strategy]

    def write(f, name: str) -> bytes:
        filt = {"sub": cv2.IMWRITE_PNG_FILTER_SUB, "up": cv2.IMWRITE_PNG_FILTER_UP}[enc.FAST_FILTERS[name]]
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, filt]
        s = S or ("RLE" if name in IDS else "DEFAULT")
        params += [cv2.IMWRITE_PNG_STRATEGY, getattr(cv2, f"IMWRITE_PNG_STRATEGY_{s}")]
        return _opencv(_bgr_arrays(f)[name](), params)

    return write


def _rgb_arrays(f) -> dict:
    """The filmstrips in PNG's channel order (what factory.sample.png takes)."""
    T, H, W = f.depth.shape
    return {
        **_bgr_arrays(f),
        "rgb.png": lambda: f.rgb.reshape(T * H, W, 3),
        "normals.png": lambda: enc.encode_normals(f.normals).reshape(T * H, W, 3),
    }


def _other_deflate(compress):
    """factory.sample.png's filters with another zlib-stream compressor."""

    def write(f, name: str) -> bytes:
        image = _rgb_arrays(f)[name]()
        grey = image.ndim == 2
        ihdr = struct.pack(
            ">IIBBBBB", image.shape[1], image.shape[0], 8 * image.dtype.itemsize, 0 if grey else 2, 0, 0, 0
        )
        chunks = [(b"IHDR", ihdr), (b"IDAT", compress(fast.filtered(image, enc.FAST_FILTERS[name]))), (b"IEND", b"")]
        return b"\x89PNG\r\n\x1a\n" + b"".join(
            struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(d, zlib.crc32(k))) for k, d in chunks
        )

    return write


def writers() -> dict:
    """name -> (f, member) -> bytes, and whether its bytes must equal the baseline's."""
    out = {
        "baseline": (_baseline, True),
        "opencv": (lambda f, name: enc._write_opencv(name, enc._images(f)[name]()), True),
        **{f"opencv {s}": (_opencv_fixed(s), False) for s in ("ids RLE", "RLE", "FILTERED", "HUFFMAN_ONLY")},
        "libdeflate": (lambda f, name: enc._write_fast(name, enc._images(f)[name]()), False),
    }
    try:
        from isal import isal_zlib

        out["isal"] = (_other_deflate(lambda b: isal_zlib.compress(b, 1)), False)
    except ImportError:
        pass
    try:
        from zlib_ng import zlib_ng

        out["zlib-ng"] = (_other_deflate(lambda b: zlib_ng.compress(b, 1)), False)
    except ImportError:
        pass
    return out


def per_member(clips, write, repeats: int) -> dict:
    """member -> (CPU ms per clip, kB per clip), the best of ``repeats``."""
    out = {}
    for name in MEMBERS:
        best, size = float("inf"), 0
        for _ in range(repeats):
            t = time.process_time()
            size = sum(len(write(c.frames, name)) for c in clips)
            best = min(best, time.process_time() - t)
        out[name] = (1e3 * best / len(clips), size / len(clips) / 1e3)
    return out


def threaded(clips, repeats: int, workers: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per clip of the ``opencv`` members encoded in ``workers`` threads."""
    best_cpu = best_wall = float("inf")
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(repeats):
            c, w = time.process_time(), time.perf_counter()
            for clip in clips:
                list(pool.map(lambda kv: enc._write_opencv(kv[0], kv[1]()), enc._images(clip.frames).items()))
            best_cpu, best_wall = min(best_cpu, time.process_time() - c), min(best_wall, time.perf_counter() - w)
    return 1e3 * best_cpu / len(clips), 1e3 * best_wall / len(clips)


def check(clips, name: str, write, same_bytes: bool) -> None:
    """Each member of the first clip decodes (Pillow) to the baseline's array; a writer
    that claims the baseline's bytes gives them."""
    f = clips[0].frames
    for member in MEMBERS:
        got, want = write(f, member), _baseline(f, member)
        if same_bytes:
            assert got == want, f"{name}: {member} bytes differ from the baseline's"
        a, b = (np.asarray(PIL.Image.open(io.BytesIO(x))) for x in (got, want))
        assert a.dtype == b.dtype and np.array_equal(a, b), f"{name}: {member} decodes differently"


def run(kind: str, args) -> None:
    cfg = parse_config(workload(kind, args.size, args.frames))
    generate_samples(cfg, [10_000])  # kernels, caches
    t = time.process_time()
    clips = generate_samples(cfg, range(args.samples))
    render_ms = 1e3 * (time.process_time() - t) / args.samples
    n = args.frames
    print(
        f"\n{kind} workload, {args.size}x{args.size}, {args.samples} clips of {n} frames; render {render_ms / n:.2f} ms/frame"
    )
    print(
        f"  {'writer':20s}"
        + "".join(f"{m[:-4]:>15s}" for m in MEMBERS)
        + f"{'total':>16s}   vs baseline   render+encode"
    )
    print(f"  {'':20s}" + f"{'ms    kB':>15s}" * (len(MEMBERS) + 1))
    base = None
    for name, (write, same) in writers().items():
        check(clips, name, write, same)
        got = per_member(clips, write, args.repeats)
        ms, kb = sum(v[0] for v in got.values()), sum(v[1] for v in got.values())
        base = base or (ms, kb)
        fps = 1e3 * n / (render_ms + ms)
        cells = "".join(f"{v[0]:7.1f} {v[1]:6.0f} " for v in got.values())
        print(f"  {name:20s}{cells}{ms:8.1f} {kb:6.0f}   {base[0] / ms:5.2f}x {kb / base[1]:5.2f}B   {fps:6.2f} f/s")
    for workers in (1, 2):
        cpu, wall = threaded(clips, args.repeats, workers)
        print(
            f"  threads={workers} (opencv, same bytes): CPU {cpu:.1f} ms/clip, wall {wall:.1f} ms/clip "
            f"(render+encode by wall {1e3 * n / (render_ms + wall):.2f} f/s)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--samples", type=int, default=2, help="clips per workload")
    ap.add_argument("--repeats", type=int, default=3, help="timings per member; the best is kept")
    ap.add_argument("--workloads", default="analytic,mesh")
    args = ap.parse_args()
    cv2.setNumThreads(1)  # per-core figures: cvtColor would otherwise use every core
    print(
        f"cores this process may use: {len(os.sched_getaffinity(0))} (of {os.cpu_count()}); CPU ms count every thread"
    )
    for kind in args.workloads.split(","):
        run(kind, args)


if __name__ == "__main__":
    main()
