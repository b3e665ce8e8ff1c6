//! The safety link in `/diagnostics`: the writer's counters, and what the frames told the
//! MCU: where the poses' age was measured from, who went without a forecast, who was held.

use std::collections::BTreeMap;

use a4mer_ros::link::{HoldEvent, LinkSource, LinkStats, ReleaseWhy};
use a4mer_ros::msg::DiagnosticStatus;

use super::diagnostics::{Identity, kv};

/// Where a pose's age on the link was measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgeFrom {
    /// The message header's capture stamp: the clocks are comparable (the stamp is in the
    /// past, at most `MAX_CAPTURE_AGE_NS`, and not after the DDS publish time).
    CaptureStamp,
    /// The DDS writer's publish time: the header's stamp is on another clock (or simulated).
    PublishTime,
    /// Neither: the age runs from when the node took the sample.
    Unknown,
}

/// A capture stamp older than this on arrival is taken to be on another clock.
pub const MAX_CAPTURE_AGE_NS: i64 = 1_000_000_000;
/// A capture stamp may follow the publish time by this much (clock reading jitter).
pub const CAPTURE_AFTER_PUBLISH_TOLERANCE_NS: i64 = 2_000_000;

/// The pose's age when the node took it, and from what. `publish_ns`: the DDS source
/// timestamp; `header_ns`: `None` when the header's clock is simulated time.
pub fn pose_age_at_take(header_ns: Option<i64>, publish_ns: Option<i64>, wall_now_ns: i64) -> (i64, AgeFrom) {
    let since_publish = publish_ns.map(|p| wall_now_ns - p).filter(|d| *d >= 0);
    if let Some(h) = header_ns {
        let since_capture = wall_now_ns - h;
        let before_publish = publish_ns.is_none_or(|p| h <= p + CAPTURE_AFTER_PUBLISH_TOLERANCE_NS);
        if (0..=MAX_CAPTURE_AGE_NS).contains(&since_capture) && before_publish {
            return (since_capture.max(since_publish.unwrap_or(0)), AgeFrom::CaptureStamp);
        }
    }
    match since_publish {
        Some(d) => (d, AgeFrom::PublishTime),
        None => (0, AgeFrom::Unknown),
    }
}

#[derive(Clone, Debug, Default)]
pub struct LinkDiagnostics {
    pub age_from_capture_stamp: u64,
    pub age_from_publish_time: u64,
    pub age_unknown: u64,
    /// People sent with their observed pose only, by why.
    pub without_forecast: BTreeMap<&'static str, u64>,
    pub holds: u64,
    pub reacquired: u64,
    pub released: u64,
    window_holds: u64,
    window_reacquired: u64,
    window_released: u64,
    /// The input frame the link frames are placed from (without `output.frame_id`): the
    /// first message's, and messages in another frame since.
    pub input_frame: Option<String>,
    pub frame_mismatches: u64,
    pub last_warning: Option<String>,
}

impl LinkDiagnostics {
    pub fn age(&mut self, from: AgeFrom) {
        *match from {
            AgeFrom::CaptureStamp => &mut self.age_from_capture_stamp,
            AgeFrom::PublishTime => &mut self.age_from_publish_time,
            AgeFrom::Unknown => &mut self.age_unknown,
        } += 1;
    }

    pub fn without_forecast(&mut self, source: LinkSource) {
        let name = match source {
            LinkSource::Forecast => "forecast",
            LinkSource::EngineRejected => "engine_rejected",
            LinkSource::NotFollowed => "not_followed",
            LinkSource::BodyRejected => "body_rejected",
            LinkSource::Held => "held",
        };
        *self.without_forecast.entry(name).or_default() += 1;
    }

    pub fn hold(&mut self, e: &HoldEvent) {
        match e {
            HoldEvent::Held { .. } => {
                self.holds += 1;
                self.window_holds += 1;
            }
            HoldEvent::Reacquired { .. } => {
                self.reacquired += 1;
                self.window_reacquired += 1;
            }
            HoldEvent::Released { id, why, .. } => {
                self.released += 1;
                self.window_released += 1;
                if *why != ReleaseWhy::HoldExpired {
                    self.last_warning = Some(format!("person {id} released from hold: {why:?}"));
                }
            }
        }
    }

    /// Link frames are placed from one input frame: a message in another is counted and
    /// named (the caller degrades its link frame). Returns whether it matched.
    pub fn input_frame(&mut self, frame_id: &str) -> bool {
        match &self.input_frame {
            None if !frame_id.is_empty() => {
                self.input_frame = Some(frame_id.to_owned());
                true
            }
            Some(expected) if expected == frame_id => true,
            expected => {
                self.frame_mismatches += 1;
                self.last_warning = Some(format!(
                    "input header.frame_id `{frame_id}` is not `{}`, the frame link.base_from_forecast_xyz_rpy places",
                    expected.as_deref().unwrap_or("")
                ));
                false
            }
        }
    }
}

