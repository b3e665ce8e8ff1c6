"""Side-by-side per-frame cost: ours (f32, streaming engine) vs the Python peers.

  compare.py [--model M] [--data F.bvh] [--a4mer BIN] [--ours-json FILE] [--peers-json FILE] [--json]

Ours comes from `a4mer bench --model M --json` (`push_us` over every frame), or from
--ours-json, a file holding that command's JSON. The peers come from `peers.py bench`
(run here unless --peers-json gives its saved JSON). Ratios are peer / ours: how many
times more a frame costs the peer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import REPO, default_a4mer, run_bench  # noqa: E402


def ours_from_binary(a4mer: str, model: str) -> dict:
    probe = subprocess.run([a4mer, "bench", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise RuntimeError(
            f"{a4mer} has no `bench` subcommand yet; pass --ours-json with the JSON of `a4mer bench --json`"
        )
    r = subprocess.run([a4mer, "bench", "--model", model, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{a4mer} bench --model {model} --json failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def read_json(path: str):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RuntimeError(f"{path}: {e}") from e


def check_ours(ours: dict, origin: str) -> dict:
    try:
        push = ours["push_us"]
        return {"frames": int(ours["frames"]), "median": float(push["median"]), "p99": float(push["p99"]), "max": float(push["max"])}
    except (KeyError, TypeError, ValueError) as e:
        raise RuntimeError(f"{origin}: not the JSON of `a4mer bench --json` (missing {e})") from e


def table(ours: dict, peers: dict) -> list[dict]:
    rows = [{"name": "ours (f32)", "frames": ours["frames"], "median_us": ours["median"], "p99_us": ours["p99"], "max_us": ours["max"]}]
    for name, key in (("pytorch eager", "pytorch"), ("onnxruntime", "onnxruntime_peer")):
        f = peers[key]["frame_us"]
        rows.append({"name": name, "frames": peers[key]["frames"], "median_us": f["median"], "p99_us": f["p99"], "max_us": f["max"]})
    for r in rows:
        r["median_ratio"] = r["median_us"] / ours["median"] if ours["median"] > 0 else float("inf")
        r["p99_ratio"] = r["p99_us"] / ours["p99"] if ours["p99"] > 0 else float("inf")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "models/a4mer-small.a4m"))
    ap.add_argument("--data", default=str(REPO / "data/mocap/bvhtools_test.bvh"))
    ap.add_argument("--frames", type=int, default=1200)
    ap.add_argument("--a4mer", default=default_a4mer())
    ap.add_argument("--ours-json", help="saved JSON of `a4mer bench --json` instead of running it")
    ap.add_argument("--peers-json", help="saved JSON of `peers.py bench --json` instead of running it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.ours_json:
            ours = check_ours(read_json(args.ours_json), args.ours_json)
        else:
            ours = check_ours(ours_from_binary(args.a4mer, args.model), f"{args.a4mer} bench")
        if args.peers_json:
            peers = read_json(args.peers_json)
        else:
            peers = run_bench(args.model, args.data, args.frames, args.a4mer)
        rows = table(ours, peers)
    except (OSError, RuntimeError, KeyError, json.JSONDecodeError) as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"rows": rows, "peers_window": peers.get("window"), "threads": 1}))
        return 0
    print(f"per-frame cost, single thread (peers recompute the {peers.get('window')}-frame window each frame)")
    print(f"{'':<15} {'frames':>7} {'median us':>10} {'p99 us':>10} {'max us':>10} {'x median':>9} {'x p99':>7}")
    for r in rows:
        print(
            f"{r['name']:<15} {r['frames']:>7} {r['median_us']:>10.1f} {r['p99_us']:>10.1f} {r['max_us']:>10.1f} "
            f"{r['median_ratio']:>9.1f} {r['p99_ratio']:>7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
