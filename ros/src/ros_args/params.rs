//! Parameters: standard ROS 2 parameter files and `-p` overrides.
//!
//! A parameter file maps node names to `ros__parameters`:
//!
//! ```yaml
//! /**:                      # every node
//!   ros__parameters:
//!     use_sim_time: false
//! a4mer_node:               # /a4mer_node; also "/robot1/a4mer_node", "/**/a4mer_node"
//!   ros__parameters:
//!     input:
//!       type: zed           # nested keys join with dots: input.type
//! ```
//!
//! Sources apply in command-line order; a later value replaces an earlier one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ParamSource, RosArgs};

/// A parameter value, with the types ROS 2 parameters have.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Bool(bool),
    Integer(i64),
    Double(f64),
    String(String),
    BoolArray(Vec<bool>),
    IntegerArray(Vec<i64>),
    DoubleArray(Vec<f64>),
    StringArray(Vec<String>),
}

impl ParamValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool",
            Self::Integer(_) => "integer",
            Self::Double(_) => "double",
            Self::String(_) => "string",
            Self::BoolArray(_) => "bool array",
            Self::IntegerArray(_) => "integer array",
            Self::DoubleArray(_) => "double array",
            Self::StringArray(_) => "string array",
        }
    }

    fn from_yaml(v: &Value) -> Result<Self, String> {
        Ok(match v {
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Self::Integer(i),
                (None, Some(f)) if n.is_f64() => Self::Double(f),
                _ => return Err(format!("{n} does not fit a 64-bit integer")),
            },
            Value::String(s) => Self::String(s.clone()),
            Value::Null => return Err("has no value".into()),
            Value::Object(_) => return Err("is a mapping, not a value".into()),
            Value::Array(items) => {
                if items.is_empty() {
                    // An empty list fits any array type; the getter decides.
                    return Ok(Self::StringArray(Vec::new()));
                }
                if let Some(b) = items.iter().map(Value::as_bool).collect::<Option<Vec<_>>>() {
                    Self::BoolArray(b)
                } else if let Some(i) = items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>() {
                    Self::IntegerArray(i)
                } else if let Some(f) = items.iter().map(Value::as_f64).collect::<Option<Vec<_>>>() {
                    Self::DoubleArray(f)
                } else if let Some(s) = items
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                {
                    Self::StringArray(s)
                } else {
                    return Err("is a list of mixed types".into());
                }
            }
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("parameter file {path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("parameter file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("parameter `{name}` ({origin}): {reason}")]
    Value {
        name: String,
        origin: String,
        reason: String,
    },
    #[error("parameter `{name}`: expected {expected}, got {found} {value}")]
    Type {
        name: String,
        expected: &'static str,
        found: &'static str,
        value: String,
    },
    #[error("parameter `{name}`: {reason}")]
    Invalid { name: String, reason: String },
    #[error("unknown parameter `{name}` (from {origin}); known parameters: {known}")]
    Unknown {
        name: String,
        origin: String,
        known: String,
    },
}

/// The parameters that apply to one node, with where each value came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parameters {
    values: BTreeMap<String, (ParamValue, String)>,
}

/// Does a parameter-file node key (`/**`, `a4mer_node`, `/ns/*/node`, `/**/node`) name
/// the node `fqn` (`/ns/node`)?
fn node_key_matches(key: &str, fqn: &str) -> bool {
    let key = key.strip_prefix('/').unwrap_or(key);
    let pattern: Vec<&str> = key.split('/').collect();
    let name: Vec<&str> = fqn.trim_start_matches('/').split('/').collect();
    fn matches(p: &[&str], n: &[&str]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((&"**", rest)) => (0..=n.len()).any(|k| matches(rest, &n[k..])),
            Some((&"*", rest)) => !n.is_empty() && matches(rest, &n[1..]),
            Some((tok, rest)) => n.first() == Some(tok) && matches(rest, &n[1..]),
        }
    }
    matches(&pattern, &name)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
}

