"""Train a small monocular depth network on factory samples, on the CPU, in minutes.

Samples stream from the endpoint (by default an embedded ``factory serve`` this script
starts and stops) or from shards, into a PyTorch DataLoader with two workers
(:mod:`factory.client.torch_data`). The network is a four-layer encoder-decoder from RGB
to log-depth; the loss is the mean absolute error of log-depth over pixels that have a
surface (the sky has no depth). The held-out loss is measured on 16 clips the training
never sees (indices from 1,000,000 on, made in this process), at the start and the end.

    python examples/train_depth.py                          # embedded factory serve, 3 minutes
    python examples/train_depth.py --url http://127.0.0.1:8000 --token "$FACTORY_SERVE_TOKEN"
    python examples/train_depth.py --shards out/demo/dataset --minutes 1
    python examples/train_depth.py --steps 40               # stop after 40 steps (CI)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from factory.client.torch_data import EndpointDataset, ShardDataset, collate, to_tensors
from factory.sample.decode import decode_present
from factory.sample.generate import generate_members
from factory.scene.config import load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = range(1_000_000, 1_000_016)  # never asked for in training


def overrides(size: int) -> dict:
    """Small clips of the quickstart scenes: size x size pixels, 4 frames."""
    return {"render": {"width": size, "height": size, "frames": 4}, "output": {"mp4": False}}


class DepthNet(nn.Module):
    """RGB (B, 3, H, W) in [0, 1] -> log-depth (B, 1, H, W); H and W divisible by 4.
    Two strided convolutions see the context, the full-resolution input comes back in
    beside their upsampled features for the edges."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.encode = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, 1, 1),
            nn.ReLU(),
        )
        self.upsample = nn.Upsample(scale_factor=4, mode="bilinear")
        self.decode = nn.Sequential(nn.Conv2d(width + 3, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, 1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([self.upsample(self.encode(rgb)), rgb], dim=1))


def images(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames of a collated batch as images: RGB (B*T, 3, H, W) float in [0, 1] and
    depth (B*T, 1, H, W) metres."""
    rgb = batch["frames"].flatten(0, 1).float() / 255.0
    return rgb, batch["depth"].flatten(0, 1).unsqueeze(1)


def loss_of(net: nn.Module, rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """Mean |log-depth error| over the pixels with a surface."""
    surface = depth > 0
    return (net(rgb) - torch.log(depth.clamp_min(1e-3)))[surface].abs().mean()


def held_out(config) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out clips' images, made here (the same bytes any source would give)."""
    samples = []
    for i in HELD_OUT:
        arrays = decode_present(generate_members(config, i, only=("rgb.png", "depth.png")))
        samples.append(to_tensors(arrays, arrays.pop("meta")))
    return images(collate(samples))


def serve(token: str | None) -> tuple[subprocess.Popen, str]:
    """Start ``factory serve`` (embedded Ray) on a free port; its process and URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **({"FACTORY_SERVE_TOKEN": token} if token else {})}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "factory"), "serve", "--port", str(port), "--max-replicas", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    from factory.client import Client

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            Client(url, retries=0, timeout=2).health()
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None:
                raise SystemExit(f"factory serve exited with {proc.returncode}") from None
            time.sleep(1.0)
    raise SystemExit("factory serve did not come up in 300 s")


def train(args) -> tuple[float, float]:
    """Train as ``args`` say; returns the held-out loss at the start and at the end."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # the DataLoader workers and the server have the other core
    if args.shards:
        from factory.dataset.reader import open_dataset

        config = parse_config(open_dataset(args.shards).manifest["config"])
        data = ShardDataset(args.shards, modalities=["rgb", "depth"], shuffle=True, seed=args.seed)
    else:
        from factory.service.request import merge  # what the endpoint does to a request's config

        config = parse_config(merge(load_config(ROOT / "configs" / "quickstart.yaml").resolved(), overrides(args.size)))
        data = EndpointDataset(
            args.url,
            count=1_000_000,
            token=args.token,
            scenario="quickstart",
            overrides=overrides(args.size),
            modalities=["rgb", "depth"],
            per_request=4,
        )
    test_rgb, test_depth = held_out(config)
    net = DepthNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    with torch.no_grad():
        start = float(loss_of(net, test_rgb, test_depth))
        log_depth = torch.log(test_depth[test_depth > 0])
        constant = float((log_depth - log_depth.median()).abs().mean())
    print(
        f"held-out loss at the start: {start:.4f} (mean |log-depth error|, {len(test_rgb)} images; "
        f"the best constant guess scores {constant:.4f})",
        flush=True,
    )
    t0, step, epoch = time.monotonic(), 0, 0
    while step < args.steps and time.monotonic() - t0 < 60 * args.minutes:
        if args.shards:
            data.set_epoch(epoch)
        for batch in DataLoader(data, batch_size=args.batch, num_workers=2, collate_fn=collate):
            rgb, depth = images(batch)
            loss = loss_of(net, rgb, depth)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0:
                print(f"step {step:4d}  {time.monotonic() - t0:5.0f} s  train loss {loss.item():.4f}", flush=True)
            if step >= args.steps or time.monotonic() - t0 >= 60 * args.minutes:
                break
        epoch += 1
    with torch.no_grad():
        end = float(loss_of(net, test_rgb, test_depth))
    print(
        f"held-out loss at the end:   {end:.4f} after {step} steps ({step * args.batch} clips) in "
        f"{time.monotonic() - t0:.0f} s",
        flush=True,
    )
    return start, end


def main(argv: list[str] | None = None) -> tuple[float, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an endpoint already running (default: start an embedded factory serve)")
    ap.add_argument("--token", default=os.environ.get("FACTORY_SERVE_TOKEN"), help="its bearer token")
    ap.add_argument("--shards", help="train from this dataset's shards instead of the endpoint")
    ap.add_argument("--minutes", type=float, default=3.0, help="stop after this long (default 3)")
    ap.add_argument("--steps", type=int, default=10**9, help="stop after this many steps")
    ap.add_argument("--batch", type=int, default=4, help="clips per step (4 frames each)")
    ap.add_argument("--size", type=int, default=64, help="image size, pixels (a multiple of 4)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    proc = None
    if not args.url and not args.shards:
        proc, args.url = serve(args.token)
        print(f"started factory serve at {args.url}", flush=True)
    try:
        return train(args)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
