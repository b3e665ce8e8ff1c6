//! Node names, namespaces and topic name resolution, following the ROS 2 rules.
//!
//! Expansion: `~` is the node's fully qualified name, `{node}` its name, `{ns}` (or
//! `{namespace}`) its namespace; a relative name is put in the node's namespace. Then the
//! first remapping rule whose (expanded) `from` equals the expanded name replaces it.

use super::RosArgs;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("invalid node name `{name}`: {reason}")]
    NodeName { name: String, reason: &'static str },
    #[error("invalid namespace `{name}`: {reason}")]
    Namespace { name: String, reason: &'static str },
    #[error("invalid topic name `{name}`: {reason}")]
    Topic { name: String, reason: &'static str },
}

/// The node's identity after `__node`/`__ns` remapping, and its topic remapping rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeNames {
    name: String,
    namespace: String,
    /// (from, to), both already expanded, in command-line order.
    remaps: Vec<(String, String)>,
}

fn valid_token(t: &str) -> Result<(), &'static str> {
    let mut chars = t.chars();
    match chars.next() {
        None => return Err("has an empty part (`//` or a trailing `/`)"),
        Some(c) if c.is_ascii_digit() => return Err("a part starts with a digit"),
        _ => {}
    }
    if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err("only letters, digits, `_` and `/` are allowed")
    }
}

fn validate_node_name(name: &str) -> Result<(), NameError> {
    if name.contains('/') {
        return Err(NameError::NodeName {
            name: name.into(),
            reason: "must not contain `/`",
        });
    }
    valid_token(name).map_err(|reason| NameError::NodeName {
        name: name.into(),
        reason,
    })
}

fn normalize_namespace(ns: &str) -> Result<String, NameError> {
    let bad = |reason| NameError::Namespace {
        name: ns.into(),
        reason,
    };
    if ns.is_empty() || ns == "/" {
        return Ok("/".into());
    }
    if !ns.starts_with('/') {
        return Err(bad("must be absolute (start with `/`)"));
    }
    let trimmed = ns.trim_end_matches('/');
    for token in trimmed[1..].split('/') {
        valid_token(token).map_err(bad)?;
    }
    Ok(trimmed.to_string())
}

