"""A producer of a4mer_msgs/Skeleton3DArray in an older layout (Cyclone DDS, Python, IDL
written by hand): Skeleton3D without its last field, `confidences`.

a4mer_msgs has had no such revision (the skeleton types are unchanged since the package
was added); this is the layout of a producer built from a draft of the package, or one that
left the field out as optional. It goes out under the same DDS type name, so it matches
the node's input by name alone, as a real older peer would.

Sends N_MESSAGES of them at 30 Hz (1 to 3 real people each, from FRAMES_JSON), records the
node's /diagnostics, and prints one JSON line: the number sent, the WARN messages seen and
the last report.

usage: cyclone_older_layout.py FRAMES_JSON NODE_FQN DOMAIN_ID
FRAMES_JSON as for cyclone_peer.py ("stamps_ns", "joint_names", "people").
Loopback only: run with CYCLONEDDS_URI restricting Cyclone to 127.0.0.1.
"""

import json
import math
import sys
import time
from dataclasses import dataclass

from cyclonedds.core import Policy, Qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import sequence, uint8, uint32
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

# The standard types as the peer of the current layout writes them (same directory).
from cyclone_peer import Header, Point, Time


@dataclass
class OlderSkeleton3D(IdlStruct, typename="a4mer_msgs::msg::dds_::Skeleton3D_"):
    id: uint32
    layout: str
    joint_names: sequence[str]
    joints: sequence[Point]


@dataclass
class OlderSkeleton3DArray(IdlStruct, typename="a4mer_msgs::msg::dds_::Skeleton3DArray_"):
    header: Header
    bodies: sequence[OlderSkeleton3D]


@dataclass
class KeyValue(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    key: str
    value: str


@dataclass
class DiagnosticStatus(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"):
    level: uint8
    name: str
    message: str
    hardware_id: str
    values: sequence[KeyValue]


@dataclass
class DiagnosticArray(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticArray_"):
    header: Header
    status: sequence[DiagnosticStatus]


N_MESSAGES = 90


def main():
    frames = json.load(open(sys.argv[1]))
    node_fqn, domain = sys.argv[2], int(sys.argv[3])
    stamps, names = frames["stamps_ns"], frames["joint_names"]
    people = [(int(pid), track) for pid, track in frames["people"].items()]

    dp = DomainParticipant(domain)
    xcdr1 = Policy.DataRepresentation(use_cdrv0_representation=True)
    pub_qos = Qos(Policy.Reliability.Reliable(max_blocking_time=1_000_000_000), Policy.History.KeepLast(100), xcdr1)
    sub_qos = Qos(Policy.Reliability.Reliable(max_blocking_time=1_000_000_000), Policy.History.KeepLast(1000), xcdr1)
    writer = DataWriter(dp, Topic(dp, "rt" + node_fqn + "/poses", OlderSkeleton3DArray), qos=pub_qos)
    diagnostics = DataReader(dp, Topic(dp, "rt/diagnostics", DiagnosticArray), qos=sub_qos)
    reports = []

    def drain():
        for d in diagnostics.take(N=100):
            for s in d.status:
                if s.name.endswith(": anticipation"):
                    reports.append({"level": s.level, "message": s.message,
                                    "values": {kv.key: kv.value for kv in s.values}})

    deadline = time.monotonic() + 20
    while not (writer.get_matched_subscriptions() and diagnostics.get_matched_publications()):
        if time.monotonic() > deadline:
            raise SystemExit("a4mer_node not discovered within 20 s")
        time.sleep(0.05)
    time.sleep(1.0)

    next_t = time.monotonic()
    for k in range(N_MESSAGES):
        ns = stamps[k % len(stamps)]
        bodies = [
            OlderSkeleton3D(id=pid, layout="smpl24", joint_names=names,
                            joints=[Point(math.nan, math.nan, math.nan) if j is None else Point(*j)
                                    for j in track[k % len(track)]])
            for pid, track in people[: 1 + k % len(people)]
        ]
        writer.write(OlderSkeleton3DArray(
            header=Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id="world"),
            bodies=bodies))
        next_t += 1.0 / 30.0
        while time.monotonic() < next_t:
            drain()
            time.sleep(0.002)
    # Reports come every diagnostics.period_s: wait for two after the last message.
    seen = len(reports)
    end = time.monotonic() + 10
    while len(reports) < seen + 2 and time.monotonic() < end:
        drain()
        time.sleep(0.02)
    drain()
    warnings = sorted({r["message"] for r in reports if r["level"] == 1})
    print(json.dumps({"sent": N_MESSAGES, "warnings": warnings, "last_report": reports[-1] if reports else None}))


if __name__ == "__main__":
    main()
