#!/usr/bin/env python3
"""Fleet audit: `a4mer replay --json` on every bag of every robot, scheduled by Ray,
merged into one deterministic report.

    python3 scripts/fleet_audit.py --bags DIR --out OUT [--workers N] [--address RAY]
                                   [--a4mer BIN] [--retries K]

DIR holds one folder per robot:

    DIR/<robot>/params.yaml   the node's parameter file (as `a4mer_node --params-file`)
    DIR/<robot>/audit.yaml    optional: `robot: [x, y, z]`, `robot_speed: 1.0`, `topic: /poses`
                              (replay's --robot, --robot-speed, --topic: the safety MCU's
                              speed and separation monitoring, i.e. the link decisions)
    DIR/<robot>/<bag>         every sub-directory (rosbag2 bag with metadata.yaml) and every
                              *.mcap / *.db3 file is one bag

The `model` parameter of params.yaml, when relative, is resolved against the robot folder,
then the repository ($A4MER_REPO, default: this script's repository); it is passed to replay as `--ros-args -p model:=<absolute path>`.
Empty or absent: the binary's bundled model.

One Ray task per bag (num_cpus=1, max_retries=K) runs
`a4mer replay BAG --json --params-file params.yaml [--robot ...] [--ros-args -p model:=M]`.
A worker that dies is retried by Ray; replay's own failures (corrupt bag, wrong topic, bad
parameters) are not retried: they are deterministic and become the bag's row with the error.

Outputs (OUT):
    fleet.json    the merged report; byte-identical whatever the worker count or finish order
    fleet.html    the same as one self-contained page
    replays/<robot>/<bag>.json   each bag's full replay JSON, without `timing`
    timing.json   wall times, attempts per bag, replay compute and peak RSS, cache reuse
    cache/<key>.json  finished results; key = SHA-256 over the bag's bytes (every file of a
                  bag directory, by relative path), the model's bytes, params.yaml's and
                  audit.yaml's bytes, the a4mer binary's bytes and the replay args

Replay JSON paths each row uses:
    verdict, worst horizon   guard.published_over_best_baseline[i], guard.horizons_ms[i],
                             guard.losing_enter, guard.scored
    model losing time        guard_over_time[*].model_losing (share of each 1 s span) x span
    coverage                 calibration.nominal, calibration.coverage[i]
    motif skill              anticipation.brier_skill, anticipation.model_brier_skill
    link decisions           ssm.seconds_run, ssm.seconds_fallback, ssm.seconds_protective_stop,
                             ssm.min_separation_m; events[kind=link_observed_only|link_hold|
                             link_hold_end] counts
    unplaced / unusable      unplaced_messages; events[kind=unusable_message],
                             events[kind=rejected_body] counts; events_dropped
    size, identity           messages, frames, forecasts, people, duration_s, bag_sha256,
                             model, model_sha256, topic, input_type, stopped_at

Verdicts, worst first: error (replay gave no result), stopped_early (stopped_at set),
model_losing (max published/best-baseline ratio >= guard.losing_enter), unscored (no horizon
scored), pass. Rows are ordered by verdict, then that ratio (highest first, none last), then
the bag's path.

Test hook: FLEET_AUDIT_KILL_ONCE=<robot>/<bag> makes the first attempt at that bag kill its
own worker process (os._exit), which Ray must retry.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import ray
import yaml

from fleet_html import render_html

FORMAT = "a4mer-fleet-audit/1"
# Relative `model` paths fall back to here (the repository, or the unpacked bundle).
REPO = os.environ.get("A4MER_REPO") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERDICT_RANK = {"error": 0, "stopped_early": 1, "model_losing": 2, "unscored": 3, "pass": 4}
LINK_EVENTS = ("link_observed_only", "link_hold", "link_hold_end")
ERROR_TAIL_CHARS = 2000


def sha256_file(path, h=None):
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h


def sha256_bag(path):
    """SHA-256 of a bag file, or of every file of a bag directory by relative path."""
    if os.path.isfile(path):
        return sha256_file(path).hexdigest()
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, path)
            h.update(rel.encode() + b"\0" + sha256_file(full).digest())
    return h.hexdigest()


def dump(obj):
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- manifest

def params_models(params):
    """Every `model` value under any node's ros__parameters."""
    found = []
    if isinstance(params, dict):
        for node in params.values():
            rp = node.get("ros__parameters") if isinstance(node, dict) else None
            if isinstance(rp, dict) and "model" in rp:
                found.append(rp["model"])
    return found


