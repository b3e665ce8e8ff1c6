"""A real ROS 2 (rclpy, Fast DDS) peer for a4mer_node.

Publishes real mocap as geometry_msgs/PoseArray on <node>/poses (input.type=pose_array),
then the bad inputs an integrator's stack produces, and records what comes back on
<node>/forecast_markers, <node>/person_markers and /diagnostics. Prints a JSON summary on
stdout.

usage: rclpy_peer.py FRAMES_JSON NODE_FQN
FRAMES_JSON: {"stamps_ns": [...], "joints": [[[x, y, z] x 24] ...]} (SMPL-24, metres).
Loopback only: run with FASTRTPS_DEFAULT_PROFILES_FILE restricting Fast DDS to 127.0.0.1.
"""

import json
import math
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Pose, PoseArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from visualization_msgs.msg import MarkerArray

PERIOD_S = 1.0 / 30.0


def stamp(ns):
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def pose_array(ns, joints, frame_id="world"):
    msg = PoseArray()
    msg.header.stamp = stamp(ns)
    msg.header.frame_id = frame_id
    for x, y, z in joints:
        p = Pose()
        p.position.x, p.position.y, p.position.z = float(x), float(y), float(z)
        p.orientation.w = 1.0
        msg.poses.append(p)
    return msg


def finite_or_nan(joints):
    """null (an unobserved joint in the JSON) becomes NaN, as pose estimators send it."""
    return [[math.nan] * 3 if p is None else p for p in joints]


def main():
    frames = json.load(open(sys.argv[1]))
    node_fqn = sys.argv[2]
    stamps = frames["stamps_ns"]
    joints = [finite_or_nan(j) for j in frames["joints"]]

    rclpy.init()
    node = rclpy.create_node("a4mer_test_peer")
    # Reliable publisher: the node's best-effort (sensor-data) input must match it.
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    topic = node_fqn + "/poses"
    pub = node.create_publisher(PoseArray, topic, qos)

    phase = ["start"]
    markers = {}
    marker_namespaces = set()
    diagnostics = []

    first_marker_at = {}
    # The input stamp each forecast answers, in the order they came.
    marker_stamps = []

    def on_markers(msg):
        markers[phase[0]] = markers.get(phase[0], 0) + 1
        first_marker_at.setdefault(phase[0], time.monotonic())
        for m in msg.markers:
            marker_namespaces.add(m.ns)
        if msg.markers:
            s = msg.markers[0].header.stamp
            marker_stamps.append(s.sec * 1_000_000_000 + s.nanosec)

    # Last seen in the normal phase, per namespace: (marker type, number of points, text).
    person_markers = {}

    def on_person_markers(msg):
        if phase[0] == "normal":
            for m in msg.markers:
                person_markers[m.ns] = [m.type, len(m.points), m.text, m.header.frame_id]

    def on_diagnostics(msg):
        for s in msg.status:
            if s.name.endswith(": anticipation"):
                diagnostics.append(
                    {"phase": phase[0], "level": int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else int(s.level),
                     "message": s.message, "values": {kv.key: kv.value for kv in s.values}}
                )

    node.create_subscription(MarkerArray, node_fqn + "/forecast_markers", on_markers, 100)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 100)
    node.create_subscription(MarkerArray, node_fqn + "/person_markers", on_person_markers, 100)

    def spin_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.005)

    def wait_for_match(p, what):
        end = time.monotonic() + 20
        while p.get_subscription_count() == 0:
            if time.monotonic() > end:
                raise SystemExit(f"no subscriber on {topic} within 20 s ({what})")
            spin_for(0.05)

    def stream(p, first, count, offset_ns, period_s=PERIOD_S, mutate=None):
        next_t = time.monotonic()
        for k in range(first, first + count):
            j = joints[k % len(joints)]
            if mutate:
                j = mutate(j)
            p.publish(pose_array(stamps[k % len(stamps)] + offset_ns, j))
            next_t += period_s
            spin_for(max(0.0, next_t - time.monotonic()))

    wait_for_match(pub, "start")
    base = stamps[0]

    # 1. Normal: 4 s of real mocap at 30 Hz.
    phase[0] = "normal"
    stream(pub, 0, 120, 0)
    t = stamps[119] - base

    # 2. Bad inputs.
    phase[0] = "bad"
    for k in range(3):  # wrong joint count
        pub.publish(pose_array(stamps[120 + k], joints[120 + k][:10]))
        spin_for(PERIOD_S)
    nan = [[math.nan] * 3] * 24
    for k in range(2):  # every joint NaN
        pub.publish(pose_array(stamps[123 + k], nan))
        spin_for(PERIOD_S)
    for k in range(3):  # stamps going backwards (older than what the node has)
        pub.publish(pose_array(stamps[100 + k], joints[100 + k]))
        spin_for(PERIOD_S)
    # 10x burst: 300 Hz for 1 s, stamps 3.3 ms apart, continuing the stream.
    burst_start = stamps[125]
    next_t = time.monotonic()
    for k in range(300):
        j = joints[125 + k // 10]
        pub.publish(pose_array(burst_start + k * 3_333_333, j))
        next_t += PERIOD_S / 10
        spin_for(max(0.0, next_t - time.monotonic()))

    # 3. The publisher vanishes for 1.5 s and comes back with a new one.
    phase[0] = "gone"
    node.destroy_publisher(pub)
    spin_for(1.5)
    pub = node.create_publisher(PoseArray, topic, qos)
    wait_for_match(pub, "return")
    phase[0] = "returned"
    returned_at = time.monotonic()
    stream(pub, 200, 90, 0)
    spin_for(1.5)

    recovery_s = first_marker_at["returned"] - returned_at if "returned" in first_marker_at else None
    print(json.dumps({"recovery_s": recovery_s, "markers": markers, "marker_stamps": marker_stamps,
                      "marker_namespaces": sorted(marker_namespaces), "person_markers": person_markers,
                      "diagnostics": diagnostics}))
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
