#!/usr/bin/env python3
"""The REP-2011 (RIHS01) type hashes of the a4mer_msgs messages, from a colcon build.

    scripts/msg_type_hashes.py OUT          # OUT: the workspace of scripts/build-msgs.sh
    scripts/msg_type_hashes.py OUT --check  # exit 1 if the repository's copies differ

Reads the type descriptions that rosidl_generator_type_description wrote
(OUT/install/a4mer_msgs/share/a4mer_msgs/msg/<Name>.json), recomputes each hash from its
description to be sure how it was made, and writes:
  ros/msgs/type_hashes.json          message name -> "RIHS01_<sha256 hex>"
  ros/msgs/type_descriptions/*.json  the generated descriptions, byte for byte, so that
                                     tests can read them without a ROS build
Needs only the standard library.
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

PACKAGE = "a4mer_msgs"
REPO = Path(__file__).resolve().parent.parent


def rihs01(type_description_msg: dict) -> str:
    """The hash as rosidl_generator_type_description.calculate_type_hash (Jazzy) makes it:
    sha256 of the description without default values, as compact JSON in field order."""
    d = json.loads(json.dumps(type_description_msg))
    for td in [d["type_description"], *d["referenced_type_descriptions"]]:
        for field in td["fields"]:
            del field["default_value"]
    text = json.dumps(d, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
    return "RIHS01_" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="colcon workspace built by scripts/build-msgs.sh")
    ap.add_argument("--check", action="store_true",
                    help="compare with the repository's files instead of writing them")
    args = ap.parse_args()

    src = args.out / "install" / PACKAGE / "share" / PACKAGE / "msg"
    names = sorted(p.stem for p in (REPO / "ros" / "msgs" / "msg").glob("*.msg"))
    hashes, files = {}, {}
    for name in names:
        path = src / f"{name}.json"
        if not path.is_file():
            print(f"error: {path} missing: was the workspace built?", file=sys.stderr)
            return 1
        raw = path.read_bytes()
        doc = json.loads(raw)
        type_name = f"{PACKAGE}/msg/{name}"
        stored = {h["type_name"]: h["hash_string"] for h in doc["type_hashes"]}
        computed = rihs01(doc["type_description_msg"])
        if stored.get(type_name) != computed:
            print(f"error: {type_name}: generated {stored.get(type_name)}, recomputed {computed}",
                  file=sys.stderr)
            return 1
        hashes[name] = computed
        files[f"{name}.json"] = raw

    hashes_path = REPO / "ros" / "msgs" / "type_hashes.json"
    desc_dir = REPO / "ros" / "msgs" / "type_descriptions"
    hashes_text = json.dumps(hashes, indent=2) + "\n"
    if args.check:
        stale = []
        if not hashes_path.is_file() or hashes_path.read_text() != hashes_text:
            stale.append(hashes_path)
        stale += [desc_dir / f for f, raw in files.items()
                  if not (desc_dir / f).is_file() or (desc_dir / f).read_bytes() != raw]
        for p in stale:
            print(f"stale: {p.relative_to(REPO)} (regenerate with {sys.argv[0]} OUT)",
                  file=sys.stderr)
        if stale:
            return 1
    else:
        hashes_path.write_text(hashes_text)
        desc_dir.mkdir(exist_ok=True)
        for f, raw in files.items():
            (desc_dir / f).write_bytes(raw)
    for name, h in hashes.items():
        print(f"{name} {h}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