def robot_setup(robot_dir):
    """The robot's replay arguments and the files its results depend on, or an error."""
    params = os.path.join(robot_dir, "params.yaml")
    setup = {"params": params, "model": None, "audit": None, "args": [], "error": None}
    if not os.path.isfile(params):
        setup["error"] = "no params.yaml in the robot folder"
        return setup
    try:
        with open(params) as f:
            models = [m for m in params_models(yaml.safe_load(f)) if m]
    except (OSError, yaml.YAMLError) as e:
        setup["error"] = f"params.yaml: {e}"
        return setup
    if len(set(models)) > 1:
        setup["error"] = f"params.yaml names more than one model: {sorted(set(models))}"
        return setup
    if models:
        m = str(models[0])
        cands = [m] if os.path.isabs(m) else [os.path.join(robot_dir, m), os.path.join(REPO, m)]
        hit = next((c for c in cands if os.path.isfile(c)), None)
        if hit is None:
            setup["error"] = f"model `{m}` not found (looked at: {', '.join(cands)})"
            return setup
        setup["model"] = os.path.abspath(hit)
    audit = os.path.join(robot_dir, "audit.yaml")
    if os.path.isfile(audit):
        setup["audit"] = audit
        try:
            with open(audit) as f:
                a = yaml.safe_load(f) or {}
            if "robot" in a:
                setup["args"] += ["--robot", ",".join(str(float(v)) for v in a["robot"])]
                if "robot_speed" in a:
                    setup["args"] += ["--robot-speed", str(float(a["robot_speed"]))]
            if "topic" in a:
                setup["args"] += ["--topic", str(a["topic"])]
        except (OSError, yaml.YAMLError, TypeError, ValueError) as e:
            setup["error"] = f"audit.yaml: {e}"
    return setup


def model_name(path):
    if not path:
        return "bundled"
    return os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else os.path.basename(path)


def discover(bags_dir):
    """(robot name -> setup, sorted list of (robot, bag name, absolute bag path))."""
    robots, bags = {}, []
    for robot in sorted(os.listdir(bags_dir)):
        rdir = os.path.join(bags_dir, robot)
        if not os.path.isdir(rdir):
            continue
        robots[robot] = setup = robot_setup(rdir)
        if setup["error"]:
            setup["error"] = setup["error"].replace(bags_dir + os.sep, "")
        for name in sorted(os.listdir(rdir)):
            p = os.path.join(rdir, name)
            is_bag = (
                (os.path.isdir(p) and not name.startswith("."))
                or name.endswith((".mcap", ".db3"))
                or (os.path.islink(p) and not os.path.exists(p))
            )
            if is_bag:
                bags.append((robot, name, p))
    return robots, bags


# ---------------------------------------------------------------- the task

