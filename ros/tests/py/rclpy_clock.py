"""rclpy publishes /clock (rosgraph_msgs/Clock) at a simulated time and reads the node's
/diagnostics header stamps. Prints JSON {"stamps_ns": [...]}.
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
stamps = []
node.create_subscription(DiagnosticArray, "/diagnostics",
                         lambda m: stamps.append(m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec), 10)
t0 = time.monotonic()
while time.monotonic() - t0 < 6.0:
    # Simulated time runs at half speed.
    sim = start_ns + int((time.monotonic() - t0) * 0.5e9)
    pub.publish(Clock(clock=Time(sec=sim // 1_000_000_000, nanosec=sim % 1_000_000_000)))
    rclpy.spin_once(node, timeout_sec=0.01)
print(json.dumps({"stamps_ns": stamps}))
node.destroy_node()
rclpy.shutdown()
