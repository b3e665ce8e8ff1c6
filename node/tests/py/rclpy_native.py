"""A real ROS 2 (rclpy, Fast DDS) peer using a4mer_node as integrators do: parameters through
the standard services, and the managed-node (lifecycle) services.

usage: rclpy_native.py params|lifecycle FRAMES_JSON NODE_FQN
FRAMES_JSON: {"stamps_ns": [...], "joints": [[[x, y, z] x 24] ...]} (SMPL-24, metres), sent
as geometry_msgs/PoseArray on NODE_FQN/poses (the node runs with input.type=pose_array).
Prints one JSON line of what it saw. Loopback only (FASTRTPS_DEFAULT_PROFILES_FILE).
"""

import json
import math
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
from lifecycle_msgs.msg import Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState
from rcl_interfaces.msg import Parameter, ParameterEvent, ParameterType, ParameterValue
from rcl_interfaces.srv import (
    DescribeParameters,
    GetParameters,
    GetParameterTypes,
    ListParameters,
    SetParameters,
    SetParametersAtomically,
)
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy_peer import pose_array  # this directory: the same PoseArray the first peer sends
from visualization_msgs.msg import MarkerArray

PERIOD_S = 1.0 / 30.0


def value_json(v):
    t = v.type
    return {
        ParameterType.PARAMETER_BOOL: lambda: v.bool_value,
        ParameterType.PARAMETER_INTEGER: lambda: v.integer_value,
        ParameterType.PARAMETER_DOUBLE: lambda: v.double_value,
        ParameterType.PARAMETER_STRING: lambda: v.string_value,
        ParameterType.PARAMETER_STRING_ARRAY: lambda: list(v.string_array_value),
        ParameterType.PARAMETER_INTEGER_ARRAY: lambda: list(v.integer_array_value),
        ParameterType.PARAMETER_DOUBLE_ARRAY: lambda: list(v.double_array_value),
    }.get(t, lambda: None)()


class Peer:
    def __init__(self, frames, node_fqn):
        self.node = rclpy.create_node("a4mer_native_peer")
        self.fqn = node_fqn
        self.stamps = frames["stamps_ns"]
        # null (an unobserved joint in the JSON) becomes NaN, as pose estimators send it.
        self.joints = [[[math.nan] * 3 if j is None else j for j in f] for f in frames["joints"]]
        self.k = 0
        self.t0 = time.monotonic()
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pub = self.node.create_publisher(PoseArray, node_fqn + "/poses", qos)
        self.markers = []  # (t, markers in the array, stamp of the forecast's input frame)
        self.clients = {}
        self.diagnostics = []  # (t, values)
        self.param_events = []
        self.transitions = []
        self.node.create_subscription(MarkerArray, node_fqn + "/forecast_markers", self.on_markers, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, 100)
        self.node.create_subscription(ParameterEvent, "/parameter_events", self.on_param_event, 100)
        self.node.create_subscription(TransitionEvent, node_fqn + "/transition_event", self.on_transition, 100)

    def now(self):
        return time.monotonic() - self.t0

    def on_markers(self, msg):
        stamp = msg.markers[0].header.stamp if msg.markers else None
        ns = stamp.sec * 1_000_000_000 + stamp.nanosec if stamp is not None else None
        self.markers.append((self.now(), len(msg.markers), ns))

    def on_diag(self, msg):
        for s in msg.status:
            if s.name.endswith(": anticipation"):
                self.diagnostics.append((self.now(), {kv.key: kv.value for kv in s.values}))

    def on_param_event(self, msg):
        if msg.node == self.fqn:
            self.param_events.append(
                {"changed": [[p.name, value_json(p.value)] for p in msg.changed_parameters]}
            )

    def on_transition(self, msg):
        self.transitions.append([msg.start_state.label, msg.goal_state.label, msg.transition.label])

    def spin_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.005)

    def stamp(self, k):
        """The stamp of the k-th frame streamed: the take again and again, always later."""
        lap, i = divmod(k, len(self.stamps))
        return self.stamps[i] + lap * (self.stamps[-1] - self.stamps[0] + 33_333_333)

    def stream(self, seconds):
        """Real mocap at 30 Hz, continuing the take (stamps keep increasing)."""
        next_t = time.monotonic()
        end = next_t + seconds
        while time.monotonic() < end:
            i = self.k % len(self.stamps)
            self.pub.publish(pose_array(self.stamp(self.k), self.joints[i]))
            self.k += 1
            next_t += PERIOD_S
            self.spin_for(max(0.0, next_t - time.monotonic()))

    def client(self, srv, name):
        # One client per service, discovered once: a new client's discovery can take a
        # second, during which nothing is streamed.
        if name not in self.clients:
            client = self.node.create_client(srv, self.fqn + "/" + name)
            if not client.wait_for_service(timeout_sec=20.0):
                raise SystemExit(f"no service {self.fqn}/{name} within 20 s")
            self.clients[name] = client
        return self.clients[name]

    def call(self, srv, name, request, timeout=10.0):
        future = self.client(srv, name).call_async(request)
        end = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > end:
                raise SystemExit(f"{name}: no answer within {timeout} s")
            rclpy.spin_once(self.node, timeout_sec=0.01)
        return future.result()

    def wait_for_input_match(self):
        end = time.monotonic() + 20
        while self.pub.get_subscription_count() == 0:
            if time.monotonic() > end:
                raise SystemExit("the node did not subscribe to its poses within 20 s")
            self.spin_for(0.05)

    def set(self, name, value, atomically=False, **more):
        sent = self.now()
        params = [Parameter(name=name, value=value)] + [Parameter(name=n, value=v) for n, v in more.items()]
        if atomically:
            r = self.call(SetParametersAtomically, "set_parameters_atomically", SetParametersAtomically.Request(parameters=params))
            return {"successful": r.result.successful, "reason": r.result.reason, "sent": sent, "at": self.now()}
        r = self.call(SetParameters, "set_parameters", SetParameters.Request(parameters=params))
        return {"successful": r.results[0].successful, "reason": r.results[0].reason, "sent": sent, "at": self.now()}

    def state(self):
        return self.call(GetState, "get_state", GetState.Request()).current_state.label

    def change(self, transition_id):
        r = self.call(ChangeState, "change_state", ChangeState.Request(transition=Transition(id=transition_id)))
        return {"success": r.success, "at": self.now()}