def record_attempt(attempts_dir):
    os.makedirs(attempts_dir, exist_ok=True)
    n = 1
    while True:
        try:
            fd = os.open(os.path.join(attempts_dir, f"attempt-{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, socket.gethostname().encode())
            os.close(fd)
            return n
        except FileExistsError:
            n += 1


# Spawned from a small launcher: a child exec'd straight from the Ray worker would report the
# worker's own peak RSS (Linux keeps the pre-exec high-water mark in ru_maxrss).
LAUNCHER = """
import os, sys
try:
    pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
except OSError as e:
    sys.exit(f"cannot run {sys.argv[2]}: {e.strerror}")
_, status, ru = os.wait4(pid, 0)
os.write(int(sys.argv[1]), f"{os.waitstatus_to_exitcode(status)} {ru.ru_maxrss}".encode())
"""


def run_replay(cmd, cwd):
    """(exit code, stdout, stderr, peak RSS KiB of the replay process)."""
    r, w = os.pipe()
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(w), *cmd], cwd=cwd, stdout=out,
                                 stderr=err, stdin=subprocess.DEVNULL, pass_fds=(w,))
            os.close(w)
            w = None
            with os.fdopen(r, "rb") as f:
                r = None
                report = f.read().decode().split()
            p.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    finally:
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
    if len(report) != 2:
        raise OSError(stderr.strip()[-500:] or f"launcher exited {p.returncode}")
    return int(report[0]), stdout, stderr, int(report[1])


def worker_rss_kib():
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return None


def audit_bag(job):
    """One bag: reuse a cached result or run replay. Never raises for replay's failures."""
    t0 = time.monotonic()
    attempt = record_attempt(job["attempts_dir"])
    if job["kill_once"] == job["bag"] and attempt == 1:
        os._exit(137)
    timing = {"attempt": attempt, "node": socket.gethostname()}
    outcome, reused = None, False
    if not os.path.exists(job["path"]):
        outcome = {"exit_code": None, "error": "bag not found", "replay": None}
    elif job["setup_error"]:
        outcome = {"exit_code": None, "error": job["setup_error"], "replay": None}
    else:
        try:
            key_inputs = {
                "format": FORMAT,
                "bag_sha256": sha256_bag(job["path"]),
                "model_sha256": sha256_file(job["model"]).hexdigest() if job["model"] else None,
                # The binary too: a changed replay must not reuse old verdicts.
                "binary_sha256": job["binary_sha256"],
                "params_sha256": sha256_file(job["params"]).hexdigest(),
                "audit_sha256": sha256_file(job["audit"]).hexdigest() if job["audit"] else None,
                "args": job["args"],
            }
        except OSError as e:
            msg = f"{e.strerror}: {e.filename}" if e.filename else str(e)
            outcome = {"exit_code": None, "error": "cannot read " + msg.replace(job["bags_dir"] + os.sep, ""),
                       "replay": None}
    if outcome is not None:
        timing["wall_s"] = time.monotonic() - t0
        return {"bag": job["bag"], "key": None, "reused": False, "outcome": outcome, "timing": timing}

    key = hashlib.sha256(json.dumps(key_inputs, sort_keys=True).encode()).hexdigest()
    timing["hash_s"] = time.monotonic() - t0
    cache_file = os.path.join(job["cache_dir"], key + ".json")
    try:
        with open(cache_file) as f:
            cached = json.load(f)
        if cached.get("key_inputs") == key_inputs:
            outcome, reused = cached["outcome"], True
    except (OSError, ValueError):
        pass

    if outcome is None:
        cmd = [job["binary"], "replay", job["path"], "--json", "--params-file", job["params"], *job["args"]]
        if job["model"]:
            cmd += ["--ros-args", "-p", f"model:={job['model']}"]
        t1 = time.monotonic()
        try:
            code, out, err, rss = run_replay(cmd, os.path.dirname(job["params"]))
        except OSError as e:
            # The binary itself is missing or not runnable here: not a property of the bag.
            timing["wall_s"] = time.monotonic() - t0
            outcome = {"exit_code": None, "error": str(e), "replay": None}
            return {"bag": job["bag"], "key": key, "reused": False, "outcome": outcome, "timing": timing}
        timing["replay_wall_s"] = time.monotonic() - t1
        timing["replay_max_rss_kib"] = rss
        replay = None
        if out.strip():
            try:
                replay = json.loads(out)
            except ValueError:
                replay = None
        if isinstance(replay, dict):
            t = replay.pop("timing", None)
            if isinstance(t, dict):
                t.pop("push_histogram_10us", None)
                timing["replay_timing"] = t
        error = None
        if code != 0 or replay is None:
            tail = err.strip()[-ERROR_TAIL_CHARS:] or f"exit code {code}, no output"
            error = tail.replace(job["bags_dir"] + os.sep, "")
        outcome = {"exit_code": code, "error": error, "replay": replay}
        if code is not None and code >= 0:
            # Killed by a signal (code < 0) says nothing about the bag: not cached.
            write_atomic(cache_file, dump({"key_inputs": key_inputs, "outcome": outcome}))
    timing["wall_s"] = time.monotonic() - t0
    timing["worker_rss_kib"] = worker_rss_kib()
    return {"bag": job["bag"], "key": key, "reused": reused, "outcome": outcome, "timing": timing}


