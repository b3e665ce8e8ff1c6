#!/usr/bin/env python3
"""The leave-one-source-out table from a scripts/loso.sh output directory.

    scripts/loso_table.py DIR        writes DIR/table.md and DIR/table.json, prints the table

Per left-out source and seed: the gain of the model alone (f32 and int8, through the engine,
without the guard; and int8 adapted to each person online) over the best of zero, constant
and damped velocity, and over the better of the first two; what the guard publishes (int8)
as a ratio to the best of the three; the coverage of its 90 % radius; and each
perturbation's int8 gain over the best of the three.
A negative gain is a loss, and is shown as one.
"""

import json
import pathlib
import re
import statistics
import sys

BASELINES = ("zero_velocity", "constant_velocity", "damped_velocity")


def world(table, method):
    return table[method]["world"]


def gains(table, baselines):
    """1 - model / best baseline, per horizon."""
    model = world(table, "model")
    best = [min(world(table, b)[h] for b in baselines) for h in range(len(model))]
    return [1.0 - m / b for m, b in zip(model, best)]


def pct(values):
    return " / ".join(f"{v * 100:+.1f} %" for v in values)


def run_rows(out):
    runs = {}
    for f in sorted(out.glob("*-s*.published.json")):
        m = re.fullmatch(r"(.+)-s(\d+)\.published\.json", f.name)
        if not m:
            continue
        source, seed = m.group(1), int(m.group(2))
        base = out / f"{source}-s{seed}"
        try:
            f32 = json.loads(base.with_suffix(".f32.json").read_text())
            int8 = json.loads(base.with_suffix(".int8.json").read_text())
            published = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            sys.exit(f"loso_table: {base}: {e}")
        train_path = base.with_suffix(".train.json")
        train = json.loads(train_path.read_text()) if train_path.exists() else {}
        adapted_path = base.with_suffix(".int8-adapted.json")
        adapted = json.loads(adapted_path.read_text()) if adapted_path.exists() else None
        guard = published["guard"]
        runs[(source, seed)] = {
            "source": source,
            "seed": seed,
            "windows": int8["windows"],
            "horizons_ms": int8["horizons_ms"],
            "train_wall_s": train.get("wall_s"),
            "damping_tau_s": int8["mpjpe_mm"]["damping_tau_s"],
            "baselines_mm": {b: world(int8["mpjpe_mm"], b) for b in BASELINES},
            "model_f32_mm": world(f32["mpjpe_mm"], "model"),
            "model_int8_mm": world(int8["mpjpe_mm"], "model"),
            "gain_f32_over_best_of_three": gains(f32["mpjpe_mm"], BASELINES),
            "gain_int8_over_best_of_three": gains(int8["mpjpe_mm"], BASELINES),
            "gain_int8_adapted_over_best_of_three": adapted and gains(adapted["mpjpe_mm"], BASELINES),
            "gain_int8_over_better_of_two": gains(int8["mpjpe_mm"], BASELINES[:2]),
            "published_over_best_baseline": guard["published_over_best_baseline"],
            "coverage": published["calibration"]["coverage"],
            "perturbations": {
                p["name"]: gains(p["mpjpe_mm"], BASELINES) for p in int8.get("perturbations", [])
            },
        }
    return runs


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    runs = run_rows(out)
    if not runs:
        sys.exit(f"loso_table: no finished run in {out}")
    horizons = next(iter(runs.values()))["horizons_ms"]
    lines = [
        f"Leave-one-source-out, world MPJPE, horizons {' / '.join(str(h) for h in horizons)} ms "
        "(gain: 1 - model / baseline; negative = the model loses).",
        "",
        "| left out | seed | windows | model alone f32 vs best of three | model alone int8 vs best of three "
        "| int8 adapted to the person | int8 vs better of zero and constant "
        "| published int8 / best of three | coverage of the 90 % radius |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (source, seed), r in sorted(runs.items()):
        lines.append(
            f"| {source} | {seed} | {r['windows']} | {pct(r['gain_f32_over_best_of_three'])} "
            f"| {pct(r['gain_int8_over_best_of_three'])} "
            f"| {pct(r['gain_int8_adapted_over_best_of_three']) if r['gain_int8_adapted_over_best_of_three'] else 'not run'} "
            f"| {pct(r['gain_int8_over_better_of_two'])} "
            f"| {' / '.join(f'{v:.3f}' for v in r['published_over_best_baseline'])} "
            f"| {' / '.join(f'{c * 100:.1f} %' for c in r['coverage'] if c is not None)} |"
        )
    sources = sorted({s for s, _ in runs})
    if any(len([k for k in runs if k[0] == s]) > 1 for s in sources):
        lines += ["", "Mean over seeds (int8, model alone, vs best of three):", ""]
        for s in sources:
            rows = [r["gain_int8_over_best_of_three"] for (src, _), r in runs.items() if src == s]
            lines.append(f"- {s}: {pct([statistics.mean(c) for c in zip(*rows)])} over {len(rows)} seeds")
    lines += ["", "Perturbations, int8 model alone vs best of three:", ""]
    conditions = sorted({c for r in runs.values() for c in r["perturbations"]})
    lines.append("| left out | seed | " + " | ".join(conditions) + " |")
    lines.append("| --- | --- | " + " | ".join("---" for _ in conditions) + " |")
    for (source, seed), r in sorted(runs.items()):
        cells = []
        for c in conditions:
            g = r["perturbations"].get(c)
            cells.append("n/a" if g is None else f"{g[2] * 100:+.0f} / {g[4] * 100:+.0f} %")
        lines.append(f"| {source} | {seed} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("(perturbation cells: 400 ms / 1000 ms)")
    text = "\n".join(lines) + "\n"
    (out / "table.md").write_text(text)
    (out / "table.json").write_text(json.dumps(list(runs.values()), indent=1) + "\n")
    print(text, end="")


if __name__ == "__main__":
    main()
