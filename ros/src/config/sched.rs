//! The node's `sched.*` parameters, validated: which CPU scheduling policy, priority and
//! CPUs its frame loop asks for. The node (`a4mer-node`'s `sched`) applies them; why it
//! asks at all is said there.

use crate::ros_args::params::{ParamError, ParamValue, Parameters};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Keep what the launcher gave (systemd `CPUSchedulingPolicy=`, `chrt`).
    Inherit,
    /// `SCHED_OTHER`: time-shared with everything else.
    Other,
    /// `SCHED_FIFO`: runs whenever ready, ahead of every `SCHED_OTHER` thread.
    Fifo,
    /// `SCHED_RR`: as FIFO, round-robin among threads of the same priority.
    RoundRobin,
}

impl Policy {
    const CHOICES: [(&'static str, Policy); 4] = [
        ("inherit", Policy::Inherit),
        ("other", Policy::Other),
        ("fifo", Policy::Fifo),
        ("rr", Policy::RoundRobin),
    ];

    pub fn param_value(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("inherit", |(n, _)| n)
    }

    /// `fifo` or `rr`: what needs privilege to take.
    pub fn realtime(self) -> bool {
        matches!(self, Policy::Fifo | Policy::RoundRobin)
    }
}

/// The validated `sched.*` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedConfig {
    pub policy: Policy,
    /// 1..=99, for `fifo` and `rr`.
    pub priority: i32,
    /// CPUs the frame loop (and the DDS threads) may run on; empty: as launched.
    pub cpus: Vec<usize>,
}

impl Default for SchedConfig {
    fn default() -> Self {
        Self {
            policy: Policy::Inherit,
            priority: 40,
            cpus: Vec::new(),
        }
    }
}

fn invalid(name: &str, reason: String) -> ParamError {
    ParamError::Invalid {
        name: name.into(),
        reason,
    }
}

impl SchedConfig {
    pub fn from_parameters(p: &Parameters) -> Result<Self, ParamError> {
        let d = Self::default();
        let names: Vec<&str> = Policy::CHOICES.iter().map(|(n, _)| *n).collect();
        let policy = p.choice_or("sched.policy", &names, d.policy.param_value())?;
        let policy = Policy::CHOICES
            .iter()
            .find(|(n, _)| *n == policy)
            .map(|(_, p)| *p)
            .ok_or_else(|| invalid("sched.policy", policy.clone()))?;
        let priority = p.i64_or("sched.priority", d.priority as i64)?;
        if !(1..=99).contains(&priority) {
            return Err(invalid("sched.priority", format!("{priority} is outside 1..=99")));
        }
        let max_cpu = libc::CPU_SETSIZE as i64 - 1;
        let cpus = match p.get("sched.cpus") {
            None => Vec::new(),
            // An empty YAML list has no element type.
            Some(ParamValue::StringArray(v)) if v.is_empty() => Vec::new(),
            Some(ParamValue::IntegerArray(v)) => {
                if let Some(bad) = v.iter().find(|c| !(0..=max_cpu).contains(*c)) {
                    return Err(invalid("sched.cpus", format!("CPU {bad} is outside 0..={max_cpu}")));
                }
                v.iter().map(|c| *c as usize).collect()
            }
            Some(other) => {
                return Err(invalid(
                    "sched.cpus",
                    format!("expected a list of CPU numbers, found {}", other.type_name()),
                ));
            }
        };
        Ok(Self {
            policy,
            priority: priority as i32,
            cpus,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros_args::RosArgs;

    fn config(args: &[&str]) -> Result<SchedConfig, ParamError> {
        let mut all = vec!["--ros-args"];
        all.extend_from_slice(args);
        let (_, ros) = RosArgs::parse(&all).map_err(|e| invalid("args", e.to_string()))?;
        SchedConfig::from_parameters(&Parameters::load(&ros, "a4mer_node", "/a4mer_node")?)
    }

    #[test]
    fn parameters_are_read_and_bad_ones_named() {
        assert_eq!(config(&[]).unwrap(), SchedConfig::default());
        let c = config(&[
            "-p",
            "sched.policy:=fifo",
            "-p",
            "sched.priority:=50",
            "-p",
            "sched.cpus:=[1]",
        ])
        .unwrap();
        assert_eq!((c.policy, c.priority, c.cpus), (Policy::Fifo, 50, vec![1]));
        assert_eq!(config(&["-p", "sched.cpus:=[]"]).unwrap().cpus, Vec::<usize>::new());
        for (arg, name, what) in [
            ("sched.policy:=deadline", "sched.policy", "not one of"),
            ("sched.priority:=0", "sched.priority", "outside 1..=99"),
            ("sched.priority:=100", "sched.priority", "outside 1..=99"),
            ("sched.cpus:=[-1]", "sched.cpus", "outside"),
            ("sched.cpus:=[a, b]", "sched.cpus", "list of CPU numbers"),
        ] {
            let e = config(&["-p", arg]).unwrap_err().to_string();
            assert!(e.contains(&format!("`{name}`")) && e.contains(what), "{arg}: {e}");
        }
    }
}
