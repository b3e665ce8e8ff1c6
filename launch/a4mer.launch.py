"""Start a4mer_node: `ros2 launch a4mer.launch.py [namespace:=robot1] [params_file:=...] [managed:=true]`.

a4mer_node is a standalone binary (no ROS install needed to run it), so this starts it as a
process with standard ROS arguments rather than through an ament package index. Every
parameter is documented in params/a4mer.yaml.

managed:=false (the default): the node configures and activates itself at start-up.
managed:=true: the node starts unconfigured (lifecycle.autostart false) as a launch_ros
LifecycleNode, and this file drives it: configure at start, activate once it is inactive.
Other lifecycle managers (nav2_lifecycle_manager, `ros2 lifecycle set`) can then deactivate
and activate it; deactivating stops the outputs and degrades the safety link's frames.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, RegisterEventHandler
from launch.conditions import IfCondition, UnlessCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

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
        DeclareLaunchArgument(
            "managed",
            default_value="false",
            description="true: start unconfigured as a managed node and drive it to active from here.",
        ),
    ]
    managed = IfCondition(LaunchConfiguration("managed"))
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
        condition=UnlessCondition(LaunchConfiguration("managed")),
    )
    # Without `package`, launch_ros runs `executable` as given (a path or a name on PATH).
    lifecycle_node = LifecycleNode(
        executable=LaunchConfiguration("executable"),
        name=LaunchConfiguration("node_name"),
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file"), {"lifecycle.autostart": False}],
        remappings=[("~/poses", LaunchConfiguration("poses_topic"))],
        output="screen",
        sigterm_timeout="5",
        condition=managed,
    )
    configure = EmitEvent(
        event=ChangeState(
            lifecycle_node_matcher=matches_action(lifecycle_node),
            transition_id=Transition.TRANSITION_CONFIGURE,
        ),
        condition=managed,
    )
    # Only after configuring: a later deactivate (by an operator or a manager) must stick.
    activate = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=lifecycle_node,
            start_state="configuring",
            goal_state="inactive",
            entities=[
                EmitEvent(
                    event=ChangeState(
                        lifecycle_node_matcher=matches_action(lifecycle_node),
                        transition_id=Transition.TRANSITION_ACTIVATE,
                    )
                )
            ],
        ),
        condition=managed,
    )
    return LaunchDescription(args + [node, lifecycle_node, activate, configure])
