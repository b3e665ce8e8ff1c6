"""Start a4mer_node: `ros2 launch a4mer.launch.py [namespace:=robot1] [params_file:=...]`.

a4mer_node is a standalone binary (no ROS install needed to run it), so this starts it as a
process with standard ROS arguments rather than through an ament package index. Every
parameter is documented in params/a4mer.yaml.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_launch_description():
    args = [
        DeclareLaunchArgument("namespace", default_value="/", description="Namespace of the node (e.g. /robot1)."),
        DeclareLaunchArgument("node_name", default_value="a4mer_node", description="Name of the node."),
        DeclareLaunchArgument(
            "params_file",
            default_value=os.path.join(HERE, "params", "a4mer.yaml"),
            description="ROS parameters file (see params/a4mer.yaml).",
        ),
        DeclareLaunchArgument(
            "poses_topic", default_value="~/poses", description="Input pose topic (remaps ~/poses)."
        ),
        DeclareLaunchArgument(
            "executable",
            default_value="a4mer_node",
            description="Path of the a4mer_node binary (default: found on PATH).",
        ),
    ]
    node = ExecuteProcess(
        cmd=[
            LaunchConfiguration("executable"),
            "--ros-args",
            "-r", ["__ns:=", LaunchConfiguration("namespace")],
            "-r", ["__node:=", LaunchConfiguration("node_name")],
            "-r", ["~/poses:=", LaunchConfiguration("poses_topic")],
            "--params-file", LaunchConfiguration("params_file"),
        ],
        name="a4mer_node",
        output="screen",
        # SIGINT first (the node stops cleanly on SIGINT and SIGTERM).
        sigterm_timeout="5",
    )
    return LaunchDescription(args + [node])
