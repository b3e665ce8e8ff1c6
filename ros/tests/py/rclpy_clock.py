"""rclpy publishes /clock (rosgraph_msgs/Clock) at a simulated time, jumping 100 s back
after 3 s (a bag played again), and reads the node's /diagnostics header stamps.
Prints JSON {"stamps_ns": [...], "jump_at_s": .., "received_at_s": [...]}.
usage: rclpy_clock.py SIM_START_NS
"""

import json
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rosgraph_msgs.msg import Clock

start_ns = int(sys.argv[1])
rclpy.init()
node = rclpy.create_node("a4mer_clock_peer")
pub = node.create_publisher(Clock, "/clock", 10)
stamps, received = [], []
t0 = time.monotonic()


def on_diag(m):
    stamps.append(m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec)
    received.append(time.monotonic() - t0)


node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
while time.monotonic() - t0 < 6.0:
    # Simulated time runs at half speed, and jumps 100 s back at 3 s.
    t = time.monotonic() - t0
    sim = start_ns + int(t * 0.5e9) - (100_000_000_000 if t >= 3.0 else 0)
    pub.publish(Clock(clock=Time(sec=sim // 1_000_000_000, nanosec=sim % 1_000_000_000)))
    rclpy.spin_once(node, timeout_sec=0.01)
print(json.dumps({"stamps_ns": stamps, "jump_at_s": 3.0, "received_at_s": received}))
node.destroy_node()
rclpy.shutdown()