/// The safety link's status: ERROR while the device is missing (the MCU is then on its
/// deadline and will protective-stop), WARN when frames are being dropped or the input's
/// frame is not the one the link places from. Ends the period's hold counts.
pub fn link_status(id: &Identity, s: &LinkStats, d: &mut LinkDiagnostics) -> DiagnosticStatus {
    let dropped = s.frames_dropped_write_timeout + s.frames_dropped_disconnected;
    let (level, message) = if !s.connected {
        (DiagnosticStatus::ERROR, "link device not connected")
    } else if dropped > 0 || s.write_errors > 0 {
        (DiagnosticStatus::WARN, "link frames dropped")
    } else if d.frame_mismatches > 0 {
        (DiagnosticStatus::WARN, "input frame differs from the link's")
    } else {
        (DiagnosticStatus::OK, "streaming")
    };
    let mut values = vec![
        kv("connected", s.connected),
        kv("frames_sent", s.frames_sent),
        kv("frames_superseded", s.frames_superseded),
        kv("frames_dropped_write_timeout", s.frames_dropped_write_timeout),
        kv("frames_dropped_disconnected", s.frames_dropped_disconnected),
        kv("encode_errors", s.encode_errors),
        kv("write_errors", s.write_errors),
        kv("opens", s.opens),
        kv("last_pose_age_at_encode_us", s.last_age_at_encode_us),
        kv("pose_age_from.capture_stamp", d.age_from_capture_stamp),
        kv("pose_age_from.publish_time", d.age_from_publish_time),
        kv("pose_age_from.unknown", d.age_unknown),
        kv("holds", d.holds),
        kv("reacquired", d.reacquired),
        kv("released", d.released),
        kv("holds.this_period", d.window_holds),
        kv("reacquired.this_period", d.window_reacquired),
        kv("released.this_period", d.window_released),
        kv("input_frame", d.input_frame.as_deref().unwrap_or("")),
        kv("input_frame_mismatches", d.frame_mismatches),
        kv("last_error", s.last_error.as_deref().unwrap_or("")),
        kv("last_warning", d.last_warning.as_deref().unwrap_or("")),
    ];
    for (why, n) in &d.without_forecast {
        values.push(kv(&format!("people_without_forecast.{why}"), n));
    }
    (d.window_holds, d.window_reacquired, d.window_released) = (0, 0, 0);
    DiagnosticStatus {
        level,
        name: format!("{}: safety link", id.node),
        message: message.into(),
        hardware_id: String::new(),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000_000;

    #[test]
    fn the_capture_stamp_counts_when_the_clocks_agree_and_the_publish_time_otherwise() {
        // Same host: captured 80 ms ago, published 5 ms ago.
        assert_eq!(
            pose_age_at_take(Some(NOW - 80_000_000), Some(NOW - 5_000_000), NOW),
            (80_000_000, AgeFrom::CaptureStamp)
        );
        // A camera host 30 s behind: its stamp is not on this clock.
        assert_eq!(
            pose_age_at_take(Some(NOW - 30_000_000_000), Some(NOW - 5_000_000), NOW),
            (5_000_000, AgeFrom::PublishTime)
        );
        // Ahead of this clock, or captured after it was published: another clock.
        assert_eq!(
            pose_age_at_take(Some(NOW + 50_000_000), Some(NOW - 5_000_000), NOW).1,
            AgeFrom::PublishTime
        );
        assert_eq!(
            pose_age_at_take(Some(NOW - 3_000_000), Some(NOW - 40_000_000), NOW).1,
            AgeFrom::PublishTime
        );
        // Simulated time and no source timestamp: nothing to measure from.
        assert_eq!(pose_age_at_take(None, None, NOW), (0, AgeFrom::Unknown));
    }

    #[test]
    fn a_message_in_another_frame_than_the_links_is_counted_and_named() {
        let mut d = LinkDiagnostics::default();
        assert!(d.input_frame("camera"));
        assert!(d.input_frame("camera"));
        assert!(!d.input_frame("camera2"));
        assert!(!d.input_frame(""));
        assert_eq!(d.frame_mismatches, 2);
        assert!(
            d.last_warning.as_deref().unwrap_or("").contains("`camera`"),
            "{:?}",
            d.last_warning
        );
        // A first message without a frame fixes nothing.
        let mut d = LinkDiagnostics::default();
        assert!(!d.input_frame(""));
        assert!(d.input_frame("camera"));
    }
}
