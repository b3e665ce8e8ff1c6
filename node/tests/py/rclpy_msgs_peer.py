"""A ROS 2 peer (rclpy, Fast DDS) on a4mer_msgs as colcon built it: the generated Python
types and type support from ros/msgs, not hand-written IDL.

Publishes a4mer_msgs/Skeleton3DArray from FRAMES_JSON on NODE_FQN/poses at 30 Hz and keeps
the bytes the generated type support put on the wire for each (rclpy.serialization), so the
test can run the node's own pipeline on exactly what the node received. Records every field
of every PoseForecast and MotifAnticipation the node sends back, by name, walking the
generated types' own field lists: a field the test does not know about shows up as one.

Floats are written as Python's repr (the shortest text that reads back as the same double,
and 'nan'/'inf' where JSON has no number), so the comparison is exact.

usage: rclpy_msgs_peer.py FRAMES_JSON NODE_FQN OUT_JSON
FRAMES_JSON: {"stamps_ns": [...], "joint_names": [...], "people": {"<id>": [[[x, y, z] | null
x J] per frame]}}. Writes everything to OUT_JSON; prints a one-line summary.
Run with OUT/install/setup.bash of scripts/build-msgs.sh sourced; loopback only
(FASTRTPS_DEFAULT_PROFILES_FILE).
"""

import json
import math
import numbers
import sys
import time

import rclpy
from a4mer_msgs.msg import MotifAnticipation, PoseForecast, Skeleton3D, Skeleton3DArray
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from std_msgs.msg import Header

PERIOD_S = 1.0 / 30.0


def fields(value):
    """A generated message as JSON, every field by the name its type gives it."""
    if hasattr(value, "get_fields_and_field_types"):
        return {name: fields(getattr(value, name)) for name in value.get_fields_and_field_types()}
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return repr(float(value))
    # sequences: list, array.array (numeric sequences), numpy arrays (fixed-size arrays)
    return [fields(v) for v in value]


def main():
    frames = json.load(open(sys.argv[1]))
    fqn, out_path = sys.argv[2], sys.argv[3]
    names = frames["joint_names"]
    people = {int(pid): track for pid, track in frames["people"].items()}

    rclpy.init()
    node = rclpy.create_node("a4mer_msgs_peer")
    # The node's outputs are reliable and volatile; a deep history so a slow spin here
    # never drops one on our side.
    out_qos = QoSProfile(depth=1000, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Skeleton3DArray, fqn + "/poses",
                                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    forecasts, motifs = [], []
    subs = [
        node.create_subscription(PoseForecast, fqn + "/forecast", lambda m: forecasts.append(fields(m)), out_qos),
        node.create_subscription(MotifAnticipation, fqn + "/motifs", lambda m: motifs.append(fields(m)), out_qos),
    ]

    deadline = time.monotonic() + 30
    while pub.get_subscription_count() == 0 or any(s.get_publisher_count() == 0 for s in subs):
        if time.monotonic() > deadline:
            raise SystemExit("a4mer_node not discovered within 30 s")
        rclpy.spin_once(node, timeout_sec=0.05)
    # Matching is seen from our side first; the node's writers must match our readers too
    # (volatile outputs are not resent to late readers).
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)

    sent = []
    next_t = time.monotonic()
    for k, ns in enumerate(frames["stamps_ns"]):
        msg = Skeleton3DArray(
            header=Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id="world"),
            bodies=[
                Skeleton3D(
                    id=pid, layout="smpl24", joint_names=names,
                    joints=[Point(x=math.nan, y=math.nan, z=math.nan) if j is None else Point(x=j[0], y=j[1], z=j[2])
                            for j in track[k]],
                    confidences=[0.0 if j is None else 1.0 for j in track[k]])
                for pid, track in people.items()
            ])
        pub.publish(msg)
        sent.append(serialize_message(msg).hex())
        next_t += PERIOD_S
        while True:
            left = next_t - time.monotonic()
            if left <= 0:
                break
            rclpy.spin_once(node, timeout_sec=left)
    # What is still on its way: until nothing new has come for 2 s (30 s at most).
    last = (len(forecasts), len(motifs))
    quiet_since, end = time.monotonic(), time.monotonic() + 30
    while time.monotonic() - quiet_since < 2.0 and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if (len(forecasts), len(motifs)) != last:
            last, quiet_since = (len(forecasts), len(motifs)), time.monotonic()
    node.destroy_node()
    rclpy.shutdown()

    json.dump({"sent_cdr_hex": sent, "forecasts": forecasts, "motifs": motifs}, open(out_path, "w"))
    print(json.dumps({"sent": len(sent), "forecasts": len(forecasts), "motifs": len(motifs)}))


if __name__ == "__main__":
    main()
