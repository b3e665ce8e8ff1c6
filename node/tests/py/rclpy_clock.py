"""rclpy publishes /clock (rosgraph_msgs/Clock) at a simulated time running at half speed,
jumping 100 s back (a bag played again) once five reports in simulated time have come, and
reads the node's /diagnostics header stamps until five reports in the jumped time have come
(or 30 s pass in either phase, for the test to tell what was missing).
Prints JSON {"stamps_ns": [...], "received_at_s": [...], "jump_at_s": .., "end_s": ..}.
usage: rclpy_clock.py SIM_START_NS
"""

import json
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rosgraph_msgs.msg import Clock

JUMP_NS = 100_000_000_000
REPORTS = 5
PHASE_LIMIT_S = 30.0

start_ns = int(sys.argv[1])
rclpy.init()
node = rclpy.create_node("a4mer_clock_peer")
pub = node.create_publisher(Clock, "/clock", 10)
stamps, received = [], []
t0 = time.monotonic()
jump_at = None


def on_diag(m):
    stamps.append(m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec)
    received.append(time.monotonic() - t0)


def run_until(reports_in_time):
    end = time.monotonic() + PHASE_LIMIT_S
    while sum(1 for s in stamps if reports_in_time(s)) < REPORTS and time.monotonic() < end:
        t = time.monotonic() - t0
        sim = start_ns + int(t * 0.5e9) - (JUMP_NS if jump_at is not None else 0)
        pub.publish(Clock(clock=Time(sec=sim // 1_000_000_000, nanosec=sim % 1_000_000_000)))
        rclpy.spin_once(node, timeout_sec=0.01)


node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
run_until(lambda s: s >= start_ns)
jump_at = time.monotonic() - t0
run_until(lambda s: 0 < s < start_ns - JUMP_NS // 2)
end = time.monotonic() - t0
print(json.dumps({"stamps_ns": stamps, "received_at_s": received, "jump_at_s": jump_at, "end_s": end}))
node.destroy_node()
rclpy.shutdown()
