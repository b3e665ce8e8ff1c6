//! ROS 2 command-line conventions, as rcl implements them, for a node without rcl.
//!
//! - [`RosArgs::parse`]: `--ros-args ... [--]` sections: `-r/--remap [node:]from:=to`
//!   (with `__ns` and `__node`), `-p/--param [node:]name:=value`, `--params-file FILE`,
//!   `--log-level`, `-e/--enclave`, and the logging switches.
//! - [`params`]: parameter files (`/**:` / node-name keys with `ros__parameters:`) and
//!   `-p` overrides, merged in command-line order, with typed getters whose errors name
//!   the parameter.
//! - [`names`]: node name and namespace, and topic name resolution (`~/poses`,
//!   relative, absolute, `{node}`/`{ns}`), then remapping.
//! - [`env`]: `ROS_DOMAIN_ID`, `ROS_LOCALHOST_ONLY`, `ROS_AUTOMATIC_DISCOVERY_RANGE`,
//!   `ROS_STATIC_PEERS`, and `ROS_SECURITY_*` ([`crate::security`]) (ros2-client does not
//!   read them).

pub mod env;
pub mod names;
pub mod params;

use std::path::PathBuf;

pub use env::{DiscoveryRange, RosEnv};
pub use names::NodeNames;
pub use params::{ParamValue, Parameters};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArgsError {
    #[error("--ros-args: {flag} needs a value")]
    MissingValue { flag: String },
    #[error("--ros-args: unknown argument `{arg}`")]
    Unknown { arg: String },
    #[error("--ros-args: {flag} `{rule}`: expected {expected}")]
    BadRule {
        flag: String,
        rule: String,
        expected: &'static str,
    },
}

/// One remapping rule; `node` limits it to the node of that name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remap {
    pub node: Option<String>,
    pub from: String,
    pub to: String,
}

/// Where parameter values come from, in command-line order (later wins).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamSource {
    File(PathBuf),
    /// `-p [node:]name:=value`; the value is YAML, as rcl reads it.
    Override {
        node: Option<String>,
        name: String,
        value: String,
    },
}

/// Everything inside `--ros-args` sections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RosArgs {
    pub remaps: Vec<Remap>,
    pub params: Vec<ParamSource>,
    pub log_levels: Vec<String>,
    pub enclave: Option<String>,
}

impl RosArgs {
    /// Split `args` (without the program name) into the node's own arguments and the ROS
    /// arguments. A section runs from `--ros-args` to `--` or the end; there may be several.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<(Vec<String>, RosArgs), ArgsError> {
        let mut user = Vec::new();
        let mut ros = RosArgs::default();
        let mut in_ros = false;
        let mut it = args.iter().map(|s| s.as_ref());
        while let Some(arg) = it.next() {
            if !in_ros {
                if arg == "--ros-args" {
                    in_ros = true;
                } else {
                    user.push(arg.to_string());
                }
                continue;
            }
            let mut value = |flag: &str| {
                it.next()
                    .map(str::to_string)
                    .ok_or_else(|| ArgsError::MissingValue { flag: flag.to_string() })
            };
            match arg {
                "--" => in_ros = false,
                "--ros-args" => {}
                "-r" | "--remap" => {
                    let rule = value(arg)?;
                    ros.remaps.push(parse_remap(arg, &rule)?);
                }
                "-p" | "--param" => {
                    let rule = value(arg)?;
                    let (node, name, v) = split_rule(&rule).ok_or_else(|| ArgsError::BadRule {
                        flag: arg.into(),
                        rule: rule.clone(),
                        expected: "[node:]name:=value",
                    })?;
                    ros.params.push(ParamSource::Override { node, name, value: v });
                }
                "--params-file" => ros.params.push(ParamSource::File(PathBuf::from(value(arg)?))),
                "--log-level" => ros.log_levels.push(value(arg)?),
                "-e" | "--enclave" => ros.enclave = Some(value(arg)?),
                "--log-config-file" | "--log-file-name" => {
                    value(arg)?;
                }
                "--enable-rosout-logs"
                | "--disable-rosout-logs"
                | "--enable-stdout-logs"
                | "--disable-stdout-logs"
                | "--enable-external-lib-logs"
                | "--disable-external-lib-logs" => {}
                other => return Err(ArgsError::Unknown { arg: other.into() }),
            }
        }
        Ok((user, ros))
    }
}

