//! The monitor on the MCU's clock: embassy-time supplies "now" and the timer that wakes the
//! safety task exactly when the pose data crosses the next age threshold.
//!
//! Behind the default `watchdog` feature so that std users of the link types (the ROS node,
//! with `default-features = false`) never link embassy-time and its time driver.

use embassy_time::{Instant, Timer};

use crate::link::LinkFrame;
use crate::monitor::{Command, Mode, Monitor, MonitorConfig, MonitorConfigError, Transition};
use crate::ssm::RobotState;

/// What the monitor decides at one instant, and the age of the pose data it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    pub at_us: u64,
    pub command: Command,
    pub transition: Option<Transition>,
    pub pose_age_us: Option<u64>,
}

/// `Monitor` driven by `embassy_time::Instant::now()`.
#[derive(Debug)]
pub struct Watchdog {
    monitor: Monitor,
}

fn now_us() -> u64 {
    Instant::now().as_micros()
}

impl Watchdog {
    pub fn new(cfg: MonitorConfig) -> Result<Self, MonitorConfigError> {
        Ok(Self {
            monitor: Monitor::new(cfg)?,
        })
    }

    pub fn mode(&self) -> Mode {
        self.monitor.mode()
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Takes a frame the link accepted, stamped with its arrival time (now).
    pub fn on_frame(&mut self, frame: LinkFrame) -> Option<Transition> {
        self.monitor.accept_frame(frame, now_us())
    }

    /// Re-evaluates the mode now.
    pub fn poll(&mut self) -> Option<Transition> {
        self.monitor.poll(now_us())
    }

    /// Mode + SSM for the robot's current state, now.
    pub fn command(&mut self, robot: &RobotState) -> (Command, Option<Transition>) {
        self.monitor.command(robot, now_us())
    }

    /// `command` with the instant it was taken at and the pose data's age then, read once so
    /// that a report of the decision (e.g. a `Decision` frame) is consistent with it.
    pub fn report(&mut self, robot: &RobotState) -> Report {
        let at_us = now_us();
        let (command, transition) = self.monitor.command(robot, at_us);
        Report {
            at_us,
            command,
            transition,
            pose_age_us: self.monitor.pose_age_us(at_us),
        }
    }

    /// When the mode changes next if no frame arrives; `None` in `ProtectiveStop`.
    pub fn next_change(&self) -> Option<Instant> {
        self.monitor.next_change_us().map(Instant::from_micros)
    }

    /// Sleeps until `next_change()` (or `until`, whichever is first). The safety task awaits
    /// this between control ticks so that no threshold crossing is noticed late.
    pub async fn sleep_until_change_or(&self, until: Instant) {
        let at = self.next_change().map_or(until, |c| c.min(until));
        Timer::at(at).await;
    }
}