# ---------------------------------------------------------------- the report

def get(d, *path):
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and 0 <= p < len(d):
            d = d[p]
        else:
            return None
    return d


def summarize(bag, robot, outcome):
    r = outcome.get("replay")
    row = {
        "bag": bag,
        "robot": robot,
        "exit_code": outcome.get("exit_code"),
        "error": outcome.get("error"),
    }
    if not isinstance(r, dict):
        row["verdict"] = "error"
        row["worst_published_over_best_baseline"] = None
        return row
    ratios = get(r, "guard", "published_over_best_baseline") or []
    horizons = get(r, "guard", "horizons_ms") or []
    scored = [(v, h) for v, h in zip(ratios, horizons) if v is not None]
    worst = max(scored, key=lambda vh: (vh[0], -vh[1])) if scored else (None, None)
    losing_enter = get(r, "guard", "losing_enter")
    if r.get("stopped_at"):
        verdict = "stopped_early"
    elif not scored:
        verdict = "unscored"
    elif losing_enter is not None and worst[0] >= losing_enter:
        verdict = "model_losing"
    else:
        verdict = "pass"
    if row["error"] is not None and verdict != "stopped_early":
        verdict = "error"

    duration = r.get("duration_s") or 0.0
    losing_s = 0.0
    for g in r.get("guard_over_time") or []:
        span = max(0.0, min(1.0, duration - g["t_s"]))
        losing_s += (g.get("model_losing") or 0.0) * span
    kinds = {}
    for e in r.get("events") or []:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    cov = get(r, "calibration", "coverage") or []
    cov_vals = [c for c in cov if c is not None]
    ssm = r.get("ssm")
    row.update({
        "verdict": verdict,
        "stopped_at": r.get("stopped_at"),
        "bag_sha256": r.get("bag_sha256"),
        "model": os.path.basename(str(r.get("model"))),
        "model_sha256": r.get("model_sha256"),
        "topic": r.get("topic"),
        "input_type": r.get("input_type"),
        "messages": r.get("messages"),
        "frames": r.get("frames"),
        "people": len(r.get("people") or []),
        "duration_s": duration,
        "forecasts": r.get("forecasts"),
        "horizons_ms": horizons,
        "published_over_best_baseline": ratios,
        "worst_horizon_ms": worst[1],
        "worst_published_over_best_baseline": worst[0],
        "model_losing_s": round(losing_s, 6),
        "coverage_nominal": get(r, "calibration", "nominal"),
        "coverage": cov,
        "coverage_min": min(cov_vals) if cov_vals else None,
        "motif_brier_skill": get(r, "anticipation", "brier_skill"),
        "motif_model_brier_skill": get(r, "anticipation", "model_brier_skill"),
        "link": None if not isinstance(ssm, dict) else {
            "seconds_run": ssm.get("seconds_run"),
            "seconds_fallback": ssm.get("seconds_fallback"),
            "seconds_protective_stop": ssm.get("seconds_protective_stop"),
            "min_separation_m": ssm.get("min_separation_m"),
        },
        "link_events": {k: kinds.get(k, 0) for k in LINK_EVENTS},
        "unplaced_messages": r.get("unplaced_messages"),
        "unusable_messages": kinds.get("unusable_message", 0),
        "rejected_bodies": kinds.get("rejected_body", 0),
        "events": dict(sorted(kinds.items())),
        "events_dropped": r.get("events_dropped"),
    })
    return row


