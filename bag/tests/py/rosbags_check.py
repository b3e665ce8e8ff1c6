"""Read a rosbag2 bag with the independent `rosbags` package and report what it saw.

Usage: rosbags_check.py BAG

Types come only from the definitions embedded in the bag (an empty typestore), so a
schema that is missing a dependency, or a payload that does not match its schema, fails.
Every message is deserialized and serialized again; the bytes must be identical.
Prints one JSON object: per topic its type, count, how many re-serialized identically,
and the first message as plain data.
"""

import json
import math
import sys
from pathlib import Path

from rosbags.highlevel import AnyReader


def plain(value):
    if hasattr(value, '__dataclass_fields__'):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__ if k != '__msgtype__'}
    if hasattr(value, 'tolist'):
        return plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def main():
    out = {'topics': {}}
    with AnyReader([Path(sys.argv[1])]) as reader:
        for conn in reader.connections:
            out['topics'].setdefault(
                conn.topic,
                {'type': conn.msgtype, 'count': 0, 'identical': 0, 'first': None},
            )
        for conn, timestamp, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            again = reader.typestore.serialize_cdr(msg, conn.msgtype)
            t = out['topics'][conn.topic]
            t['count'] += 1
            t['identical'] += int(bytes(again) == bytes(raw))
            if t['first'] is None:
                t['first'] = plain(msg)
                t['first_timestamp'] = timestamp
    print(json.dumps(out))


if __name__ == '__main__':
    main()
