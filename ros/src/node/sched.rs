//! CPU scheduling of the node's threads.
//!
//! A Jetson also runs the camera SDK and body tracking, so the node never has the CPU to
//! itself: at equal priority two busy threads on two cores push the pose-in → forecast-out
//! p99 from 2 ms to 7 ms. The frame loop therefore runs at the policy the `sched.*`
//! parameters ask for (or the one its launcher gave it: systemd's `CPUSchedulingPolicy=`,
//! `chrt`), and so do the DDS threads it starts, since every input and output sample passes
//! through them. The ROS spinner and the diagnostics publisher run at `SCHED_OTHER`: neither
//! is on a frame's path, and neither may take the CPU from one.
//!
//! Raising the policy needs privilege (root, `CAP_SYS_NICE`, or an `RLIMIT_RTPRIO` of at
//! least the priority, e.g. systemd's `LimitRTPRIO=`). Without it the node runs on at the
//! policy it has and says so on stderr and in `/diagnostics`: a node that stopped for want
//! of a priority would protect no one.

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

    fn realtime(self) -> bool {
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

/// What the calling thread runs at, and what could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// `SCHED_FIFO 40`, `SCHED_OTHER`, ...
    pub policy: String,
    /// The CPUs the thread may run on.
    pub cpus: Vec<usize>,
    /// Why the parameters could not be applied, with what would permit it.
    pub problem: Option<String>,
}

fn policy_name(policy: i32, priority: i32) -> String {
    match policy {
        libc::SCHED_FIFO => format!("SCHED_FIFO {priority}"),
        libc::SCHED_RR => format!("SCHED_RR {priority}"),
        libc::SCHED_OTHER => "SCHED_OTHER".into(),
        libc::SCHED_BATCH => "SCHED_BATCH".into(),
        libc::SCHED_IDLE => "SCHED_IDLE".into(),
        p => format!("policy {p}"),
    }
}

/// The calling thread's policy, as `Applied::policy` words it.
pub fn current_policy() -> String {
    let mut policy = 0;
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pthread_self() is the calling thread; both out-pointers are valid locals.
    let rc = unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
    if rc != 0 {
        return format!("unknown ({})", std::io::Error::from_raw_os_error(rc));
    }
    policy_name(policy, param.sched_priority)
}

/// The CPUs the calling thread may run on.
pub fn current_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the size passed is its own.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    // SAFETY: CPU_ISSET reads the set within CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|c| unsafe { libc::CPU_ISSET(*c, &set) })
        .collect()
}

fn set_policy(policy: i32, priority: i32) -> Result<(), std::io::Error> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pthread_self() is the calling thread; `param` is a valid local.
    match unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) } {
        0 => Ok(()),
        rc => Err(std::io::Error::from_raw_os_error(rc)),
    }
}

fn set_cpus(cpus: &[usize]) -> Result<(), std::io::Error> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays within CPU_SETSIZE
    // (the parameters are validated against it); the size passed is the set's own.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    match unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Apply `cfg` to the calling thread (threads it starts afterwards inherit it).
pub fn apply_to_current_thread(cfg: &SchedConfig) -> Applied {
    let mut problems = Vec::new();
    if !cfg.cpus.is_empty()
        && let Err(e) = set_cpus(&cfg.cpus)
    {
        problems.push(format!(
            "sched.cpus {:?}: {e} (the CPUs must exist and be allowed to this process, e.g. by a cpuset)",
            cfg.cpus
        ));
    }
    let wanted = match cfg.policy {
        Policy::Inherit => None,
        Policy::Other => Some((libc::SCHED_OTHER, 0)),
        Policy::Fifo => Some((libc::SCHED_FIFO, cfg.priority)),
        Policy::RoundRobin => Some((libc::SCHED_RR, cfg.priority)),
    };
    if let Some((policy, priority)) = wanted
        && let Err(e) = set_policy(policy, priority)
    {
        let how = if e.raw_os_error() == Some(libc::EPERM) {
            format!(
                "; allow it with the systemd unit's CPUSchedulingPolicy={} and CPUSchedulingPriority={}, \
                 or LimitRTPRIO={} (the limit lets the node raise itself), or CAP_SYS_NICE",
                cfg.policy.param_value(),
                cfg.priority,
                cfg.priority
            )
        } else {
            String::new()
        };
        problems.push(format!(
            "sched.policy {} priority {}: not applied: {e}{how}",
            cfg.policy.param_value(),
            if cfg.policy.realtime() { cfg.priority } else { 0 },
        ));
    }
    Applied {
        policy: current_policy(),
        cpus: current_cpus(),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// Put the calling thread back to `SCHED_OTHER` (always permitted): for threads that must
/// not compete with the frame loop after inheriting its policy.
pub fn demote_current_thread() -> Result<(), std::io::Error> {
    set_policy(libc::SCHED_OTHER, 0)
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

    /// Runs in a thread of its own, so the test harness's threads keep their policy.
    #[test]
    fn a_thread_gets_the_policy_or_says_why_not() {
        std::thread::spawn(|| {
            let before = current_policy();
            let cpus = current_cpus();
            assert!(!cpus.is_empty(), "this thread runs on some CPU");
            let inherit = apply_to_current_thread(&SchedConfig::default());
            assert_eq!((inherit.policy, inherit.problem), (before, None));

            let fifo = SchedConfig {
                policy: Policy::Fifo,
                priority: 1,
                cpus: vec![cpus[0]],
            };
            let applied = apply_to_current_thread(&fifo);
            assert_eq!(applied.cpus, vec![cpus[0]]);
            match &applied.problem {
                // Root or CAP_SYS_NICE or RLIMIT_RTPRIO: the thread is FIFO now.
                None => assert_eq!(applied.policy, "SCHED_FIFO 1"),
                // Otherwise the reason, with the way to allow it.
                Some(p) => assert!(p.contains("not applied") && p.contains("LimitRTPRIO"), "{p}"),
            }
            demote_current_thread().unwrap();
            assert_eq!(current_policy(), "SCHED_OTHER");
        })
        .join()
        .unwrap();
    }
}
