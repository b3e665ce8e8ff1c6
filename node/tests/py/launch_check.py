"""Static checks of launch/a4mer.launch.{xml,py} without ROS launch installed.

Prints JSON: the launch arguments (name -> default) of each file, the XML's executable
command, and the LaunchConfiguration names the Python file reads.
usage: launch_check.py LAUNCH_DIR
"""

import ast
import json
import os
import re
import sys
import xml.etree.ElementTree as ET



def check(ok, what):
    # Not `assert`: `python -O` strips asserts, and the checks would pass unseen.
    if not ok:
        sys.exit(f"launch_check.py: {what}")


launch_dir = sys.argv[1]
root = ET.parse(os.path.join(launch_dir, "a4mer.launch.xml")).getroot()
check(root.tag == "launch", f"the XML root is <{root.tag}>, not <launch>")
xml_args = {a.get("name"): a.get("default") for a in root.findall("arg")}
cmds = [e.get("cmd") for e in root.findall("executable")]
check(len(cmds) == 1, f"the XML has {len(cmds)} <executable> elements, not 1: {cmds}")
xml_vars = sorted(set(re.findall(r"\$\(var (\w+)\)", cmds[0])))

tree = ast.parse(open(os.path.join(launch_dir, "a4mer.launch.py")).read())
py_args, py_reads = {}, set()
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DeclareLaunchArgument":
        name = node.args[0].value
        default = next((k.value for k in node.keywords if k.arg == "default_value"), None)
        py_args[name] = ast.unparse(default) if default is not None else None
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LaunchConfiguration":
        py_reads.add(node.args[0].value)
check(
    any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body),
    "a4mer.launch.py defines no generate_launch_description()",
)

print(json.dumps({"xml_args": xml_args, "xml_cmd": cmds[0], "xml_vars": xml_vars,
                  "py_args": py_args, "py_reads": sorted(py_reads)}))
