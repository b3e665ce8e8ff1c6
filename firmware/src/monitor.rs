//! The safety decision as a clock-agnostic state machine: the caller passes the time (in
//! microseconds of any monotonic clock). On the MCU, `watchdog::Watchdog` feeds it from
//! embassy-time; offline replay (std side) can feed it recorded time and get the same
//! decisions.
//!
//! Modes:
//! - `Run(scale)`: a fresh frame with a healthy model; the SSM may use the forecast.
//! - `Fallback(scale)`: the pose data is stale, the model reports degraded health, or the
//!   sender left people out of the frame; the SSM ignores the forecast and uses the ISO 13855
//!   human speeds only.
//! - `ProtectiveStop`: no frame yet, or none whose pose data is younger than the deadline.
//!
//! In every mode the SSM also assumes the human kept approaching at the conservative speed
//! for as long as the pose data is old, so a late frame shrinks the allowed speed smoothly
//! before the mode switches.
//!
//! The thresholds are about the link being alive, so they apply to the frame's age: its
//! `pose_age_us` (the freshest data in it) + link latency + time since reception. A person the
//! sender holds after they dropped out of view is carried with their own, older age
//! (`unseen_us`): it grows their protective distance in the SSM but does not by itself stop
//! the robot. The sender bounds how long it holds anyone.

use core::fmt;

use crate::link::{LinkFrame, MAX_WIRE_LEN, ModelHealth, transmit_time_us};
use crate::ssm::{Assessment, ForecastUse, HumanView, RobotState, SsmConfig, SsmConfigError, assess};

/// Watchdog thresholds and SSM parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorConfig {
    /// Pose data older than this (capture to now) is stale: `Fallback`. Microseconds.
    pub stale_after_us: u64,
    /// Pose data older than this means no valid frame within the deadline:
    /// `ProtectiveStop`. Microseconds.
    pub deadline_us: u64,
    /// Added to every frame's age for its time on the wire (use the transmit time of the
    /// longest frame at the link's baud rate). Microseconds.
    pub link_latency_us: u64,
    pub ssm: SsmConfig,
}

impl Default for MonitorConfig {
    /// `for_baud(921_600)`: the rate at which two people fit 30 frames/s even in the worst
    /// case.
    fn default() -> Self {
        Self::for_baud(921_600)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MonitorConfigError {
    #[error("monitor.stale_after_us ({stale_after_us}) must be below monitor.deadline_us ({deadline_us})")]
    StaleAfterDeadline { stale_after_us: u64, deadline_us: u64 },
    #[error(transparent)]
    Ssm(#[from] SsmConfigError),
}

impl MonitorConfig {
    /// The defaults for a link at `baud` (8N1): `link_latency_us` is the time the longest
    /// possible frame takes on the wire. A slower line means older data on arrival; at
    /// 115 200 baud that alone exceeds `stale_after_us`, so the robot never leaves `Fallback`.
    /// `baud = 0` gives a latency no frame can beat: `ProtectiveStop`.
    pub fn for_baud(baud: u32) -> Self {
        Self {
            stale_after_us: 100_000,
            deadline_us: 300_000,
            link_latency_us: u64::from(transmit_time_us(MAX_WIRE_LEN, baud)),
            ssm: SsmConfig::default(),
        }
    }

    pub fn validate(&self) -> Result<(), MonitorConfigError> {
        if self.stale_after_us >= self.deadline_us {
            return Err(MonitorConfigError::StaleAfterDeadline {
                stale_after_us: self.stale_after_us,
                deadline_us: self.deadline_us,
            });
        }
        self.ssm.validate()?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    Run,
    Fallback,
    ProtectiveStop,
}

/// Why the monitor is in its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Reason {
    /// No frame accepted since start.
    Startup,
    /// Fresh pose data and a nominal model.
    Fresh,
    /// Pose data older than `stale_after_us`.
    Stale,
    /// Fresh pose data, but the model reports this health.
    Health(ModelHealth),
    /// Fresh pose data from a nominal model, but the sender left people out of the frame.
    Omitted,
    /// Pose data older than `deadline_us`: no valid frame within the deadline.
    Deadline,
}

/// The command for the robot controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    Run { scale: f32 },
    Fallback { scale: f32 },
    ProtectiveStop,
}

impl Command {
    /// Speed-scaling factor to apply, in [0, 1].
    pub fn scale(&self) -> f32 {
        match *self {
            Command::Run { scale } | Command::Fallback { scale } => scale,
            Command::ProtectiveStop => 0.0,
        }
    }
}

/// A mode change, for the log. `Display` renders one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub at_us: u64,
    pub from: Mode,
    pub to: Mode,
    pub reason: Reason,
    /// Age of the pose data at the transition, if any frame was ever accepted.
    pub pose_age_us: Option<u64>,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}us {:?} -> {:?}: ", self.at_us, self.from, self.to)?;
        match self.reason {
            Reason::Startup => f.write_str("no frame received yet")?,
            Reason::Fresh => f.write_str("fresh forecast, model nominal")?,
            Reason::Stale => f.write_str("pose data stale")?,
            Reason::Health(h) => write!(f, "model health {h:?}")?,
            Reason::Omitted => f.write_str("people left out of the frame")?,
            Reason::Deadline => f.write_str("no valid frame within the deadline")?,
        }
        if let Some(age) = self.pose_age_us {
            write!(f, " (pose age {age}us)")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Latest {
    frame: LinkFrame,
    rx_us: u64,
}

/// The watchdog + SSM state machine.
#[derive(Debug)]
pub struct Monitor {
    cfg: MonitorConfig,
    latest: Option<Latest>,
    mode: Mode,
    reason: Reason,
}

impl Monitor {
    pub fn new(cfg: MonitorConfig) -> Result<Self, MonitorConfigError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            latest: None,
            mode: Mode::ProtectiveStop,
            reason: Reason::Startup,
        })
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.cfg
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Takes a frame the link accepted (sequence already checked) at `now_us`.
    pub fn accept_frame(&mut self, frame: LinkFrame, now_us: u64) -> Option<Transition> {
        self.latest = Some(Latest { frame, rx_us: now_us });
        self.poll(now_us)
    }

