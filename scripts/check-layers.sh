#!/usr/bin/env bash
# The dependency rules ARCHITECTURE.md states, checked on the resolved graph so that a new
# edge, direct or through another crate, fails CI instead of slipping in with a Cargo.toml
# line nobody connects to the layering:
#
# - a4mer-kernels depends on no workspace crate: Miri and ASan test its unsafe code
#   without building the rest (scripts/ci-unsafe.sh);
# - a4mer-runtime reaches no workspace crate but a4mer-kernels, and no burn crate: every other
#   crate speaks its types, so anything it pulled in would be pulled into all of them, and it
#   is the engine that ships;
# - a4mer-burn-model (the burn modules) reaches no workspace crate but runtime and kernels;
# - a4mer-firmware declares no workspace crate: it builds for the MCU, no_std and no alloc
#   (that half is proven by `cargo build -p a4mer-firmware --target thumbv7em-none-eabihf`);
# - a4mer-ros (messages, adapters, the pipeline: what the node and replay share) reaches no
#   workspace crate but runtime, kernels and firmware, and no DDS (rustdds, ros2-client);
# - a4mer-node, which builds the shipped a4mer_node, reaches no workspace crate but a4mer-ros
#   and what it reaches: training code (a4mer-train, and a4mer-quantize above it) has no
#   place on the robot;
# - a4mer-node reaches none of mcap, rusqlite, zstd or plotters: rosbag2 I/O (a4mer-bag) and
#   replay with its report (a4mer-replay) sit beside the node, not in it (with the features
#   a build of a4mer-node alone turns on, as for burn below);
# - a4mer-bag reaches no workspace crate but a4mer-ros and what it reaches; a4mer-replay
#   only those and a4mer-bag: bag I/O and the audit need no node, DDS, training or
#   measurement code;
# - a4mer-motion (import) reaches only runtime and kernels, and no burn crate; a4mer-measure
#   reaches only those, motion and burn-model; a4mer-quantize and a4mer-train reach no training
#   or measurement code they do not need (quantize: no a4mer-train; train: no a4mer-measure);
# - the device build of the CLI (`a4mer-cli` without default features) reaches no
#   a4mer-train: the `a4mer` that ships links no training code;
# - a4mer-node reaches no burn crate: the node runs the engine's own kernels and loads the
#   model without burn (a4mer-runtime, not a4mer-burn-model). This one follows features:
#   `cargo metadata` unifies them over the whole workspace, so a member's optional
#   dependencies count only when the features a build of a4mer-node alone turns on enable
#   them (what `cargo tree -p a4mer-node -e normal` shows).
#
# Only normal dependencies count, followed transitively (a dev- or build-dependency is not
# linked into what ships). Reads `cargo metadata`, so nothing is built; needs python3.
#
#   scripts/check-layers.sh                 check this workspace
#   scripts/check-layers.sh metadata.json   check a saved `cargo metadata --format-version 1`
set -euo pipefail
cd "$(dirname "$0")/.."