impl Parameters {
    /// Collect the parameters for the node `fqn` (e.g. `/robot1/a4mer_node`) from `args`.
    pub fn load(args: &RosArgs, node_name: &str, fqn: &str) -> Result<Self, ParamError> {
        let mut out = Self::default();
        for source in &args.params {
            match source {
                ParamSource::File(path) => out.merge_file(path, fqn)?,
                ParamSource::Override { node, name, value } => {
                    if node
                        .as_deref()
                        .is_some_and(|n| n != node_name && !node_key_matches(n, fqn))
                    {
                        continue;
                    }
                    let origin = format!("-p {name}:={value}");
                    let parsed = parse_yaml(value).map_err(|reason| ParamError::Value {
                        name: name.clone(),
                        origin: origin.clone(),
                        reason,
                    })?;
                    // `-p name:=` sets the empty string.
                    let parsed = if value.trim().is_empty() {
                        ParamValue::String(String::new())
                    } else {
                        ParamValue::from_yaml(&parsed).map_err(|reason| ParamError::Value {
                            name: name.clone(),
                            origin: origin.clone(),
                            reason,
                        })?
                    };
                    out.values.insert(name.clone(), (parsed, origin));
                }
            }
        }
        Ok(out)
    }

    fn merge_file(&mut self, path: &Path, fqn: &str) -> Result<(), ParamError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ParamError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        let file_err = |reason: String| ParamError::File {
            path: path.to_path_buf(),
            reason,
        };
        let doc = parse_yaml(&text).map_err(|e| file_err(format!("not valid YAML: {e}")))?;
        let Value::Object(nodes) = doc else {
            return Err(file_err("expected a mapping of node names to `ros__parameters`".into()));
        };
        for (key, body) in &nodes {
            if !node_key_matches(key, fqn) {
                continue;
            }
            let params = body
                .get("ros__parameters")
                .ok_or_else(|| file_err(format!("`{key}` has no `ros__parameters`")))?;
            let mut flat = Vec::new();
            flatten("", params, &mut flat);
            for (name, v) in flat {
                if name.is_empty() {
                    return Err(file_err(format!("`{key}.ros__parameters` is not a mapping")));
                }
                let origin = format!("{} ({key})", path.display());
                let value = ParamValue::from_yaml(&v).map_err(|reason| ParamError::Value {
                    name: name.clone(),
                    origin: origin.clone(),
                    reason,
                })?;
                self.values.insert(name, (value, origin));
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// Set `name` to `value` from `origin` (e.g. a `set_parameters` request): for checking a
    /// change with the same validation start-up runs.
    pub fn set(&mut self, name: &str, value: ParamValue, origin: impl Into<String>) {
        self.values.insert(name.to_string(), (value, origin.into()));
    }

    /// Where `name` was set (file and node key, or the `-p` rule).
    pub fn origin(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(_, o)| o.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Fail on any parameter not in `known`: a typo must not silently fall back to a default.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), ParamError> {
        for (name, (_, origin)) in &self.values {
            if !known.contains(&name.as_str()) {
                return Err(ParamError::Unknown {
                    name: name.clone(),
                    origin: origin.clone(),
                    known: known.join(", "),
                });
            }
        }
        Ok(())
    }

    fn typed<T>(
        &self,
        name: &str,
        expected: &'static str,
        pick: impl Fn(&ParamValue) -> Option<T>,
    ) -> Result<Option<T>, ParamError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => pick(v).map(Some).ok_or_else(|| ParamError::Type {
                name: name.into(),
                expected,
                found: v.type_name(),
                value: format!("{v:?}"),
            }),
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        Ok(self
            .typed(name, "bool", |v| match v {
                ParamValue::Bool(b) => Some(*b),
                _ => None,
            })?
            .unwrap_or(default))
    }

    pub fn i64_or(&self, name: &str, default: i64) -> Result<i64, ParamError> {
        Ok(self
            .typed(name, "integer", |v| match v {
                ParamValue::Integer(i) => Some(*i),
                _ => None,
            })?
            .unwrap_or(default))
    }

    /// A double; an integer is accepted too (`gap_limit_s: 1` means 1.0).
    pub fn f64_or(&self, name: &str, default: f64) -> Result<f64, ParamError> {
        Ok(self
            .typed(name, "double", |v| match v {
                ParamValue::Double(f) => Some(*f),
                ParamValue::Integer(i) => Some(*i as f64),
                _ => None,
            })?
            .unwrap_or(default))
    }

    pub fn string_or(&self, name: &str, default: &str) -> Result<String, ParamError> {
        Ok(self
            .typed(name, "string", |v| match v {
                ParamValue::String(s) => Some(s.clone()),
                _ => None,
            })?
            .unwrap_or_else(|| default.to_string()))
    }

    pub fn string_array_or(&self, name: &str, default: &[&str]) -> Result<Vec<String>, ParamError> {
        Ok(self
            .typed(name, "string array", |v| match v {
                ParamValue::StringArray(s) => Some(s.clone()),
                _ => None,
            })?
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
    }

    /// A double array; integers are accepted too (`[0, 0, 1]`).
    pub fn f64_array_or(&self, name: &str, default: &[f64]) -> Result<Vec<f64>, ParamError> {
        Ok(self
            .typed(name, "double array", |v| match v {
                ParamValue::DoubleArray(d) => Some(d.clone()),
                ParamValue::IntegerArray(i) => Some(i.iter().map(|v| *v as f64).collect()),
                _ => None,
            })?
            .unwrap_or_else(|| default.to_vec()))
    }

    /// One of `choices`, e.g. `input.type`.
    pub fn choice_or(&self, name: &str, choices: &[&str], default: &str) -> Result<String, ParamError> {
        let v = self.string_or(name, default)?;
        if choices.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(ParamError::Invalid {
                name: name.into(),
                reason: format!("`{v}` is not one of: {}", choices.join(", ")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str], fqn: &str) -> Result<Parameters, ParamError> {
        let mut all = vec!["--ros-args"];
        all.extend_from_slice(args);
        let (_, ros) = RosArgs::parse(&all).unwrap();
        let name = fqn.rsplit('/').next().unwrap();
        Parameters::load(&ros, name, fqn)
    }

    #[test]
    fn node_keys_match_like_rcl() {
        for (key, fqn, want) in [
            ("/**", "/a4mer_node", true),
            ("/**", "/robot1/a4mer_node", true),
            ("a4mer_node", "/a4mer_node", true),
            ("/a4mer_node", "/a4mer_node", true),
            ("a4mer_node", "/robot1/a4mer_node", false),
            ("/robot1/a4mer_node", "/robot1/a4mer_node", true),
            ("/**/a4mer_node", "/robot1/cell/a4mer_node", true),
            ("/**/a4mer_node", "/a4mer_node", true),
            ("/*/a4mer_node", "/robot1/a4mer_node", true),
            ("/*/a4mer_node", "/a4mer_node", false),
            ("/robot2/a4mer_node", "/robot1/a4mer_node", false),
            ("other_node", "/a4mer_node", false),
        ] {
            assert_eq!(node_key_matches(key, fqn), want, "{key} vs {fqn}");
        }
    }

    #[test]
    fn file_then_overrides_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a4mer.yaml");
        std::fs::write(
            &file,
            "/**:\n  ros__parameters:\n    use_sim_time: true\n    max_tracks: 4\n\
             a4mer_node:\n  ros__parameters:\n    input:\n      type: zed\n      joint_order: [pelvis, head]\n    \
             gap_limit_s: 0.5\n    ids: [1, 2]\n    weights: [1, 2.5]\n    empty: []\n    name: '42'\n\
             other_node:\n  ros__parameters:\n    max_tracks: 99\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let p = load(&["--params-file", f, "-p", "max_tracks:=8"], "/a4mer_node").unwrap();
        assert!(p.bool_or("use_sim_time", false).unwrap());
        assert_eq!(p.i64_or("max_tracks", 1).unwrap(), 8);
        assert_eq!(p.origin("max_tracks"), Some("-p max_tracks:=8"));
        assert_eq!(p.string_or("input.type", "skeleton3d_array").unwrap(), "zed");
        assert_eq!(p.string_array_or("input.joint_order", &[]).unwrap(), ["pelvis", "head"]);
        assert_eq!(p.f64_or("gap_limit_s", 1.0).unwrap(), 0.5);
        assert_eq!(p.get("ids"), Some(&ParamValue::IntegerArray(vec![1, 2])));
        assert_eq!(p.get("weights"), Some(&ParamValue::DoubleArray(vec![1.0, 2.5])));
        assert!(p.string_array_or("empty", &["x"]).unwrap().is_empty());
        assert_eq!(p.string_or("name", "").unwrap(), "42", "quoted YAML stays a string");
        assert_eq!(p.f64_or("missing", 2.0).unwrap(), 2.0);

        // The override before the file loses to it.
        let p = load(&["-p", "max_tracks:=8", "--params-file", f], "/a4mer_node").unwrap();
        assert_eq!(p.i64_or("max_tracks", 1).unwrap(), 4);
        // In a namespace, the bare node key no longer applies; /** does.
        let p = load(&["--params-file", f], "/robot1/a4mer_node").unwrap();
        assert!(p.get("input.type").is_none());
        assert_eq!(p.i64_or("max_tracks", 1).unwrap(), 4);
        // Node-prefixed -p for another node is ignored.
        let p = load(
            &["-p", "other_node:max_tracks:=3", "-p", "a4mer_node:gap_limit_s:=2"],
            "/a4mer_node",
        )
        .unwrap();
        assert!(p.get("max_tracks").is_none());
        assert_eq!(p.f64_or("gap_limit_s", 0.0).unwrap(), 2.0);
    }

    #[test]
    fn override_values_are_yaml() {
        let p = load(
            &[
                "-p",
                "a:=true",
                "-p",
                "b:=3",
                "-p",
                "c:=1.5",
                "-p",
                "d:=/models/x.a4m",
                "-p",
                "e:=[left, right]",
                "-p",
                "f:=",
                "-p",
                "g:=yes",
            ],
            "/n",
        )
        .unwrap();
        assert_eq!(p.get("a"), Some(&ParamValue::Bool(true)));
        assert_eq!(p.get("b"), Some(&ParamValue::Integer(3)));
        assert_eq!(p.get("c"), Some(&ParamValue::Double(1.5)));
        assert_eq!(p.get("d"), Some(&ParamValue::String("/models/x.a4m".into())));
        assert_eq!(
            p.get("e"),
            Some(&ParamValue::StringArray(vec!["left".into(), "right".into()]))
        );
        assert_eq!(p.get("f"), Some(&ParamValue::String(String::new())));
        // Like rcl's YAML parser, yes/no/on/off/y/n are booleans.
        assert_eq!(p.get("g"), Some(&ParamValue::Bool(true)));
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let p = load(&["-p", "max_tracks:=four", "-p", "input.type:=kinect"], "/n").unwrap();
        let e = p.i64_or("max_tracks", 1).unwrap_err().to_string();
        assert!(
            e.contains("`max_tracks`") && e.contains("expected integer") && e.contains("four"),
            "{e}"
        );
        let e = p
            .choice_or(
                "input.type",
                &["skeleton3d_array", "pose_array", "zed"],
                "skeleton3d_array",
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`input.type`") && e.contains("kinect") && e.contains("pose_array"),
            "{e}"
        );
        let e = p.reject_unknown(&["input.type"]).unwrap_err().to_string();
        assert!(e.contains("`max_tracks`") && e.contains("-p max_tracks:=four"), "{e}");

        let e = load(&["-p", "x:=[1, a]"], "/n").unwrap_err().to_string();
        assert!(e.contains("`x`") && e.contains("mixed"), "{e}");
        let e = load(&["-p", "x:={a: 1}"], "/n").unwrap_err().to_string();
        assert!(e.contains("`x`") && e.contains("mapping"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, "a4mer_node:\n  params:\n    x: 1\n").unwrap();
        let e = load(&["--params-file", file.to_str().unwrap()], "/a4mer_node")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.yaml") && e.contains("ros__parameters"), "{e}");
        std::fs::write(&file, "a4mer_node: [unclosed\n").unwrap();
        let e = load(&["--params-file", file.to_str().unwrap()], "/a4mer_node")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.yaml") && e.contains("YAML"), "{e}");
        let e = load(&["--params-file", "/nonexistent/p.yaml"], "/a4mer_node")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/p.yaml"), "{e}");
    }
}