    /// Age of the pose data at `now_us`: the latest frame's `pose_age_us` + link latency +
    /// time since its reception. `None` before any frame.
    pub fn pose_age_us(&self, now_us: u64) -> Option<u64> {
        self.latest.as_ref().map(|l| {
            u64::from(l.frame.header.pose_age_us)
                .saturating_add(self.cfg.link_latency_us)
                .saturating_add(now_us.saturating_sub(l.rx_us))
        })
    }

    fn evaluate(&self, now_us: u64) -> (Mode, Reason) {
        let (Some(latest), Some(age)) = (&self.latest, self.pose_age_us(now_us)) else {
            return (Mode::ProtectiveStop, Reason::Startup);
        };
        if age > self.cfg.deadline_us {
            (Mode::ProtectiveStop, Reason::Deadline)
        } else if age > self.cfg.stale_after_us {
            (Mode::Fallback, Reason::Stale)
        } else if latest.frame.health != ModelHealth::Nominal {
            (Mode::Fallback, Reason::Health(latest.frame.health))
        } else if latest.frame.omitted > 0 {
            // Those left out were farther than those sent, so the conservative bound of the
            // people sent also bounds them; a forecast of the people sent says nothing of theirs.
            (Mode::Fallback, Reason::Omitted)
        } else {
            (Mode::Run, Reason::Fresh)
        }
    }

    /// Re-evaluates the mode at `now_us`; returns the transition if it changed.
    pub fn poll(&mut self, now_us: u64) -> Option<Transition> {
        let (mode, reason) = self.evaluate(now_us);
        if (mode, reason) == (self.mode, self.reason) {
            return None;
        }
        let t = Transition {
            at_us: now_us,
            from: self.mode,
            to: mode,
            reason,
            pose_age_us: self.pose_age_us(now_us),
        };
        self.mode = mode;
        self.reason = reason;
        Some(t)
    }

    /// The first time at which the mode changes if no frame arrives: when the pose data
    /// becomes older than the next threshold. `None` in `ProtectiveStop`.
    pub fn next_change_us(&self) -> Option<u64> {
        let latest = self.latest.as_ref()?;
        let threshold = match (self.mode, self.reason) {
            (Mode::ProtectiveStop, _) => return None,
            (Mode::Fallback, Reason::Stale) => self.cfg.deadline_us,
            (Mode::Run | Mode::Fallback, _) => self.cfg.stale_after_us,
        };
        let fixed = u64::from(latest.frame.header.pose_age_us).saturating_add(self.cfg.link_latency_us);
        // age = fixed + (now - rx) > threshold  <=>  now >= rx + threshold - fixed + 1
        Some(
            latest
                .rx_us
                .saturating_add(threshold.saturating_sub(fixed))
                .saturating_add(1),
        )
    }

    /// Re-evaluates the mode and runs the SSM for `robot` at `now_us`.
    pub fn command(&mut self, robot: &RobotState, now_us: u64) -> (Command, Option<Transition>) {
        let transition = self.poll(now_us);
        let command = match (self.mode, &self.latest, self.pose_age_us(now_us)) {
            (Mode::Run, Some(l), Some(age)) => Command::Run {
                scale: self.assess(robot, &l.frame, age, ForecastUse::Tighten).scale,
            },
            (Mode::Fallback, Some(l), Some(age)) => Command::Fallback {
                scale: self.assess(robot, &l.frame, age, ForecastUse::Ignore).scale,
            },
            _ => Command::ProtectiveStop,
        };
        (command, transition)
    }

    fn assess(&self, robot: &RobotState, frame: &LinkFrame, age_us: u64, f: ForecastUse) -> Assessment {
        let view = HumanView {
            people: &frame.people,
            step_ms: frame.step_ms,
            pose_age_s: age_us as f32 / 1e6,
        };
        assess(&self.cfg.ssm, robot, &view, f)
    }

    /// The full SSM breakdown behind the current command (for reports), or `None` in
    /// `ProtectiveStop`. Does not change the mode.
    pub fn assessment(&self, robot: &RobotState, now_us: u64) -> Option<Assessment> {
        let l = self.latest.as_ref()?;
        let age = self.pose_age_us(now_us)?;
        match self.mode {
            Mode::Run => Some(self.assess(robot, &l.frame, age, ForecastUse::Tighten)),
            Mode::Fallback => Some(self.assess(robot, &l.frame, age, ForecastUse::Ignore)),
            Mode::ProtectiveStop => None,
        }
    }
}

#[cfg(test)]
mod tests;