def sort_key(row):
    ratio = row.get("worst_published_over_best_baseline")
    return (VERDICT_RANK[row["verdict"]], 0 if ratio is not None else 1, -(ratio or 0.0), row["bag"])


def totals(rows, robots):
    def s(key):
        return sum(r.get(key) or 0 for r in rows)
    by_verdict = {v: 0 for v in VERDICT_RANK}
    for r in rows:
        by_verdict[r["verdict"]] += 1
    link = {k: sum((r.get("link") or {}).get(k) or 0.0 for r in rows)
            for k in ("seconds_run", "seconds_fallback", "seconds_protective_stop")}
    seps = [r["link"]["min_separation_m"] for r in rows
            if r.get("link") and r["link"].get("min_separation_m") is not None]
    link["min_separation_m"] = min(seps) if seps else None
    return {
        "robots": len(robots),
        "bags": len(rows),
        "verdicts": by_verdict,
        "errors": sum(1 for r in rows if r.get("error") is not None),
        "messages": s("messages"),
        "forecasts": s("forecasts"),
        "duration_s": round(sum(r.get("duration_s") or 0.0 for r in rows), 6),
        "model_losing_s": round(s("model_losing_s"), 6),
        "unplaced_messages": s("unplaced_messages"),
        "unusable_messages": s("unusable_messages"),
        "rejected_bodies": s("rejected_bodies"),
        "link": link,
        "link_events": {k: sum(r.get("link_events", {}).get(k, 0) for r in rows) for k in LINK_EVENTS},
    }