impl NodeNames {
    /// The node `default_name` in `default_namespace`, with `args` applied: `__node`,
    /// `__ns`, and the topic remaps that apply to this node (global ones, and those
    /// prefixed with the node's name before or after renaming).
    pub fn new(default_name: &str, default_namespace: &str, args: &RosArgs) -> Result<Self, NameError> {
        let applies = |node: &Option<String>| node.as_deref().is_none_or(|n| n == default_name);
        let mut name = default_name.to_string();
        let mut namespace = default_namespace.to_string();
        for r in args.remaps.iter().filter(|r| applies(&r.node)) {
            match r.from.as_str() {
                "__node" => name = r.to.clone(),
                "__ns" => namespace = r.to.clone(),
                _ => {}
            }
        }
        validate_node_name(&name)?;
        let namespace = normalize_namespace(&namespace)?;
        let mut out = Self {
            name,
            namespace,
            remaps: Vec::new(),
        };
        for r in &args.remaps {
            let for_us = r.node.as_deref().is_none_or(|n| n == default_name || n == out.name);
            if !for_us || r.from == "__node" || r.from == "__ns" {
                continue;
            }
            let from = out.expand(&r.from)?;
            let to = out.expand(&r.to)?;
            out.remaps.push((from, to));
        }
        Ok(out)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/` or `/a/b`, never with a trailing slash.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `/ns/name`.
    pub fn fully_qualified_name(&self) -> String {
        if self.namespace == "/" {
            format!("/{}", self.name)
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }

    /// Expand `name` to an absolute topic name, without remapping.
    pub fn expand(&self, name: &str) -> Result<String, NameError> {
        let bad = |reason| NameError::Topic {
            name: name.into(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        let fqn = self.fully_qualified_name();
        let mut s = if name == "~" {
            fqn.clone()
        } else if let Some(rest) = name.strip_prefix("~/") {
            format!("{fqn}/{rest}")
        } else if name.starts_with('~') {
            return Err(bad("`~` must be followed by `/`"));
        } else {
            name.to_string()
        };
        s = s
            .replace("{node}", &self.name)
            .replace("{namespace}", self.namespace.trim_end_matches('/'))
            .replace("{ns}", self.namespace.trim_end_matches('/'));
        if s.contains('{') || s.contains('}') {
            return Err(bad("unknown substitution (known: {node}, {ns}, {namespace})"));
        }
        if !s.starts_with('/') {
            s = if self.namespace == "/" {
                format!("/{s}")
            } else {
                format!("{}/{s}", self.namespace)
            };
        }
        if s.len() > 1 && s.ends_with('/') {
            return Err(bad("must not end with `/`"));
        }
        for token in s[1..].split('/') {
            valid_token(token).map_err(bad)?;
        }
        Ok(s)
    }

    /// Expand, then apply the first remapping rule that matches.
    pub fn resolve_topic(&self, name: &str) -> Result<String, NameError> {
        let expanded = self.expand(name)?;
        Ok(self
            .remaps
            .iter()
            .find(|(from, _)| *from == expanded)
            .map(|(_, to)| to.clone())
            .unwrap_or(expanded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Result<NodeNames, NameError> {
        let mut all = vec!["--ros-args"];
        all.extend_from_slice(args);
        let (_, ros) = RosArgs::parse(&all).unwrap();
        NodeNames::new("a4mer_node", "/", &ros)
    }

    #[test]
    fn private_relative_and_absolute_names() {
        let n = names(&[]).unwrap();
        assert_eq!(n.fully_qualified_name(), "/a4mer_node");
        assert_eq!(n.resolve_topic("~/poses").unwrap(), "/a4mer_node/poses");
        assert_eq!(n.resolve_topic("forecast").unwrap(), "/forecast");
        assert_eq!(n.resolve_topic("/diagnostics").unwrap(), "/diagnostics");

        let n = names(&["-r", "__ns:=/robot1/", "-r", "__node:=anticipation"]).unwrap();
        assert_eq!(n.namespace(), "/robot1");
        assert_eq!(n.fully_qualified_name(), "/robot1/anticipation");
        assert_eq!(n.resolve_topic("~/forecast").unwrap(), "/robot1/anticipation/forecast");
        assert_eq!(n.resolve_topic("markers").unwrap(), "/robot1/markers");
        assert_eq!(n.resolve_topic("/diagnostics").unwrap(), "/diagnostics");
        assert_eq!(n.resolve_topic("{node}/x").unwrap(), "/robot1/anticipation/x");
        let e = n.resolve_topic("/{ns}/y").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        assert_eq!(n.resolve_topic("{ns}/y").unwrap(), "/robot1/y");
    }

    #[test]
    fn remaps_match_expanded_names_and_respect_node_prefixes() {
        let n = names(&[
            "-r",
            "__ns:=/cell",
            "-r",
            "~/poses:=/zed/body_trk/skeletons",
            "-r",
            "other_node:forecast:=/nope",
            "-r",
            "a4mer_node:forecast:=fc",
        ])
        .unwrap();
        assert_eq!(n.resolve_topic("~/poses").unwrap(), "/zed/body_trk/skeletons");
        // The relative target is expanded in the node's namespace.
        assert_eq!(n.resolve_topic("forecast").unwrap(), "/cell/fc");
        // A rule written as the absolute name matches the same topic.
        let n = names(&["-r", "/a4mer_node/poses:=/people"]).unwrap();
        assert_eq!(n.resolve_topic("~/poses").unwrap(), "/people");
        // First matching rule wins.
        let n = names(&["-r", "x:=/a", "-r", "x:=/b"]).unwrap();
        assert_eq!(n.resolve_topic("x").unwrap(), "/a");
        // Rules for another node's rename do not rename us.
        let n = names(&["-r", "other:__node:=foo"]).unwrap();
        assert_eq!(n.name(), "a4mer_node");
    }

    #[test]
    fn invalid_names_are_rejected_with_the_name() {
        let e = names(&["-r", "__ns:=robot1"]).unwrap_err();
        assert!(
            e.to_string().contains("`robot1`") && e.to_string().contains("absolute"),
            "{e}"
        );
        let e = names(&["-r", "__node:=2fast"]).unwrap_err();
        assert!(e.to_string().contains("digit"), "{e}");
        let e = names(&["-r", "__node:=a-b"]).unwrap_err();
        assert!(e.to_string().contains("`a-b`"), "{e}");
        let n = names(&[]).unwrap();
        for bad in ["", "a//b", "a/", "~poses", "po ses", "{robot}/x", "1x"] {
            assert!(n.resolve_topic(bad).is_err(), "{bad:?} should be invalid");
        }
        let e = names(&["-r", "x:=a//b"]).unwrap_err();
        assert!(e.to_string().contains("a//b"), "{e}");
    }
}
