"""Python peers of the a4mer runtime: the same model in PyTorch eager and in onnxruntime.

  peers.py parity --fixture F.json [--fixture G.json ...] [--model M]
      Run both peers on each fixture's input window (a fixture is the JSON of
      `a4mer forecast --json`) and check every output against ours. Exit 0 only if all pass.

  peers.py bench --model M --data F.bvh [--frames 1200] [--json]
      Per-frame cost as a Python ROS node would pay it: for every new frame, the whole
      observation window (config obs_frames, 60) is recomputed from scratch (no streaming
      cache), single-threaded, over real mocap imported by `a4mer forecast`.

Tolerance (parity): an output value `a` (peer) matches ours `b` when
    |a - b| <= 1e-4 * max(1, |b|)
i.e. relative 1e-4 for values of magnitude >= 1 and absolute 1e-4 (0.1 mm, 1e-4 probability)
below. Discrete outputs (joint validity, motif id, segment boundaries) must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

RTOL = 1e-4


def _single_thread():
    # Before torch or onnxruntime spin up their pools: one thread, as a ROS node callback gets.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process


def load_peers(model_path: str, onnx_dir: Path):
    import a4m
    from export_onnx import OrtRunner, export
    from model import A4merPeer, TorchRunner

    art = a4m.load(model_path)
    s, h = export(art, onnx_dir)
    return art, A4merPeer(art, TorchRunner(art)), A4merPeer(art, OrtRunner(s, h, threads=1))


def fixture_input(fx: dict):
    import numpy as np

    frames = fx["input"]
    joints = np.array(
        [[[np.nan if c is None else c for c in p] for p in f["joints_in_world"]] for f in frames], dtype=np.float32
    )
    valid = np.array([f["valid"] for f in frames], dtype=bool)
    stamps = np.array([f["stamp_ns"] for f in frames], dtype=np.int64)
    return joints, valid, stamps


class Check:
    """Collects per-output max differences and failures for one peer on one fixture."""

    def __init__(self, peer: str, fixture: str):
        self.peer, self.fixture = peer, fixture
        self.rows: list[tuple[str, int, float, float, bool]] = []
        self.failures: list[str] = []

    def close(self, name: str, got, want):
        import numpy as np

        a = np.asarray(got, dtype=np.float64).reshape(-1)
        # Ours are f32 printed as their shortest round-trip decimal: read them back as f32.
        b = np.array(
            [np.nan if v is None else v for v in np.asarray(want, dtype=object).reshape(-1)], dtype=np.float32
        ).astype(np.float64)
        if a.shape != b.shape:
            self.failures.append(f"{name}: shape {a.shape} vs ours {b.shape}")
            self.rows.append((name, b.size, float("inf"), float("inf"), False))
            return
        nan_a, nan_b = ~np.isfinite(a), ~np.isfinite(b)
        if (nan_a != nan_b).any():
            i = int(np.argmax(nan_a != nan_b))
            self.failures.append(f"{name}[{i}]: finite in one and not the other ({a[i]} vs ours {b[i]})")
        ok = ~nan_b
        diff = np.abs(a[ok] - b[ok])
        scale = np.maximum(1.0, np.abs(b[ok]))
        max_abs = float(diff.max()) if diff.size else 0.0
        max_rel = float((diff / scale).max()) if diff.size else 0.0
        passed = bool((diff <= RTOL * scale).all()) and not (nan_a != nan_b).any()
        if not passed and diff.size:
            i = int(np.argmax(diff / scale))
            self.failures.append(
                f"{name}: element {i}: {float(a[ok][i])!r} vs ours {float(b[ok][i])!r} (|diff| {diff[i]:.3g} > {RTOL} * {scale[i]:.3g})"
            )
        self.rows.append((name, int(b.size), max_abs, max_rel, passed))

    def equal(self, name: str, got, want):
        passed = got == want
        if not passed:
            self.failures.append(f"{name}: {got!r} vs ours {want!r}")
        self.rows.append((name, 1 if not isinstance(want, list) else len(want), 0.0 if passed else float("inf"), 0.0 if passed else float("inf"), passed))


def check_fixture(peer_name: str, peer, fx: dict, fixture: str) -> Check:
    import numpy as np

    joints, valid, stamps = fixture_input(fx)
    c = Check(peer_name, fixture)
    out = peer.forecast(joints, valid, stamps)
    ours = fx["output"]
    dbg = fx["debug"]
    p = out.prep
    # Intermediate values first: they say where a disagreement starts.
    c.close("debug.norm_feats", p.norm_feats, dbg["norm_feats"])
    c.close("debug.kin_last", p.kin_last, dbg["kin_last"])
    c.close("debug.yaw_rad", p.raw.yaw, dbg["yaw_rad"])
    c.close("debug.surprise", p.surprise, dbg["surprise"])
    c.equal("debug.segments", [list(r) for r in p.closed] + [list(p.open)], dbg["closed"] + [dbg["open"]])
    c.close("steps.dt_s", out.dt_s, [s["dt_s"] for s in ours["steps"]])
    c.close("steps.joints_in_world", out.joints, [s["joints_in_world"] for s in ours["steps"]])
    c.close("steps.spread_m", out.spread_m, [s["spread_m"] for s in ours["steps"]])
    c.equal("valid", [bool(v) for v in out.valid], ours["valid"])
    mine = out.motif_now
    theirs = ours["motif_now"]
    c.equal("motif_now.id", None if mine is None else mine[0], None if theirs is None else theirs["id"])
    if mine is not None and theirs is not None:
        c.close("motif_now.confidence", [mine[1]], [theirs["confidence"]])
    c.close("motif_next", out.motif_next, ours["motif_next"])
    # How close the segmentation came to flipping: the smallest |surprise - tau|.
    s = np.asarray(dbg["surprise"], dtype=np.float64)[2:]
    c.tau_margin = float(np.min(np.abs(s - dbg["tau"]))) if s.size else float("inf")
    return c


def cmd_parity(args) -> int:
    _single_thread()
    fixtures = []
    for f in args.fixture:
        try:
            fixtures.append((f, json.loads(Path(f).read_text())))
        except (OSError, json.JSONDecodeError) as e:
            print(f"peers parity: error: {f}: {e}", file=sys.stderr)
            return 2
    model = args.model or fixtures[0][1]["model"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _, torch_peer, ort_peer = load_peers(model, Path(tmp))
        except Exception as e:  # noqa: BLE001 - report any load/export failure by file
            print(f"peers parity: error: {model}: {e}", file=sys.stderr)
            return 2
        checks = []
        for name, fx in fixtures:
            for peer_name, peer in (("pytorch", torch_peer), ("onnxruntime", ort_peer)):
                try:
                    checks.append(check_fixture(peer_name, peer, fx, name))
                except Exception as e:  # noqa: BLE001
                    c = Check(peer_name, name)
                    c.failures.append(f"peer raised {type(e).__name__}: {e}")
                    checks.append(c)
    # Per output, per peer: the maxima over every fixture.
    summary: dict = {}
    for c in checks:
        for name, n, mabs, mrel, ok in c.rows:
            s = summary.setdefault((c.peer, name), [0, 0.0, 0.0, True])
            s[0] += n
            s[1] = max(s[1], mabs)
            s[2] = max(s[2], mrel)
            s[3] = s[3] and ok
    failed = [c for c in checks if c.failures]
    if args.json:
        print(
            json.dumps(
                {
                    "tolerance": f"|a-b| <= {RTOL} * max(1, |b|)",
                    "fixtures": [n for n, _ in fixtures],
                    "outputs": [
                        {"peer": p, "output": o, "values": v[0], "max_abs": v[1], "max_rel": v[2], "pass": v[3]}
                        for (p, o), v in summary.items()
                    ],
                    "min_tau_margin": min((getattr(c, "tau_margin", float("inf")) for c in checks), default=None),
                    "failures": [f"{c.peer} {c.fixture}: {m}" for c in failed for m in c.failures],
                    "pass": not failed,
                }
            )
        )
    else:
        print(f"parity over {len(fixtures)} fixture(s); tolerance |a-b| <= {RTOL} * max(1, |b|)")
        print(f"{'peer':<12} {'output':<24} {'values':>7} {'max |a-b|':>11} {'max rel':>10}  ok")
        for (p, o), v in summary.items():
            print(f"{p:<12} {o:<24} {v[0]:>7} {v[1]:>11.3e} {v[2]:>10.3e}  {'yes' if v[3] else 'NO'}")
        margin = min((getattr(c, "tau_margin", float("inf")) for c in checks), default=float("inf"))
        print(f"smallest |surprise - tau| in the fixtures: {margin:.3e}")
        for c in failed:
            for m in c.failures:
                print(f"FAIL {c.peer} {c.fixture}: {m}")
        print("parity: " + ("PASS" if not failed else f"FAIL ({len(failed)} peer-fixture pair(s))"))
    return 0 if not failed else 1


def import_frames(a4mer: str, model: str, data: str, frames: int):
    """Real mocap through our importer (`a4mer forecast --json` carries its input window)."""
    cmd = [a4mer, "forecast", "--json", "--model", model, "--data", data, "--start", "0", "--frames", str(frames)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return fixture_input(json.loads(r.stdout))


def percentile(sorted_us, q):
    import numpy as np

    return float(np.percentile(np.asarray(sorted_us), q))


def bench_peer(peer, joints, valid, stamps, window: int, warmup: int = 20):
    """Microseconds per frame: full window recomputed for each new frame; and the part spent
    in the two network calls."""
    import numpy as np

    runner = peer.runner
    net_ns = [0]
    s_fn, h_fn = runner.surprise, runner.heads

    def timed(fn):
        def w(*a):
            t0 = time.perf_counter_ns()
            r = fn(*a)
            net_ns[0] += time.perf_counter_ns() - t0
            return r

        return w

    runner.surprise, runner.heads = timed(s_fn), timed(h_fn)
    try:
        for _ in range(warmup):
            peer.forecast(joints[:window], valid[:window], stamps[:window])
        total, net, cpu = [], [], []
        for t in range(window, joints.shape[0] + 1):
            net_ns[0] = 0
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            peer.forecast(joints[t - window : t], valid[t - window : t], stamps[t - window : t])
            total.append((time.perf_counter_ns() - t0) / 1e3)
            cpu.append((time.thread_time_ns() - c0) / 1e3)
            net.append(net_ns[0] / 1e3)
    finally:
        runner.surprise, runner.heads = s_fn, h_fn
    total, net, cpu = np.array(total), np.array(net), np.array(cpu)
    stat = lambda v: {"median": float(np.median(v)), "p99": float(np.percentile(v, 99)), "max": float(v.max())}  # noqa: E731
    # frame_us and network_us are wall time (what the node's callback takes); cpu_us is the
    # calling thread's CPU time, which preemption on a busy machine does not inflate.
    return {"frames": int(total.size), "frame_us": stat(total), "network_us": stat(net), "cpu_us": stat(cpu)}


def run_bench(model: str, data: str, frames: int, a4mer: str):
    _single_thread()
    import onnxruntime
    import torch

    joints, valid, stamps = import_frames(a4mer, model, data, frames)
    with tempfile.TemporaryDirectory() as tmp:
        art, torch_peer, ort_peer = load_peers(model, Path(tmp))
        window = int(art.config["obs_frames"])
        if joints.shape[0] < window + 1000:
            raise RuntimeError(f"{data}: {joints.shape[0]} frames; the bench needs >= {window + 1000}")
        res = {
            "model": model,
            "data": data,
            "window": window,
            "threads": 1,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "pytorch": bench_peer(torch_peer, joints, valid, stamps, window),
            "onnxruntime_peer": bench_peer(ort_peer, joints, valid, stamps, window),
        }
    return res


def default_a4mer() -> str:
    env = os.environ.get("A4MER_BIN")
    if env:
        return env
    for prof in ("release", "debug"):
        for base in (os.environ.get("CARGO_TARGET_DIR"), str(REPO / "target")):
            if base and (Path(base) / prof / "a4mer").exists():
                return str(Path(base) / prof / "a4mer")
    return "a4mer"


def cmd_bench(args) -> int:
    try:
        res = run_bench(args.model, args.data, args.frames, args.a4mer)
    except Exception as e:  # noqa: BLE001
        print(f"peers bench: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(res))
        return 0
    print(
        f"peers bench: {args.data}, window {res['window']} frames recomputed per frame, 1 thread "
        f"(torch {res['torch']}, onnxruntime {res['onnxruntime']})"
    )
    print("wall time per frame (us); 'net' = inside the two network calls; 'cpu' = thread CPU time")
    print(
        f"{'peer':<12} {'frames':>6} {'median':>8} {'p99':>8} {'max':>8} {'net med':>8} {'net p99':>8} {'cpu med':>8} {'cpu p99':>8}"
    )
    for name, key in (("pytorch", "pytorch"), ("onnxruntime", "onnxruntime_peer")):
        r = res[key]
        f, n, c = r["frame_us"], r["network_us"], r["cpu_us"]
        print(
            f"{name:<12} {r['frames']:>6} {f['median']:>8.0f} {f['p99']:>8.0f} {f['max']:>8.0f} "
            f"{n['median']:>8.0f} {n['p99']:>8.0f} {c['median']:>8.0f} {c['p99']:>8.0f}"
        )
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parity", help="check both peers against `a4mer forecast --json` fixtures")
    p.add_argument("--fixture", action="append", required=True, help="JSON of `a4mer forecast --json` (repeatable)")
    p.add_argument("--model", help="the .a4m (default: the path recorded in the first fixture)")
    p.add_argument("--json", action="store_true")
    b = sub.add_parser("bench", help="per-frame cost of both peers, whole window per frame, 1 thread")
    b.add_argument("--model", default=str(REPO / "models/a4mer-small.a4m"))
    b.add_argument("--data", default=str(REPO / "data/mocap/bvhtools_test.bvh"))
    b.add_argument("--frames", type=int, default=1200, help="frames of the recording to replay (>= window + 1000)")
    b.add_argument("--a4mer", default=default_a4mer(), help="the a4mer binary (imports the BVH)")
    b.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    return cmd_parity(args) if args.cmd == "parity" else cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