meta="$(mktemp)"
trap 'rm -f "$meta"' EXIT
if [ $# -ge 1 ]; then
    cp "$1" "$meta"
else
    cargo metadata --format-version 1 --locked >"$meta"
fi

python3 - "$meta" <<'PY'
import json
import sys
from collections import deque

meta = json.load(open(sys.argv[1]))
pkgs = {p["id"]: p for p in meta["packages"]}
name = {i: p["name"] for i, p in pkgs.items()}
members = {name[i] for i in meta["workspace_members"]}
by_name = {name[i]: i for i in meta["workspace_members"]}

# Normal edges of the resolved graph (all targets: a platform-specific dependency still ships
# on that platform).
normal = {}
for node in meta["resolve"]["nodes"]:
    normal[node["id"]] = [
        d["pkg"] for d in node["deps"] if any(k["kind"] is None for k in d["dep_kinds"])
    ]


def reach(root):
    """Every crate `root` reaches through normal dependencies, with the path to it."""
    seen = {by_name[root]: [root]}
    todo = deque([by_name[root]])
    while todo:
        at = todo.popleft()
        for dep in normal.get(at, []):
            if dep not in seen:
                seen[dep] = seen[at] + [name[dep]]
                todo.append(dep)
    del seen[by_name[root]]
    return seen


def reach_built_alone(root, root_features=("default",)):
    """Like `reach`, but with the features a build of `root` alone turns on in workspace
    members: their optional dependencies count only when enabled. Third-party crates keep the
    unified edges (more edges than a build of `root` has, never fewer: a false alarm at worst)."""
    feats = {}  # member id -> features on
    deps_on = {}  # member id -> names of its normal dependencies that are on

    def dep_entry(pid, dname):
        for d in pkgs[pid]["dependencies"]:
            if d["kind"] is None and (d.get("rename") or d["name"]) == dname:
                return d
        return None

    def member_of(pid, d):
        for dep in normal.get(pid, []):
            if name[dep] == d["name"] and dep in pkgs and name[dep] in members:
                return dep
        return None

    def dep_on(pid, dname):
        d = dep_entry(pid, dname)
        if d is None or dname in deps_on[pid]:
            return
        deps_on[pid].add(dname)
        m = member_of(pid, d)
        if m is not None:
            visit(m)
            if d["uses_default_features"]:
                feature_on(m, "default")
            for f in d["features"]:
                feature_on(m, f)

    def feature_on(pid, f):
        table = pkgs[pid]["features"]
        if f in feats[pid]:
            return
        feats[pid].add(f)
        if f not in table:
            dep_on(pid, f)  # an optional dependency's implicit feature
            return
        for v in table[f]:
            if v.startswith("dep:"):
                dep_on(pid, v[4:])
            elif "/" in v:
                dname, sub = v.split("/", 1)
                weak = dname.endswith("?")
                dname = dname.rstrip("?")
                d = dep_entry(pid, dname)
                if d is None:
                    continue
                if not weak:
                    dep_on(pid, dname)
                m = member_of(pid, d)
                if m is not None and dname in deps_on[pid]:
                    feature_on(m, sub)
            else:
                feature_on(pid, v)

    def visit(pid):
        if pid in feats:
            return
        feats[pid] = set()
        deps_on[pid] = set()
        for d in pkgs[pid]["dependencies"]:
            if d["kind"] is None and not d["optional"]:
                dep_on(pid, d.get("rename") or d["name"])

    r = by_name[root]
    visit(r)
    for f in root_features:
        feature_on(r, f)

    def edges(at):
        if at not in feats:
            return normal.get(at, [])
        return [d for d in normal.get(at, []) if any(
            (e.get("rename") or e["name"]) in deps_on[at] and e["name"] == name[d]
            for e in pkgs[at]["dependencies"] if e["kind"] is None)]

    seen = {r: [root]}
    todo = deque([r])
    while todo:
        at = todo.popleft()
        for dep in edges(at):
            if dep not in seen:
                seen[dep] = seen[at] + [name[dep]]
                todo.append(dep)
    del seen[r]
    return seen


failures = []


def forbid(crate, allowed_members, forbidden_names, why):
    """`crate` may reach no workspace member outside `allowed_members` and no crate named
    in `forbidden_names`."""
    for dep, path in sorted(reach(crate).items(), key=lambda kv: kv[1]):
        n = name[dep]
        if (n in members and n not in allowed_members) or n in forbidden_names:
            failures.append(f"{crate} reaches {n} ({' -> '.join(path)}): {why}")


def forbid_declared_members(crate, why):
    """`crate` declares no workspace member as a normal dependency (optional ones included:
    a feature would bring them in)."""
    for d in pkgs[by_name[crate]]["dependencies"]:
        if d["kind"] is None and d["name"] in members:
            failures.append(f"{crate} declares {d['name']}: {why}")


forbid("a4mer-kernels", set(), set(),
       "the kernels depend on no workspace crate, so Miri and ASan test them alone")
forbid("a4mer-runtime", {"a4mer-kernels"}, set(),
       "the runtime depends on no workspace crate but a4mer-kernels")
forbid("a4mer-burn-model", {"a4mer-runtime", "a4mer-kernels"}, set(),
       "the burn modules speak the runtime's types and nothing above them")
forbid_declared_members("a4mer-firmware",
       "the firmware builds for the MCU alone and depends on no workspace crate")
forbid("a4mer-ros", {"a4mer-runtime", "a4mer-kernels", "a4mer-firmware"}, {"rustdds", "ros2-client"},
       "a4mer-ros is what the node, replay and the bag tools share: no DDS, no training code")
forbid("a4mer-node", {"a4mer-ros", "a4mer-runtime", "a4mer-kernels", "a4mer-firmware"}, set(),
       "a4mer-node builds the shipped a4mer_node, which carries no training code")
forbid("a4mer-bag", {"a4mer-ros", "a4mer-runtime", "a4mer-kernels", "a4mer-firmware"}, {"rustdds", "ros2-client"},
       "rosbag2 I/O needs the message types alone")
forbid("a4mer-replay", {"a4mer-bag", "a4mer-ros", "a4mer-runtime", "a4mer-kernels", "a4mer-firmware"},
       {"rustdds", "ros2-client"},
       "replay runs the node's pipeline on bags and needs no DDS, training or measurement code")

forbid("a4mer-motion", {"a4mer-runtime", "a4mer-kernels"}, set(),
       "motion import depends on the runtime's types alone")
forbid("a4mer-measure", {"a4mer-runtime", "a4mer-burn-model", "a4mer-kernels", "a4mer-motion"}, set(),
       "measurement needs no training code")
forbid("a4mer-quantize", {"a4mer-runtime", "a4mer-burn-model", "a4mer-kernels", "a4mer-motion", "a4mer-measure"},
       set(),
       "quantization measures with a4mer-measure and needs no training code")
forbid("a4mer-train", {"a4mer-runtime", "a4mer-burn-model", "a4mer-kernels", "a4mer-motion"}, set(),
       "training needs motion import, not the measurement crate")

for crate, why in [
    ("a4mer-runtime", "the engine that ships runs its own kernels; burn lives in a4mer-burn-model"),
    ("a4mer-ros", "the node's pipeline loads models without burn (a4mer-runtime, not a4mer-burn-model)"),
    ("a4mer-node", "the node loads models without burn (a4mer-runtime, not a4mer-burn-model)"),
    ("a4mer-bag", "bag I/O needs the message types alone"),
    ("a4mer-replay", "replay runs the node's pipeline, which needs no burn"),
    ("a4mer-motion", "motion import needs no tensors"),
]:
    for dep, path in sorted(reach_built_alone(crate).items(), key=lambda kv: kv[1]):
        if name[dep] == "burn" or name[dep].startswith("burn-"):
            failures.append(f"{crate} reaches {name[dep]} ({' -> '.join(path)}): {why}")
            break

# With the features a build of a4mer-node alone turns on: unified over the workspace, burn-tch
# reaches zstd through its zip.
for dep, path in sorted(reach_built_alone("a4mer-node").items(), key=lambda kv: kv[1]):
    if name[dep] in {"mcap", "rusqlite", "libsqlite3-sys", "zstd", "zstd-sys", "plotters"}:
        failures.append(f"a4mer-node reaches {name[dep]} ({' -> '.join(path)}): the node carries no "
                        "bag storage or report plotting (a4mer-bag, a4mer-replay)")

for dep, path in sorted(reach_built_alone("a4mer-cli", ()).items(), key=lambda kv: kv[1]):
    if name[dep] == "a4mer-train":
        failures.append(f"a4mer-cli without default features reaches a4mer-train ({' -> '.join(path)}): "
                        "the device `a4mer` links no training code")

if failures:
    print("layers: forbidden dependency edges (see ARCHITECTURE.md, dependency direction):",
          file=sys.stderr)
    for f in failures:
        print(f"  {f}", file=sys.stderr)
    sys.exit(1)
print("layers: every crate depends only where ARCHITECTURE.md allows; the runtime, a4mer-ros, the node, bag, "
      "replay and motion import reach no burn crate; a4mer-ros, bag and replay reach no DDS; the node reaches no "
      "bag storage or plotting; the device CLI reaches no training code")
PY
