"""An independent DDS peer (Eclipse Cyclone DDS, Python) for a4mer_node.

Publishes a4mer_msgs/Skeleton3DArray with two people from real mocap on rt<node>/poses at
30 Hz and records every PoseForecast and MotifAnticipation the node sends back. Prints a
JSON summary on stdout. The IDL types below are written from ros/msgs/msg/*.msg, not from
our Rust mirrors, so a field-order mistake on either side shows up.

With "tf" in FRAMES_JSON, it is also a TF broadcaster as tf2 is (there is no tf2_msgs for
rclpy here, so the types are IDL written from tf2_msgs and geometry_msgs): "static", a list
of transforms written once on /tf_static (reliable, transient local, keep last 1) before
the node is even discovered, and "moving", stamped transforms written on /tf (reliable,
volatile), each sent before the pose whose stamp is `lead_ns` older than its own, so the
node has them when the pose arrives; none after "stop_after_ns" (then they go stale).
Poses carry "frame_id" (default "world").

With "expect_forecasts" and "expect_motifs" in FRAMES_JSON, it waits for that many after
the last pose (up to 30 s) rather than a fixed 2 s.

usage: cyclone_peer.py FRAMES_JSON NODE_FQN DOMAIN_ID
Loopback only: run with CYCLONEDDS_URI restricting Cyclone to 127.0.0.1.
"""

import json
import math
import sys
import time
from dataclasses import dataclass, field

