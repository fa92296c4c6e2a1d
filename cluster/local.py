"""A local multi-node Ray cluster on one machine: a head and N worker nodes.

    python cluster/local.py up   [--state out/cluster] [--workers 2] [--cpus-per-worker 1] ...
    python cluster/local.py status [--state out/cluster]
    python cluster/local.py down [--state out/cluster]

(``make cluster-up`` / ``make cluster-down`` call these.) It mirrors ``cluster/aws.yaml``:
the head has 0 CPUs, so every task and actor runs on a worker node, and the job driver
and the dashboard run on the head.

Each node is one ``ray start --block`` process in its own session, with its own ports
(free ones, or ``--port`` / ``--dashboard-port``) and its own short temp dir under
``/tmp`` (Ray puts unix sockets there, and their paths must stay under ~107 bytes). The
state dir holds one pid file per node, ``cluster.json`` (ports, temp dir, pids),
``env`` (the variables to source before ``ray job submit``), the cluster's auth token
(Ray's token authentication, on for every node) and each ``ray start`` output.
``down`` stops exactly those processes: SIGTERM to each ``ray start --block`` (which
stops the Ray processes it started), then, after a grace period, SIGKILL to whatever of
this cluster still runs (see ``processes_of``). It never runs ``ray stop``, which would
stop every Ray on the machine.

Standard library only, so ``down`` works even where Ray cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_STATE = "out/cluster"
WORKER_RETRIES = 2  # fresh starts of a worker node whose `ray start` exits while coming up
HOST = "127.0.0.1"


class ClusterError(Exception):
    """A local cluster could not be started, found or stopped; the message says why."""


class NodeExited(ClusterError):
    """A node's ``ray start --block`` exited while the cluster was coming up."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a node's ``ray start`` output, indented, for an error."""
    try:
        text = path.read_text(errors="replace").rstrip().splitlines()[-lines:]
    except OSError as err:
        return f"  (its log could not be read: {err})"
    return "\n".join("  | " + line for line in text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ray_command() -> str:
    """The ``ray`` next to this Python (the project's virtualenv), else the one on PATH."""
    here = Path(sys.executable).parent / "ray"
    if here.exists():
        return str(here)
    found = shutil.which("ray")
    if not found:
        raise ClusterError("the `ray` command is not installed (pip install -e . in this Python's environment)")
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


MARK = "FACTORY_LOCAL_CLUSTER"  # in every node's environment: this cluster's temp dir


def _processes(temp_dir: str | None = None) -> dict[int, tuple[int, bytes, bool]]:
    """PID -> (process group, command line, whether its environment holds this cluster's
    MARK) of every process: /proc on Linux, ``ps`` elsewhere (no environments there)."""
    if not Path("/proc/self/stat").exists():
        ps = subprocess.run(["ps", "-ax", "-ww", "-o", "pid=,pgid=,command="], capture_output=True, check=True)
        out = {}
        for line in ps.stdout.splitlines():
            pid, pgid, cmd = (line.split(None, 2) + [b""])[:3]
            out[int(pid)] = (int(pgid), cmd, False)
        return out
    mark = f"{MARK}={temp_dir}\0".encode() if temp_dir else None
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                pgid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except (OSError, IndexError, ValueError):
                continue
            try:
                marked = bool(mark) and mark in (entry / "environ").read_bytes()
            except OSError:
                marked = False
            out[int(entry.name)] = (pgid, cmd, marked)
    return out


def is_node(pid: int, temp_dir: str | None) -> bool:
    """Whether ``pid`` still is one of this cluster's ``ray start --block`` processes
    (and not another process that reuses the number, e.g. after a reboot)."""
    if not alive(pid):
        return False
    cmd = _processes().get(pid, (0, b"", False))[1]
    return b"ray" in cmd and b" start " in cmd and (temp_dir.encode() in cmd if temp_dir else b"--block" in cmd)


def processes_of(info: dict) -> list[int]:
    """PIDs of the running processes of the cluster that ``info`` (cluster.json)
    describes: every process whose environment holds its MARK (Linux) or whose command
    line names its temp dir, and the rest of the process groups those are in when the
    group is a node's (each ``ray start`` leads one, and Ray's workers, agents and
    dashboard modules stay in it)."""
    temp_dir = info.get("temp_dir")
    procs = _processes(temp_dir)
    needle = temp_dir.encode() if temp_dir else None
    ours = {pid for pid, (_, cmd, marked) in procs.items() if marked or (needle and needle in cmd)}
    leaders = {n["pid"] for n in [info.get("head") or {}, *info.get("workers", [])] if n.get("pid")}
    groups = {procs[pid][0] for pid in ours} & leaders
    ours |= {pid for pid, (pg, _, _) in procs.items() if pg in groups}
    return sorted(pid for pid in ours if pid != os.getpid() and alive(pid))


def _http(url: str, token: str | None, timeout: float = 3.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _wait(what: str, check, seconds: float, procs: dict[str, subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                log = logs / (name + ".log")
                raise NodeExited(
                    name,
                    f"{name} exited with status {proc.returncode} while waiting for {what}; "
                    f"see {log}; it ends:\n{log_tail(log)}",
                )
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ClusterError(
                f"timed out after {seconds:.0f} s waiting for {what}; see the logs in {logs} "
                "and the nodes' session_latest/logs"
            )
        time.sleep(0.5)


def alive_nodes(dashboard: str, token: str) -> list[dict]:
    """The ALIVE nodes, from the dashboard's state API (what ``ray list nodes`` reads)."""
    status, body = _http(f"{dashboard}/api/v0/nodes?limit=1000&detail=1", token, timeout=10)
    if status != 200:
        raise OSError(f"state API answered {status}")
    nodes = json.loads(body)["data"]["result"]["result"]
    return [n for n in nodes if n.get("state") == "ALIVE"]


def load_state(state: Path) -> dict | None:
    path = state / "cluster.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def node_env(token_path: Path) -> dict[str, str]:
    """The environment of every node: no RAY_* from the caller's shell, token
    authentication with this cluster's token, and this Python first on PATH, so a job's
    ``python`` is the one the project is installed in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))
    return env


def node_ports(agent_port: int | None = None) -> list[str]:
    """Per-node ports that default to fixed numbers (or collide when two nodes share a
    machine): all free ones. Worker processes get OS-chosen ports (0/0)."""
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={agent_port or free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        "--min-worker-port=0",
        "--max-worker-port=0",
    ]


def up(args: argparse.Namespace) -> int:
    state = Path(args.state).resolve()
    existing = load_state(state)
    if existing is not None:
        pids = [existing["head"]["pid"], *(w["pid"] for w in existing["workers"])]
        if all(is_node(p, existing["temp_dir"]) for p in pids):
            print(f"a local Ray cluster is already up (state in {state}):")
            _print_usage(existing, state)
            return 0
        raise ClusterError(
            f"{state} holds a cluster that is not fully running; run `python cluster/local.py down "
            f"--state {args.state}` (make cluster-down) first"
        )
    state.mkdir(parents=True, exist_ok=True)
    ray = ray_command()
    token_path = state / "auth_token"
    token = secrets.token_hex(32)
    token_path.write_text(token)
    token_path.chmod(0o600)
    env = node_env(token_path)
    # Short: Ray's unix sockets live under it (<temp>/<node>/session_<date>_<pid>/sockets/...).
    temp_dir = tempfile.mkdtemp(prefix="rdc", dir="/tmp")
    gcs_port = args.port or free_port()
    dashboard_port = args.dashboard_port or free_port()
    dashboard = f"http://{HOST}:{dashboard_port}"
    object_store = str(args.object_store_mb * 1024 * 1024)
    info = {
        "state": str(state),
        "temp_dir": temp_dir,
        "gcs_address": f"{HOST}:{gcs_port}",
        "dashboard": dashboard,
        "token_path": str(token_path),
        "head": {},
        "workers": [],
    }
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, short: str, command: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        node_temp = os.path.join(temp_dir, short)
        with open(state / f"{name}.log", "ab") as log:  # a restarted worker's try follows the one before
            proc = subprocess.Popen(
                [
                    ray,
                    "start",
                    *command,
                    f"--temp-dir={node_temp}",
                    f"--object-store-memory={object_store}",
                    "--disable-usage-stats",
                    "--block",
                ],
                env={**env, MARK: temp_dir, **(extra_env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # leads its own process group; a Ctrl-C in this shell does not reach it
            )
        (state / f"{name}.pid").write_text(f"{proc.pid}\n")
        procs[name] = proc
        return proc

    try:
        agent_port = free_port()
        head = start(
            "head",
            "h",
            [
                "--head",
                f"--port={gcs_port}",
                "--num-cpus=0",
                "--num-gpus=0",
                "--include-dashboard=true",
                f"--dashboard-host={HOST}",
                f"--dashboard-port={dashboard_port}",
                f"--ray-client-server-port={args.client_port or free_port()}",
                *node_ports(agent_port),
            ],
            {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},
        )  # the head never finishes draining: SIGTERM waited 30 s
        info["head"] = {"pid": head.pid, "temp_dir": os.path.join(temp_dir, "h"), "log": str(state / "head.log")}
        _save(state, info)
        _wait(
            "the head's dashboard",
            lambda: _http(f"{dashboard}/api/version", None)[0] in (200, 401, 403),
            args.timeout,
            procs,
            state,
        )
        resources = ["--num-cpus", str(args.cpus_per_worker), "--num-gpus", str(args.gpus_per_worker)]

        def start_worker(i: int) -> None:
            # node_ports() is called anew each time: a retry gets fresh ports
            worker = start(f"worker-{i}", f"w{i}", [f"--address={HOST}:{gcs_port}", *resources, *node_ports()])
            entry = {
                "pid": worker.pid,
                "temp_dir": os.path.join(temp_dir, f"w{i}"),
                "log": str(state / f"worker-{i}.log"),
            }
            info["workers"] = [w for w in info["workers"] if w["log"] != entry["log"]] + [entry]
            _save(state, info)

        for i in range(1, args.workers + 1):
            start_worker(i)
        retries = WORKER_RETRIES
        while True:
            try:
                _wait(
                    f"{args.workers + 1} nodes to be alive",
                    lambda: len(alive_nodes(dashboard, token)) == args.workers + 1,
                    args.timeout,
                    procs,
                    state,
                )
                break
            except NodeExited as err:
                # A free port can be taken by another process between free_port() and the
                # raylet's bind (other Rays on the machine, parallel tests): the raylet
                # dies and `ray start --block` exits 1. A worker gets fresh ports and
                # another try; the head's ports are the cluster's address, so it does not.
                if not err.name.startswith("worker-") or retries == 0:
                    raise
                retries -= 1
                print(f"{err}\nstarting {err.name} again with fresh ports", file=sys.stderr)
                del procs[err.name]
                start_worker(int(err.name.split("-")[1]))
        # `ray job submit` goes to the head's job agent, which registers a little after the node
        _wait(
            "the head's job agent",
            lambda: _http(f"http://{HOST}:{agent_port}/api/jobs/", token)[0] < 500,
            args.timeout,
            procs,
            state,
        )
    except BaseException:
        _stop(state, info, quiet=True, keep_temp=True)  # Ray's own logs stay, to see what went wrong
        raise
    (state / "env").write_text(
        f"export RAY_ADDRESS={dashboard}\nexport RAY_AUTH_MODE=token\nexport RAY_AUTH_TOKEN_PATH={token_path}\n"
    )
    print(
        f"local Ray cluster up: a head (0 CPUs) and {args.workers} worker node(s) "
        f"({args.cpus_per_worker} CPU, {args.gpus_per_worker} GPU each)"
    )
    _print_usage(info, state)
    return 0


def _save(state: Path, info: dict) -> None:
    tmp = state / "cluster.json.tmp"
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(state / "cluster.json")


def _print_usage(info: dict, state: Path) -> None:
    print(f"  dashboard:    {info['dashboard']}")
    print(f"  RAY_ADDRESS:  {info['dashboard']}   (ray job submit; the GCS is {info['gcs_address']})")
    print(f"  logs:         {info['temp_dir']}/<h|w1|w2...>/session_latest/logs")
    print("submit a job:")
    print(f"  . {state}/env   # RAY_ADDRESS, and this cluster's token (RAY_AUTH_MODE, RAY_AUTH_TOKEN_PATH)")
    print("  ray job submit --working-dir . -- python -m jobs.generate configs/quickstart.yaml \\")
    print("      --out $PWD/out/cluster-demo --samples 16 --shard-size 8")
    print(f"stop it:        make cluster-down   (python cluster/local.py down --state {state})")


def _stop(state: Path, info: dict, quiet: bool = False, grace: float = 30.0, keep_temp: bool = False) -> list[int]:
    """Stop this cluster's nodes: SIGTERM to the workers' ``ray start --block``
    processes, then to the head's (each stops the Ray processes it started); SIGKILL to
    whatever of this cluster still runs after ``grace`` seconds. Returns the PIDs that
    had to be killed."""
    workers = [w["pid"] for w in info.get("workers", []) if w.get("pid")]
    head = [info["head"]["pid"]] if (info.get("head") or {}).get("pid") else []
    temp_dir = info.get("temp_dir")
    workers = [p for p in workers if is_node(p, temp_dir)]
    head = [p for p in head if is_node(p, temp_dir)]
    deadline = time.monotonic() + grace
    for group in (workers, head):
        for pid in group:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for pid in group:
            _reap(pid, max(1.0, deadline - time.monotonic()))
    killed = []
    while True:
        left = sorted({p for p in workers + head if alive(p)} | set(processes_of(info)))
        if not left:
            break
        if time.monotonic() > deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            for pid in left:
                _reap(pid, 5)
            break
        time.sleep(0.5)
    if temp_dir and not keep_temp:
        shutil.rmtree(temp_dir, ignore_errors=True)
    for name in ["cluster.json", "env", "auth_token", *(p.name for p in state.glob("*.pid"))]:
        (state / name).unlink(missing_ok=True)
    if killed and not quiet:
        print(f"killed {len(killed)} process(es) still running {grace:.0f} s after SIGTERM: {killed}", file=sys.stderr)
    return killed


def _reap(pid: int, seconds: float) -> None:
    """Wait up to ``seconds`` for ``pid`` to exit (and reap it if it is our child)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:  # not our child: wait until it is gone
            if not alive(pid):
                return
        time.sleep(0.2)


def down(args: argparse.Namespace) -> int:
    state = Path(args.state).resolve()
    info = load_state(state)
    if info is None:
        pid_files = list(state.glob("*.pid"))
        if not pid_files:
            print(f"no local Ray cluster recorded in {state}; nothing to stop")
            return 0
        info = {"workers": [{"pid": int(p.read_text())} for p in pid_files]}
    _stop(state, info)
    print(f"local Ray cluster stopped (state in {state})")
    return 0


def status(args: argparse.Namespace) -> int:
    state = Path(args.state).resolve()
    info = load_state(state)
    if info is None:
        print(f"no local Ray cluster recorded in {state}")
        return 1
    nodes = [("head", info["head"]), *((f"worker-{i}", w) for i, w in enumerate(info["workers"], 1))]
    for name, node in nodes:
        running = is_node(node["pid"], info["temp_dir"])
        print(f"{name:9} pid {node['pid']:>7}  {'running' if running else 'NOT RUNNING'}")
    token = Path(info["token_path"]).read_text().strip()
    try:
        print(f"alive nodes (state API): {len(alive_nodes(info['dashboard'], token))}")
    except (OSError, ValueError, KeyError) as err:
        print(f"the dashboard at {info['dashboard']} does not answer: {err}")
        return 1
    _print_usage(info, state)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python cluster/local.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start a head and worker nodes; print the addresses")
    p_down = sub.add_parser("down", help="stop exactly the nodes that `up` started")
    p_status = sub.add_parser("status", help="the nodes' processes and what the dashboard sees")
    for p in (p_up, p_down, p_status):
        p.add_argument("--state", default=DEFAULT_STATE, help=f"state dir (default {DEFAULT_STATE})")
    p_up.add_argument("--workers", type=int, default=2, help="worker nodes (default 2)")
    p_up.add_argument("--cpus-per-worker", type=int, default=1, help="logical CPUs of each worker node (default 1)")
    p_up.add_argument(
        "--gpus-per-worker",
        type=int,
        default=0,
        help="logical GPUs of each worker node, to try --gpus-per-worker scheduling (default 0)",
    )
    p_up.add_argument("--object-store-mb", type=int, default=512, help="object store per node, MiB (default 512)")
    p_up.add_argument("--port", type=int, default=0, help="the head's GCS port (default: a free one)")
    p_up.add_argument("--dashboard-port", type=int, default=0, help="dashboard port (default: a free one)")
    p_up.add_argument("--client-port", type=int, default=0, help="Ray Client server port (default: a free one)")
    p_up.add_argument("--timeout", type=float, default=120, help="seconds to wait for the nodes (default 120)")
    args = parser.parse_args(argv)
    if args.command == "up" and (args.workers < 1 or args.cpus_per_worker < 1 or args.gpus_per_worker < 0):
        parser.error("--workers and --cpus-per-worker must be >= 1, --gpus-per-worker >= 0")
    try:
        return {"up": up, "down": down, "status": status}[args.command](args)
    except ClusterError as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