/// `[node:]from:=to` → (node, from, to). The node prefix is the part before a `:` that is
/// not the `:=` itself.
fn split_rule(rule: &str) -> Option<(Option<String>, String, String)> {
    let (lhs, rhs) = rule.split_once(":=")?;
    let (node, lhs) = match lhs.split_once(':') {
        Some((n, l)) => (Some(n.to_string()), l),
        None => (None, lhs),
    };
    if lhs.is_empty() || node.as_deref() == Some("") {
        return None;
    }
    Some((node, lhs.to_string(), rhs.to_string()))
}

fn parse_remap(flag: &str, rule: &str) -> Result<Remap, ArgsError> {
    let (node, from, to) = split_rule(rule)
        .filter(|(_, _, to)| !to.is_empty())
        .ok_or_else(|| ArgsError::BadRule {
            flag: flag.into(),
            rule: rule.into(),
            expected: "[node:]from:=to",
        })?;
    let from = if from == "__name" { "__node".to_string() } else { from };
    Ok(Remap { node, from, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_user_and_ros_arguments_across_sections() {
        let args = [
            "--model",
            "m.a4m",
            "--ros-args",
            "-r",
            "__ns:=/robot1",
            "--remap",
            "a4mer_node:~/poses:=/zed/body_trk/skeletons",
            "-p",
            "input.type:=zed",
            "--params-file",
            "p.yaml",
            "--log-level",
            "debug",
            "--disable-rosout-logs",
            "--",
            "--verbose",
            "--ros-args",
            "-r",
            "__node:=a4mer_left",
        ];
        let (user, ros) = RosArgs::parse(&args).unwrap();
        assert_eq!(user, ["--model", "m.a4m", "--verbose"]);
        assert_eq!(
            ros.remaps,
            [
                Remap {
                    node: None,
                    from: "__ns".into(),
                    to: "/robot1".into()
                },
                Remap {
                    node: Some("a4mer_node".into()),
                    from: "~/poses".into(),
                    to: "/zed/body_trk/skeletons".into()
                },
                Remap {
                    node: None,
                    from: "__node".into(),
                    to: "a4mer_left".into()
                },
            ]
        );
        assert_eq!(
            ros.params,
            [
                ParamSource::Override {
                    node: None,
                    name: "input.type".into(),
                    value: "zed".into()
                },
                ParamSource::File("p.yaml".into()),
            ]
        );
        assert_eq!(ros.log_levels, ["debug"]);
    }

    #[test]
    fn malformed_ros_arguments_are_named() {
        let e = RosArgs::parse(&["--ros-args", "-r"]).unwrap_err();
        assert_eq!(e.to_string(), "--ros-args: -r needs a value");
        let e = RosArgs::parse(&["--ros-args", "-r", "poses=/x"]).unwrap_err();
        assert!(e.to_string().contains("`poses=/x`: expected [node:]from:=to"), "{e}");
        let e = RosArgs::parse(&["--ros-args", "-p", ":=3"]).unwrap_err();
        assert!(e.to_string().contains("[node:]name:=value"), "{e}");
        let e = RosArgs::parse(&["--ros-args", "--remapp", "a:=b"]).unwrap_err();
        assert_eq!(e, ArgsError::Unknown { arg: "--remapp".into() });
        // Outside a section, anything goes to the node.
        let (user, ros) = RosArgs::parse(&["-r", "x"]).unwrap();
        assert_eq!(user, ["-r", "x"]);
        assert_eq!(ros, RosArgs::default());
    }
}
