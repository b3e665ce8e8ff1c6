"""A ROS 2 participant with no credentials (rclpy on the pip Fast DDS, which has no
security plugins) next to a node secured with SROS2: for SECONDS it lists the topics it
can discover, reads /diagnostics, and looks for the node's set_parameters service; then it
tries to set a safety parameter if it found one.
Prints JSON {"topics": [...], "diagnostics": N, "set_parameters_service": bool,
"set_result": ...}.
usage: rclpy_outsider.py NODE_FQN SECONDS
"""

import json
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters

node_fqn, seconds = sys.argv[1], float(sys.argv[2])
rclpy.init()
node = rclpy.create_node("a4mer_outsider")
diagnostics = []
node.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
client = node.create_client(SetParameters, f"{node_fqn}/set_parameters")
topics = set()
found = False
end = time.monotonic() + seconds
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.1)
    topics.update(name for name, _ in node.get_topic_names_and_types())
    found = found or client.service_is_ready()
result = None
if found:
    value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.99)
    future = client.call_async(SetParameters.Request(parameters=[Parameter(name="input.min_confidence", value=value)]))
    rclpy.spin_until_future_complete(node, future, timeout_sec=5.0)
    if future.result() is not None:
        result = [r.successful for r in future.result().results]
print(json.dumps({
    "topics": sorted(topics),
    "diagnostics": len(diagnostics),
    "set_parameters_service": found,
    "set_result": result,
}))
node.destroy_node()
rclpy.shutdown()
