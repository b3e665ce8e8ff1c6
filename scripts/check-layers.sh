#!/usr/bin/env bash
# The dependency rules ARCHITECTURE.md states, checked on the resolved graph so that a new
# edge, direct or through another crate, fails CI instead of slipping in with a Cargo.toml
# line nobody connects to the layering:
#
# - a4mer-kernels depends on no workspace crate: Miri and ASan test its unsafe code
#   without building the rest (scripts/ci-unsafe.sh);
# - a4mer-runtime reaches no workspace crate but a4mer-kernels: every other crate speaks its
#   types, so anything it pulled in would be pulled into all of them;
# - a4mer-firmware declares no workspace crate: it builds for the MCU, no_std and no alloc
#   (that half is proven by `cargo build -p a4mer-firmware --target thumbv7em-none-eabihf`);
# - a4mer-ros, which builds the shipped a4mer_node, reaches no workspace crate but runtime,
#   kernels and firmware: training code (a4mer-train, and a4mer-quantize above it) has no
#   place on the robot.
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
forbid_declared_members("a4mer-firmware",
       "the firmware builds for the MCU alone and depends on no workspace crate")
forbid("a4mer-ros", {"a4mer-runtime", "a4mer-kernels", "a4mer-firmware"}, set(),
       "a4mer-ros builds the shipped a4mer_node, which carries no training code")

if failures:
    print("layers: forbidden dependency edges (see ARCHITECTURE.md, dependency direction):",
          file=sys.stderr)
    for f in failures:
        print(f"  {f}", file=sys.stderr)
    sys.exit(1)
print("layers: kernels, runtime, firmware and the node's crate depend only where ARCHITECTURE.md allows")
PY