from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import float32, float64, int32, sequence, uint8, uint32
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Duration(IdlStruct, typename="builtin_interfaces::msg::dds_::Duration_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
class Point(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Vector3(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64
    y: float64
    z: float64
    w: float64


@dataclass
class Transform(IdlStruct, typename="geometry_msgs::msg::dds_::Transform_"):
    translation: Vector3
    rotation: Quaternion


@dataclass
class TransformStamped(IdlStruct, typename="geometry_msgs::msg::dds_::TransformStamped_"):
    header: Header
    child_frame_id: str
    transform: Transform


@dataclass
class TFMessage(IdlStruct, typename="tf2_msgs::msg::dds_::TFMessage_"):
    transforms: sequence[TransformStamped]


def stamped(t):
    """{"stamp_ns", "parent", "child", "xyz", "xyzw"} as a TransformStamped."""
    ns = t["stamp_ns"]
    return TransformStamped(
        header=Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id=t["parent"]),
        child_frame_id=t["child"],
        transform=Transform(translation=Vector3(*t["xyz"]), rotation=Quaternion(*t["xyzw"])))


@dataclass
class Skeleton3D(IdlStruct, typename="a4mer_msgs::msg::dds_::Skeleton3D_"):
    id: uint32
    layout: str
    joint_names: sequence[str]
    joints: sequence[Point]
    confidences: sequence[float32]


@dataclass
class Skeleton3DArray(IdlStruct, typename="a4mer_msgs::msg::dds_::Skeleton3DArray_"):
    header: Header
    bodies: sequence[Skeleton3D]


@dataclass
class PoseForecast(IdlStruct, typename="a4mer_msgs::msg::dds_::PoseForecast_"):
    header: Header
    person_id: uint32
    step_period: Duration
    joint_names: sequence[str]
    num_steps: uint32
    points: sequence[Point]
    spread_m: sequence[float32]
    guard_sources: sequence[str]
    guard_horizons_s: sequence[float32]
    guard_weights: sequence[float32]
    model_losing: sequence[bool]


@dataclass
class MotifAnticipation(IdlStruct, typename="a4mer_msgs::msg::dds_::MotifAnticipation_"):
    header: Header
    person_id: uint32
    motif_now: int32
    motif_now_confidence: float32
    next_motif_ids: sequence[int32]
    next_motif_probabilities: sequence[float32]
    expected_time_to_transition_s: float32
    health: uint8
    next_motif_horizon_s: float32


def ns_of(t):
    return t.sec * 1_000_000_000 + t.nanosec


def nan_to_none(v):
    return None if math.isnan(v) else v


def finite_or_nan(joints):
    """null (an unobserved joint in the JSON) becomes NaN, as pose estimators send it."""
    return [[math.nan] * 3 if p is None else p for p in joints]


def main():
    frames = json.load(open(sys.argv[1]))
    node_fqn, domain = sys.argv[2], int(sys.argv[3])
    stamps = frames["stamps_ns"]
    people = {pid: [finite_or_nan(j) for j in track] for pid, track in frames["people"].items()}
    names = frames["joint_names"]

    dp = DomainParticipant(domain)
    xcdr1 = Policy.DataRepresentation(use_cdrv0_representation=True)
    pub_qos = Qos(Policy.Reliability.Reliable(max_blocking_time=1_000_000_000), Policy.History.KeepLast(10), xcdr1)
    sub_qos = Qos(Policy.Reliability.Reliable(max_blocking_time=1_000_000_000), Policy.History.KeepLast(1000), xcdr1)
    writer = DataWriter(dp, Topic(dp, "rt" + node_fqn + "/poses", Skeleton3DArray), qos=pub_qos)
    forecasts = DataReader(dp, Topic(dp, "rt" + node_fqn + "/forecast", PoseForecast), qos=sub_qos)
    motifs = DataReader(dp, Topic(dp, "rt" + node_fqn + "/motifs", MotifAnticipation), qos=sub_qos)

    tf = frames.get("tf")
    moving, sent_moving = [], 0
    if tf is not None:
        latched = Qos(Policy.Reliability.Reliable(max_blocking_time=1_000_000_000), Policy.History.KeepLast(1),
                      Policy.Durability.TransientLocal, xcdr1)
        # Written before anyone matched: the node gets it only if /tf_static is latched.
        static_writer = DataWriter(dp, Topic(dp, "rt/tf_static", TFMessage), qos=latched)
        static_writer.write(TFMessage(transforms=[stamped(t) for t in tf["static"]]))
        tf_writer = DataWriter(dp, Topic(dp, "rt/tf", TFMessage), qos=pub_qos)
        moving = sorted(tf["moving"], key=lambda t: t["stamp_ns"])

    def send_tf_until(ns):
        nonlocal sent_moving
        stop = tf["stop_after_ns"] if tf is not None else None
        while sent_moving < len(moving) and moving[sent_moving]["stamp_ns"] <= ns:
            t = moving[sent_moving]
            if stop is None or t["stamp_ns"] <= stop:
                tf_writer.write(TFMessage(transforms=[stamped(t)]))
            sent_moving += 1

    got_forecasts, got_motifs = [], []

    def drain():
        for f in forecasts.take(N=1000):
            got_forecasts.append({
                "stamp_ns": ns_of(f.header.stamp), "frame_id": f.header.frame_id, "person_id": f.person_id,
                "step_period_ns": ns_of(f.step_period), "joint_names": list(f.joint_names),
                "num_steps": f.num_steps, "points": [[nan_to_none(p.x), nan_to_none(p.y), nan_to_none(p.z)] for p in f.points],
                "spread_m": list(f.spread_m), "guard_sources": list(f.guard_sources),
                "guard_horizons_s": list(f.guard_horizons_s), "guard_weights": list(f.guard_weights),
                "model_losing": list(f.model_losing)})
        for m in motifs.take(N=1000):
            got_motifs.append({
                "stamp_ns": ns_of(m.header.stamp), "person_id": m.person_id, "motif_now": m.motif_now,
                "motif_now_confidence": m.motif_now_confidence, "next_motif_ids": list(m.next_motif_ids),
                "next_motif_probabilities": list(m.next_motif_probabilities),
                "expected_time_to_transition_s": nan_to_none(m.expected_time_to_transition_s), "health": m.health})

    deadline = time.monotonic() + 20
    while not (writer.get_matched_subscriptions() and forecasts.get_matched_publications()
               and motifs.get_matched_publications() and (tf is None or tf_writer.get_matched_subscriptions())):
        if time.monotonic() > deadline:
            raise SystemExit("a4mer_node not discovered within 20 s")
        time.sleep(0.05)
    # Matching is seen from our side first; give the node's writers time to match our
    # readers too (volatile outputs are not resent to late readers).
    time.sleep(1.0)

    pose_frame = frames.get("frame_id", "world")
    lead_ns = tf["lead_ns"] if tf is not None else 0
    next_t = time.monotonic()
    for k, ns in enumerate(stamps):
        send_tf_until(ns + lead_ns)
        bodies = [
            Skeleton3D(id=int(pid), layout="smpl24", joint_names=names,
                       joints=[Point(*j) for j in track[k]], confidences=[0.0 if math.isnan(j[0]) else 1.0 for j in track[k]])
            for pid, track in people.items()
        ]
        writer.write(Skeleton3DArray(header=Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000),
                                                   frame_id=pose_frame), bodies=bodies))
        next_t += 1.0 / 30.0
        while time.monotonic() < next_t:
            drain()
            time.sleep(0.002)
    # Until what the test expects has come (a loaded host may take long; 30 s is a node
    # that sends nothing more), then a little longer for anything beyond it.
    want_forecasts, want_motifs = frames.get("expect_forecasts"), frames.get("expect_motifs")
    if want_forecasts is not None and want_motifs is not None:
        end = time.monotonic() + 30.0
        while (len(got_forecasts) < want_forecasts or len(got_motifs) < want_motifs) and time.monotonic() < end:
            drain()
            time.sleep(0.01)
        end = time.monotonic() + 0.5
    else:
        end = time.monotonic() + 2.0
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    print(json.dumps({"forecasts": got_forecasts, "motifs": got_motifs}))


if __name__ == "__main__":
    main()