# ---------------------------------------------------------------- driver

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bags", required=True, help="folder with one sub-folder per robot")
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="local Ray's CPUs (one replay per CPU); ignored with a cluster")
    ap.add_argument("--address", help="Ray cluster address for ray.init(address=...)")
    ap.add_argument("--a4mer", default=os.environ.get("A4MER_BIN", "a4mer"), help="the a4mer binary")
    ap.add_argument("--retries", type=int, default=3, help="Ray max_retries per task (worker deaths)")
    args = ap.parse_args(argv)

    t_start = time.monotonic()
    if not os.path.isdir(args.bags):
        ap.error(f"--bags {args.bags}: not a folder")
    bags_dir = os.path.abspath(args.bags)
    out_dir = os.path.abspath(args.out)
    binary = shutil.which(args.a4mer) or os.path.abspath(args.a4mer)
    cache_dir = os.path.join(out_dir, "cache")
    attempts_root = os.path.join(out_dir, "work", "attempts")
    shutil.rmtree(os.path.join(out_dir, "work"), ignore_errors=True)
    shutil.rmtree(os.path.join(out_dir, "replays"), ignore_errors=True)
    os.makedirs(cache_dir, exist_ok=True)

    robots, bags = discover(bags_dir)
    binary_sha = sha256_file(binary).hexdigest() if os.path.isfile(binary) else None
    kill_once = os.environ.get("FLEET_AUDIT_KILL_ONCE", "")

    t_init = time.monotonic()
    if args.address:
        ray.init(address=args.address)
    elif os.environ.get("RAY_ADDRESS"):
        ray.init()  # inside `ray job submit`: the job's cluster
    else:
        # "local": a new Ray of our own, not whatever `ray start` left in /tmp/ray.
        ray.init(address="local", num_cpus=args.workers, include_dashboard=False)
    ray_init_s = time.monotonic() - t_init
    task = ray.remote(audit_bag).options(num_cpus=1, max_retries=args.retries, retry_exceptions=False)

    refs = {}
    for robot, name, path in bags:
        setup = robots[robot]
        bag = f"{robot}/{name}"
        job = {
            "bag": bag, "path": path, "bags_dir": bags_dir, "binary": binary, "binary_sha256": binary_sha,
            "params": setup["params"], "model": setup["model"], "audit": setup["audit"],
            "args": setup["args"], "setup_error": setup["error"], "cache_dir": cache_dir,
            "attempts_dir": os.path.join(attempts_root, hashlib.sha256(bag.encode()).hexdigest()[:16]),
            "kill_once": kill_once,
        }
        refs[task.remote(job)] = job

    results, pending = {}, list(refs)
    total, done, reused, errors = len(pending), 0, 0, 0
    print(f"fleet-audit: {total} bags from {len(robots)} robots", file=sys.stderr, flush=True)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=10.0)
        for ref in ready:
            job = refs[ref]
            try:
                res = ray.get(ref)
            except Exception as e:  # the worker died more often than --retries allows
                # Ray's message names worker ids and pids: kept out of fleet.json.
                res = {"bag": job["bag"], "key": None, "reused": False, "timing": {"ray_error": str(e)[-2000:]},
                       "outcome": {"exit_code": None, "replay": None,
                                   "error": f"the task failed on every attempt (1 + {args.retries} retries): "
                                            f"{type(e).__name__}"}}
            results[job["bag"]] = res
            done += 1
            reused += bool(res["reused"])
            errors += res["outcome"].get("error") is not None
        print(f"fleet-audit: {done}/{total} done (reused {reused}, errors {errors})", file=sys.stderr, flush=True)

    tasks_s = time.monotonic() - t_init - ray_init_s
    rows, timing_bags = [], {}
    for robot, name, _ in bags:
        bag = f"{robot}/{name}"
        res = results[bag]
        rows.append(summarize(bag, robot, res["outcome"]))
        replay = res["outcome"].get("replay")
        if isinstance(replay, dict):
            write_atomic(os.path.join(out_dir, "replays", robot, name + ".json"), dump(replay))
        att_dir = os.path.join(attempts_root, hashlib.sha256(bag.encode()).hexdigest()[:16])
        attempts = len(os.listdir(att_dir)) if os.path.isdir(att_dir) else 0
        timing_bags[bag] = dict(res["timing"], attempts=attempts, reused=res["reused"], cache_key=res["key"])
    rows.sort(key=sort_key)

    robot_rows = []
    for name, s in sorted(robots.items()):
        robot_rows.append({
            "robot": name,
            "params_sha256": sha256_file(s["params"]).hexdigest() if os.path.isfile(s["params"]) else None,
            "model": None if s["error"] else model_name(s["model"]),
            "model_sha256": sha256_file(s["model"]).hexdigest() if s["model"] else None,
            "args": s["args"],
            "error": s["error"],
        })
    report = {
        "format": FORMAT,
        "a4mer_sha256": binary_sha,
        "robots": robot_rows,
        "totals": totals(rows, robots),
        "bags": rows,
    }
    write_atomic(os.path.join(out_dir, "fleet.json"), dump(report))
    write_atomic(os.path.join(out_dir, "fleet.html"), render_html(report))
    wall = time.monotonic() - t_start
    write_atomic(os.path.join(out_dir, "timing.json"), dump({
        "wall_s": wall,
        "ray_init_s": ray_init_s,
        "tasks_s": tasks_s,
        "workers": None if (args.address or os.environ.get("RAY_ADDRESS")) else args.workers,
        "cluster_cpus": ray.cluster_resources().get("CPU"),
        "bags": len(bags),
        "reused": reused,
        "replayed": sum(1 for r in results.values() if "replay_wall_s" in r["timing"]),
        "per_bag": timing_bags,
    }))
    shutil.rmtree(os.path.join(out_dir, "work"), ignore_errors=True)
    t = report["totals"]
    print(f"fleet-audit: {t['bags']} bags, " + ", ".join(f"{k} {v}" for k, v in t["verdicts"].items())
          + f"; reused {reused} cached results; {wall:.1f} s; report {os.path.join(out_dir, 'fleet.json')}",
          file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
