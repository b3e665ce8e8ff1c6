//! The TF, scheduling and security statuses of `/diagnostics`.

use a4mer_ros::msg::DiagnosticStatus;
use a4mer_ros::security::SecurityPlan;
use a4mer_ros::tf::TfBuffer;

use super::diagnostics::{Identity, kv};

/// Inputs that could not be placed in `output.frame_id`, and transforms held.
#[derive(Debug, Default)]
pub struct TfDiagnostics {
    /// Messages whose people were dropped for want of a transform.
    pub unplaced_messages: u64,
    pub unplaced_people: u64,
    /// Lookups that used a moving transform's newest sample past its stamp.
    pub held: u64,
    pub malformed_messages: u64,
    pub last_error: Option<String>,
    window_unplaced: u64,
    window_held_max_ns: i64,
}

impl TfDiagnostics {
    pub fn unplaced(&mut self, why: String, people: usize) {
        self.unplaced_messages += 1;
        self.unplaced_people += people as u64;
        self.window_unplaced += 1;
        self.last_error = Some(why);
    }

    pub fn held(&mut self, age_ns: i64) {
        self.held += 1;
        self.window_held_max_ns = self.window_held_max_ns.max(age_ns);
    }

    pub fn malformed(&mut self, why: String) {
        self.malformed_messages += 1;
        self.last_error = Some(format!("malformed message: {why}"));
    }

    /// WARN while inputs cannot be placed (the message is the last reason: the frames and
    /// the age); the window restarts.
    pub fn status(&mut self, node: &str, output_frame: &str, buffer: &TfBuffer) -> DiagnosticStatus {
        let (level, message) = if self.window_unplaced > 0 {
            (
                DiagnosticStatus::WARN,
                format!(
                    "{} inputs not placed in {output_frame}: {}",
                    self.window_unplaced,
                    self.last_error.as_deref().unwrap_or("")
                ),
            )
        } else {
            (DiagnosticStatus::OK, format!("placing inputs in {output_frame}"))
        };
        let s = buffer.stats();
        let status = DiagnosticStatus {
            level,
            name: format!("{node}: transforms"),
            message,
            hardware_id: String::new(),
            values: vec![
                kv("output_frame", output_frame),
                kv("unplaced_messages", self.unplaced_messages),
                kv("unplaced_people", self.unplaced_people),
                kv("held_newest", self.held),
                kv(
                    "held_newest_max_ms",
                    format!("{:.1}", self.window_held_max_ns as f64 / 1e6),
                ),
                kv("frames", buffer.frames()),
                kv("samples", s.samples),
                kv("static_samples", s.static_samples),
                kv("samples_invalid", s.invalid),
                kv("samples_too_old", s.samples_too_old),
                kv("samples_dropped_full", s.samples_dropped_full),
                kv("frames_dropped", s.frames_dropped),
                kv("reparented", s.reparented),
                kv("malformed_messages", self.malformed_messages),
                kv("last_rejected", s.last_rejected.as_deref().unwrap_or("")),
                kv("last_error", self.last_error.as_deref().unwrap_or("")),
            ],
        };
        self.window_unplaced = 0;
        self.window_held_max_ns = 0;
        status
    }
}

/// The frame loop's scheduling: WARN when the `sched.*` parameters could not be applied
/// (the message says what would permit them).
pub fn sched_status(id: &Identity, s: &super::sched::Applied) -> DiagnosticStatus {
    let (level, message) = match &s.problem {
        Some(p) => (DiagnosticStatus::WARN, p.clone()),
        None => (DiagnosticStatus::OK, s.policy.clone()),
    };
    DiagnosticStatus {
        level,
        name: format!("{}: scheduling", id.node),
        message,
        hardware_id: String::new(),
        values: vec![
            kv("frame_loop_policy", &s.policy),
            kv(
                "frame_loop_cpus",
                s.cpus.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","),
            ),
        ],
    }
}

/// How the node's DDS participant is secured: WARN when SROS2 was asked for and the node
/// runs without it (Permissive with no usable credentials).
pub fn security_status(id: &Identity, plan: &SecurityPlan) -> DiagnosticStatus {
    let level = match plan {
        SecurityPlan::Unsecured { .. } => DiagnosticStatus::WARN,
        _ => DiagnosticStatus::OK,
    };
    DiagnosticStatus {
        level,
        name: format!("{}: security", id.node),
        message: plan.summary(),
        hardware_id: String::new(),
        values: vec![kv("sros2", plan.mode()), kv("enclave", plan.enclave().unwrap_or(""))],
    }
}
