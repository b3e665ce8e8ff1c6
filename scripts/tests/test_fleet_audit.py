#!/usr/bin/env python3
"""scripts/fleet_audit.py end to end on a small fleet made with `a4mer import`.

Run:  A4MER_BIN=/path/to/a4mer python3 scripts/tests/test_fleet_audit.py   (or pytest)
Needs: Python with ray (pip install 'ray[default]==2.60.0'); A4MER_BIN (default /tmp/a4mer-head).

Two robots with different parameter files (int8 vs f32 model, tracks, link hold, a robot
position for the safety monitoring), 12 bags from two sources (DeepMimic clips, BVH mocap
cut in a few seconds), one of them garbled.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "fleet_audit.py")
BIN = os.environ.get("A4MER_BIN", "/tmp/a4mer-head")
KILLED = "robot-b/take2-01"
CORRUPT = "robot-b/garbled"

PARAMS_A = """/**:
  ros__parameters:
    model: "models/a4mer-small-int8.a4m"
    tracks:
      max: 4
"""
PARAMS_B = """/**:
  ros__parameters:
    model: "models/a4mer-small.a4m"
    tracks:
      max: 2
      gap_limit_s: 0.3
    link:
      hold_s: 0.5
"""
AUDIT_B = "robot: [1.5, 0.0, 0.0]\nrobot_speed: 1.0\n"


def cut_bvh(src, dst, start_frame, frames):
    """A BVH of `frames` frames from `start_frame` (the importer has no cut option)."""
    with open(src) as f:
        lines = f.read().splitlines()
    i = next(n for n, l in enumerate(lines) if l.strip().startswith("Frames:"))
    body = lines[i + 2:]
    out = lines[:i] + [f"Frames: {frames}", lines[i + 1]] + body[start_frame:start_frame + frames]
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


def a4mer_import(src, bag, *extra):
    subprocess.run([BIN, "import", src, "--to-bag", bag, *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_fleet(root):
    a, b = os.path.join(root, "robot-a"), os.path.join(root, "robot-b")
    os.makedirs(a)
    os.makedirs(b)
    with open(os.path.join(a, "params.yaml"), "w") as f:
        f.write(PARAMS_A)
    with open(os.path.join(b, "params.yaml"), "w") as f:
        f.write(PARAMS_B)
    with open(os.path.join(b, "audit.yaml"), "w") as f:
        f.write(AUDIT_B)
    dm = os.path.join(REPO, "data", "deepmimic")
    for clip in ("walk", "run", "jump", "kick", "punch", "dance_a"):
        a4mer_import(os.path.join(dm, f"humanoid3d_{clip}.txt"), os.path.join(a, clip), "--loop-to-s", "4")
    tmp = os.path.join(root, "src")
    os.makedirs(tmp)
    for n, start in enumerate((300, 900, 1500, 2100, 2700)):
        cut = os.path.join(tmp, f"take2-{n:02d}.bvh")
        cut_bvh(os.path.join(REPO, "data", "mocap", "bvhtools_test2.bvh"), cut, start, 120)
        a4mer_import(cut, os.path.join(b, f"take2-{n:02d}"))
    # The garbled bag: a good one whose MCAP header is overwritten.
    g = os.path.join(b, "garbled")
    shutil.copytree(os.path.join(b, "take2-00"), g)
    mcap = next(os.path.join(g, x) for x in os.listdir(g) if x.endswith(".mcap"))
    with open(mcap, "r+b") as f:
        f.write(b"\0" * 64)
    shutil.rmtree(tmp)


def run_audit(bags, out, workers, kill=None):
    env = dict(os.environ, A4MER_BIN=BIN)
    env.pop("RAY_ADDRESS", None)
    env.pop("FLEET_AUDIT_KILL_ONCE", None)
    if kill:
        env["FLEET_AUDIT_KILL_ONCE"] = kill
    p = subprocess.run([sys.executable, SCRIPT, "--bags", bags, "--out", out, "--workers", str(workers),
                        "--a4mer", BIN, "--retries", "2"], env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"fleet_audit.py exited {p.returncode}:\n{p.stderr[-4000:]}")
    return p.stderr


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


class FleetAudit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleet-audit-test-")
        cls.bags = os.path.join(cls.tmp, "bags")
        make_fleet(cls.bags)
        cls.out1 = os.path.join(cls.tmp, "out1")
        cls.out2 = os.path.join(cls.tmp, "out2")
        cls.log1 = run_audit(cls.bags, cls.out1, 1)
        # Two workers, and the first attempt at one bag kills its worker.
        cls.log2 = run_audit(cls.bags, cls.out2, 2, kill=KILLED)
        cls.kill_timing = json.loads(read(os.path.join(cls.out2, "timing.json")))
        cls.log3 = run_audit(cls.bags, cls.out2, 2)
        cls.report = json.loads(read(os.path.join(cls.out1, "fleet.json")))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_identical_with_one_and_two_workers(self):
        self.assertEqual(read(os.path.join(self.out1, "fleet.json"), "rb"),
                         read(os.path.join(self.out2, "fleet.json"), "rb"))
        self.assertEqual(read(os.path.join(self.out1, "fleet.html"), "rb"),
                         read(os.path.join(self.out2, "fleet.html"), "rb"))

    def test_every_bag_once_corrupt_with_error(self):
        names = [b["bag"] for b in self.report["bags"]]
        self.assertEqual(len(names), 12)
        self.assertEqual(len(set(names)), 12)
        rows = {b["bag"]: b for b in self.report["bags"]}
        bad = rows[CORRUPT]
        self.assertEqual(bad["verdict"], "error")
        self.assertIn("MCAP", bad["error"])
        self.assertEqual(self.report["bags"][0]["bag"], CORRUPT)  # worst first
        for name, row in rows.items():
            if name != CORRUPT:
                self.assertIsNone(row["error"], name)
                self.assertIn(row["verdict"], ("pass", "model_losing", "unscored"), name)
                self.assertGreater(row["messages"], 0)
        self.assertEqual(self.report["totals"]["errors"], 1)
        # Each robot ran with its own parameters.
        self.assertTrue(rows["robot-a/walk"]["model"].startswith("a4mer-small-int8"))
        self.assertEqual(rows["robot-b/take2-00"]["model"], "a4mer-small.a4m")
        self.assertIsNone(rows["robot-a/walk"]["link"])
        self.assertIsNotNone(rows["robot-b/take2-00"]["link"])

    def test_killed_task_retried_and_counted_once(self):
        self.assertEqual([b["bag"] for b in self.report["bags"]].count(KILLED), 1)
        self.assertEqual(self.kill_timing["bags"], 12)
        self.assertEqual(self.kill_timing["per_bag"][KILLED]["attempts"], 2, self.kill_timing["per_bag"][KILLED])
        for bag, t in self.kill_timing["per_bag"].items():
            if bag != KILLED:
                self.assertEqual(t["attempts"], 1, bag)

    def test_rerun_reuses_cache(self):
        timing = json.loads(read(os.path.join(self.out2, "timing.json")))
        self.assertEqual(timing["reused"], 12)
        self.assertEqual(timing["replayed"], 0)
        self.assertIn("reused 12", self.log3)
        self.assertEqual(read(os.path.join(self.out1, "fleet.json"), "rb"),
                         read(os.path.join(self.out2, "fleet.json"), "rb"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