def integer(v):
    return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=v)


def double(v):
    return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=v)


def string(v):
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=v)


def params_phase(p):
    out = {}
    listed = p.call(ListParameters, "list_parameters", ListParameters.Request())
    out["listed"] = sorted(listed.result.names)
    names = ["input.type", "markers.stride", "model", "diagnostics.period_s", "link.base_from_forecast_xyz_rpy", "nope"]
    got = p.call(GetParameters, "get_parameters", GetParameters.Request(names=names))
    out["got"] = {n: value_json(v) for n, v in zip(names, got.values)}
    types = p.call(GetParameterTypes, "get_parameter_types", GetParameterTypes.Request(names=names))
    out["types"] = {n: t for n, t in zip(names, types.types)}
    described = p.call(DescribeParameters, "describe_parameters", DescribeParameters.Request(names=names[:4]))
    out["described"] = {
        d.name: {
            "type": d.type,
            "description": d.description,
            "constraints": d.additional_constraints,
            "read_only": d.read_only,
            "integer_range": [[r.from_value, r.to_value] for r in d.integer_range],
            "floating_point_range": [[r.from_value, r.to_value] for r in d.floating_point_range],
        }
        for d in described.descriptors
    }

    p.wait_for_input_match()
    p.client(SetParameters, "set_parameters")
    p.client(SetParametersAtomically, "set_parameters_atomically")
    # Past warm-up, at markers.stride 10: until markers have come for a second (a loaded
    # machine can take longer than the 1 s warm-up to deliver the first ones).
    p.stream(2.5)
    waited = 2.5
    while len([m for m in p.markers if m[0] > p.now() - 1.0]) < 20 and waited < 20.0:
        p.stream(0.5)
        waited += 0.5
    out["stride_set"] = p.set("markers.stride", integer(3))
    p.stream(1.5)
    out["period_set"] = p.set("diagnostics.period_s", double(0.2))
    p.stream(2.5)
    out["refused"] = {
        "read_only": p.set("input.type", string("zed_objects")),
        "out_of_range": p.set("markers.stride", integer(0)),
        "wrong_type": p.set("markers.stride", string("3")),
        "undeclared": p.set("markers.strid", integer(3)),
        "atomic_one_bad": p.set("markers.stride", integer(4), atomically=True, **{"tracks.max": integer(2)}),
    }
    p.stream(1.5)
    after = p.call(GetParameters, "get_parameters", GetParameters.Request(names=["markers.stride", "input.type"]))
    out["after_refusals"] = [value_json(v) for v in after.values]
    return out


def lifecycle_phase(p):
    out = {"states": [p.state()]}
    p.wait_for_input_match()
    phases = []

    def phase(name, seconds):
        # Stamps from..to (exclusive) were sent in this phase, after the transition before
        # it had been answered and before the next one was asked for.
        start, first = p.now(), p.k
        p.stream(seconds)
        phases.append({"name": name, "from": start, "to": p.now(),
                       "stamp_from": p.stamp(first), "stamp_to": p.stamp(p.k)})

    phase("unconfigured", 1.5)
    out["configure"] = p.change(Transition.TRANSITION_CONFIGURE)
    out["states"].append(p.state())
    phase("inactive_1", 2.0)
    out["activate_1"] = p.change(Transition.TRANSITION_ACTIVATE)
    out["states"].append(p.state())
    phase("active_1", 2.5)
    avail = p.call(GetAvailableTransitions, "get_available_transitions", GetAvailableTransitions.Request())
    out["available_in_active"] = [t.transition.label for t in avail.available_transitions]
    out["deactivate"] = p.change(Transition.TRANSITION_DEACTIVATE)
    out["states"].append(p.state())
    phase("inactive_2", 2.0)
    out["not_available"] = p.change(Transition.TRANSITION_DEACTIVATE)
    out["activate_2"] = p.change(Transition.TRANSITION_ACTIVATE)
    out["states"].append(p.state())
    phase("active_2", 2.0)
    out["phases"] = phases
    out["wall_minus_monotonic_s"] = time.time() - time.monotonic() + p.t0
    return out


def main():
    mode, frames_path, node_fqn = sys.argv[1], sys.argv[2], sys.argv[3]
    rclpy.init()
    p = Peer(json.load(open(frames_path)), node_fqn)
    out = params_phase(p) if mode == "params" else lifecycle_phase(p)
    p.spin_for(0.5)
    out["markers"] = p.markers
    out["diagnostics"] = p.diagnostics
    out["param_events"] = p.param_events
    out["transitions"] = p.transitions
    print(json.dumps(out))
    p.node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
