#!/usr/bin/env python3
"""Does masked latent pre-training earn its place? The verdict from two scripts/loso.sh runs.

    scripts/pretrain_verdict.py PRETRAINED_DIR WITHOUT_DIR [--seeds 4]

PRETRAINED_DIR is a loso.sh output with the shipped recipe (pre-training on), WITHOUT_DIR
the same seeds with `--epochs 0`. Per seed, each arm is scored on three tasks, each the mean
over the left-out sources:

- forecasting far ahead: the int8 model alone's gain over the best of zero, constant and
  damped velocity, mean of 600 and 1000 ms;
- motif anticipation: the published next-motif distribution's Brier skill against "it stays";
- interpolation: the interpolation head's gain over a straight line, mean over the gaps.

Pre-training stays in the recipe only if, on one task, it is ahead on the mean over at
least SEEDS seeds and on all but at most a quarter of them (3 of 4). Prints every seed's
row and the verdict; writes PRETRAINED_DIR/verdict.md and verdict.json. Before SEEDS seeds
are in, a task is only decided when the remaining seeds could not change it.
"""

import argparse
import json
import pathlib
import re
import statistics
import sys

BASELINES = ("zero_velocity", "constant_velocity", "damped_velocity")
SOURCES = ("mocap", "deepmimic", "holosoma")
TASKS = {
    "forecast_600_1000ms": "int8 model alone vs best of three, 600-1000 ms",
    "anticipation_brier_skill": "motif anticipation, Brier skill vs it stays",
    "interpolation_gain": "interpolation head vs a straight line",
}


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"pretrain_verdict: {path}: {e}")


def gain_far(int8):
    mm = int8["mpjpe_mm"]
    horizons = int8["horizons_ms"]
    model = mm["model"]["world"]
    out = []
    for ms in (600, 1000):
        h = horizons.index(ms)
        best = min(mm[b]["world"][h] for b in BASELINES)
        out.append(1.0 - model[h] / best)
    return statistics.mean(out)


def run_scores(d, source, seed):
    """The three task scores of one run, or None if it has not finished."""
    base = d / f"{source}-s{seed}"
    files = {k: base.with_suffix(f".{k}.json") for k in ("int8", "published", "interp")}
    if not all(f.exists() and f.stat().st_size > 0 for f in files.values()):
        return None
    int8, published, interp = (load(files[k]) for k in ("int8", "published", "interp"))
    skill = published.get("anticipation", {}).get("brier_skill")
    gaps = [g["model_gain_pct"] / 100.0 for g in interp["interpolation"]["gaps"]]
    return {
        "forecast_600_1000ms": gain_far(int8),
        "anticipation_brier_skill": skill,
        "interpolation_gain": statistics.mean(gaps) if gaps else None,
    }


def seed_scores(d, seed):
    """Per task, the mean over the left-out sources, if every source's run has finished."""
    runs = [run_scores(d, s, seed) for s in SOURCES]
    if any(r is None for r in runs):
        return None
    return {
        t: (None if any(r[t] is None for r in runs) else statistics.mean(r[t] for r in runs))
        for t in TASKS
    } | {"per_source": dict(zip(SOURCES, runs))}


def seeds_in(d):
    return sorted({int(m.group(1)) for f in d.glob("*-s*.a4m") if (m := re.search(r"-s(\d+)\.a4m$", f.name))})


def decide(pairs, need):
    """'ahead', 'not ahead' or 'undecided' for one task's (pretrained, without) per seed."""
    losses = sum(p <= w for p, w in pairs)
    if len(pairs) < need:
        # Seeds still to come cannot undo more losses than a quarter of the seeds allows.
        return "not ahead" if losses > need // 4 else "undecided"
    mean_ahead = statistics.mean(p for p, _ in pairs) > statistics.mean(w for _, w in pairs)
    return "ahead" if mean_ahead and losses <= len(pairs) // 4 else "not ahead"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pretrained", type=pathlib.Path)
    ap.add_argument("without", type=pathlib.Path)
    ap.add_argument("--seeds", type=int, default=4, help="seeds the verdict needs (default 4)")
    a = ap.parse_args()
    seeds = sorted(set(seeds_in(a.pretrained)) & set(seeds_in(a.without)))
    rows = []
    for seed in seeds:
        p, w = seed_scores(a.pretrained, seed), seed_scores(a.without, seed)
        if p is not None and w is not None:
            rows.append({"seed": seed, "pretrained": p, "without": w})
    if not rows:
        sys.exit("pretrain_verdict: no seed has finished in both arms")
    lines = [
        "Pre-training ablation over leave-one-source-out (each cell: the mean over the left-out "
        f"sources {', '.join(SOURCES)}; pre-trained / without).",
        "",
        "| seed | " + " | ".join(TASKS.values()) + " |",
        "| --- | " + " | ".join("---" for _ in TASKS) + " |",
    ]
    fmt = lambda v: "n/a" if v is None else f"{v * 100:+.1f} %"
    for r in rows:
        cells = [f"{fmt(r['pretrained'][t])} / {fmt(r['without'][t])}" for t in TASKS]
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    verdicts = {}
    for t, name in TASKS.items():
        pairs = [(r["pretrained"][t], r["without"][t]) for r in rows]
        pairs = [(p, w) for p, w in pairs if p is not None and w is not None]
        verdicts[t] = decide(pairs, a.seeds) if pairs else "undecided"
        if pairs:
            wins = sum(p > w for p, w in pairs)
            mp, mw = statistics.mean(p for p, _ in pairs), statistics.mean(w for _, w in pairs)
            lines.append(
                f"- {name}: pre-trained ahead on {wins} of {len(pairs)} seeds, mean {fmt(mp)} against "
                f"{fmt(mw)}: **{verdicts[t]}**"
            )
    keep = any(v == "ahead" for v in verdicts.values())
    done = all(v != "undecided" for v in verdicts.values())
    verdict = (
        "pre-training stays in the recipe" if keep
        else "pre-training does not pay: the recipe trains without it" if done
        else "undecided: more seeds needed"
    )
    lines += ["", f"Verdict ({len(rows)} seeds): {verdict}."]
    text = "\n".join(lines) + "\n"
    (a.pretrained / "verdict.md").write_text(text)
    (a.pretrained / "verdict.json").write_text(
        json.dumps({"rows": rows, "tasks": verdicts, "verdict": verdict}, indent=1) + "\n"
    )
    print(text, end="")


if __name__ == "__main__":
    main()
