"""Write a rosbag2 bag with the independent `rosbags` package, from poses given as JSON.

Usage: rosbags_write.py FRAMES.json MSG_DIR OUT_BAG mcap|sqlite3 [none|storage|message|file]

FRAMES.json: {"frame_id": str, "frames": [{"stamp_ns": int, "joints": [[x, y, z] x 24],
"valid": [bool x 24]}]}; a frame may instead list "bodies": [{"id": int, "joints": ...,
"valid": ...}] (several people, or none). Writes two topics: /poses (a4mer_msgs/msg/Skeleton3DArray, types
read from MSG_DIR/*.msg) and /pose_array (geometry_msgs/msg/PoseArray, rosbags' own Jazzy
definition). Compression (zstd): `storage` compresses MCAP chunks, `message` each payload,
`file` the whole storage file, as `ros2 bag record --compression-mode` does.
"""

import json
import sys

import numpy as np
from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

SMPL24 = [
    'pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2', 'left_ankle',
    'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck', 'left_collar', 'right_collar', 'head',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
    'left_hand', 'right_hand',
]


def main():
    frames_path, msg_dir, out, storage = sys.argv[1:5]
    compression = sys.argv[5] if len(sys.argv) > 5 else 'none'
    doc = json.loads(Path(frames_path).read_text())
    typestore = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for path in sorted(Path(msg_dir).glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'a4mer_msgs/msg/{path.stem}'))
    typestore.register(types)

    Skeleton3DArray = typestore.types['a4mer_msgs/msg/Skeleton3DArray']
    Skeleton3D = typestore.types['a4mer_msgs/msg/Skeleton3D']
    Header = typestore.types['std_msgs/msg/Header']
    Time = typestore.types['builtin_interfaces/msg/Time']
    Point = typestore.types['geometry_msgs/msg/Point']
    Pose = typestore.types['geometry_msgs/msg/Pose']
    Quaternion = typestore.types['geometry_msgs/msg/Quaternion']
    PoseArray = typestore.types['geometry_msgs/msg/PoseArray']

    sensor = Qos(
        QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE,
        QosTime(0, 0), QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False,
    )
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    writer = Writer(Path(out), version=9, storage_plugin=plugin)
    if compression != 'none':
        writer.set_compression(CompressionMode[compression.upper()], CompressionFormat.ZSTD)
    with writer:
        poses = writer.add_connection(
            '/poses', 'a4mer_msgs/msg/Skeleton3DArray', typestore=typestore, offered_qos_profiles=[sensor],
        )
        pose_array = writer.add_connection(
            '/pose_array', 'geometry_msgs/msg/PoseArray', typestore=typestore, offered_qos_profiles=[sensor],
        )
        for f in doc['frames']:
            ns = f['stamp_ns']
            header = Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000), frame_id=doc['frame_id'])
            nan = float('nan')

            def body_of(b):
                points = [
                    Point(x=p[0], y=p[1], z=p[2]) if ok else Point(x=nan, y=nan, z=nan)
                    for p, ok in zip(b['joints'], b['valid'])
                ]
                return points, Skeleton3D(
                    id=b.get('id', 1), layout='smpl24', joint_names=SMPL24, joints=points,
                    confidences=np.array([1.0 if ok else 0.0 for ok in b['valid']], dtype=np.float32),
                )

            bodies = f['bodies'] if 'bodies' in f else [f]
            made = [body_of(b) for b in bodies]
            msg = Skeleton3DArray(header=header, bodies=[m[1] for m in made])
            writer.write(poses, ns, typestore.serialize_cdr(msg, Skeleton3DArray.__msgtype__))
            points = made[0][0] if made else []
            arr = PoseArray(
                header=header,
                poses=[Pose(position=p, orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)) for p in points],
            )
            writer.write(pose_array, ns, typestore.serialize_cdr(arr, PoseArray.__msgtype__))


if __name__ == '__main__':
    main()
