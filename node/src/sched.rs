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

pub use a4mer_ros::config::sched::{Policy, SchedConfig};

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
