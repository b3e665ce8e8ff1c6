"""The figures data/holosoma/README.md gives for the takes' frame rate: speeds and
accelerations at candidate rates, swing phases, and the steepest downward acceleration.
Run from anywhere: python3 data/holosoma/rate_evidence.py (needs numpy)."""
import pathlib

import numpy as np

HIPS, LEFT_FOOT, RIGHT_FOOT = 0, 45, 49  # MOCAP_DEMO_JOINTS order (the sidecars' joint_names)
RATES_HZ = (30, 60, 100, 120)

for path in sorted(pathlib.Path(__file__).parent.glob("*.npy")):
    joints_m = np.load(path).astype(np.float64)
    print(f"{path.name}: {joints_m.shape[0]} frames")
    hips = joints_m[:, HIPS, :2]
    step_m = np.linalg.norm(np.diff(joints_m, axis=0), axis=2)
    accel_m = np.linalg.norm(joints_m[2:] - 2 * joints_m[1:-1] + joints_m[:-2], axis=2)
    for fps in RATES_HZ:
        w = max(1, round(fps * 0.25))  # 0.25 s windows
        pelvis = np.linalg.norm(hips[w:] - hips[:-w], axis=1) * fps / w
        print(
            f"  {fps:4d} Hz: {joints_m.shape[0] / fps:6.1f} s; pelvis p95 {np.percentile(pelvis, 95):.2f}"
            f" max {pelvis.max():.2f} m/s; joint speed p99 {np.percentile(step_m * fps, 99):.2f} m/s;"
            f" joint accel p99 {np.percentile(accel_m * fps * fps, 99):.1f} m/s^2"
        )
    swings = []
    for j in (LEFT_FOOT, RIGHT_FOOT):
        s = np.linalg.norm(np.diff(joints_m[:, j], axis=0), axis=1)
        moving = s > 0.5 * np.median(s[s > np.percentile(s, 70)])
        run = 0
        for m in moving:
            if m:
                run += 1
            elif run:
                swings.append(run)
                run = 0
    swings = [r for r in swings if r >= 5]
    print("  median swing:", ", ".join(f"{np.median(swings) / r:.2f} s at {r} Hz" for r in RATES_HZ))
    # Steepest downward curvature of the mean joint height (15-frame parabola fits).
    height_m = joints_m[:, :, 2].mean(axis=1)
    t = np.arange(15)
    curv = min(2 * np.polyfit(t, height_m[s : s + 15], 2)[0] for s in range(len(height_m) - 15))
    print(f"  steepest fall {curv:.6f} m/frame^2: exceeds g above {np.sqrt(9.81 / -curv):.0f} Hz")
