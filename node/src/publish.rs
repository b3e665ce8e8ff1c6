//! The node's side of the pipeline: publish the outputs, count, send to the link.

use std::time::Instant;

use a4mer_firmware::link::{ModelHealth, PositionError};
use a4mer_runtime::stream::Eviction;
use ros2_client::Publisher;

use super::diagnostics::Diagnostics;
use super::link_diag::LinkDiagnostics;
use super::tf_diag::TfDiagnostics;
use crate::link_sender::LinkSender;
use a4mer_ros::adapters::{AdapterError, Person};
use a4mer_ros::link::{HoldEvent, LinkSource, Outgoing};
use a4mer_ros::msg::{MarkerArray, MotifAnticipation, PoseForecast};
use a4mer_ros::outputs::{MarkerStyle, person_markers};
use a4mer_ros::pipeline::{Pushed, Sink};
use a4mer_ros::tf::TfError;

pub(super) struct Outputs {
    pub(super) forecast: Publisher<PoseForecast>,
    pub(super) motifs: Publisher<MotifAnticipation>,
    pub(super) markers: Publisher<MarkerArray>,
    pub(super) person_markers: Publisher<MarkerArray>,
}

/// The node's side of the pipeline: publish, count, send to the link.
pub(super) struct Publish<'a> {
    pub(super) out: &'a Outputs,
    /// Inactive: nothing is published and link frames go out Degraded.
    pub(super) active: bool,
    pub(super) diag: &'a mut Diagnostics,
    pub(super) tf_diag: &'a mut TfDiagnostics,
    pub(super) link_diag: &'a mut LinkDiagnostics,
    pub(super) link: Option<&'a LinkSender>,
    /// When the sample was taken, and the poses' age then (`link_diag::pose_age_at_take`).
    pub(super) received: Instant,
    pub(super) age_at_take_us: u64,
    /// The message is not in the frame the link places from: its link frame is Degraded.
    pub(super) wrong_frame: bool,
    pub(super) sent: u64,
    pub(super) failed: u64,
}

impl Sink for Publish<'_> {
    fn unusable(&mut self, why: String) {
        self.diag.unusable(why);
    }

    fn rejected_body(&mut self, why: &AdapterError) {
        self.diag.rejected_body(why.to_string());
    }

    fn not_followed(&mut self, person: &Person, max_tracks: usize) {
        self.diag.person_not_followed(person.id, max_tracks);
    }

    fn pushed(&mut self, step: Pushed<'_>) {
        let id = step.person.id;
        let (a, out) = match step.result {
            Ok(r) => r,
            Err(e) => return self.diag.rejected_frame(id, &e),
        };
        self.diag.person(
            id,
            a.health,
            out.motifs.motif_now,
            step.engine.atoms_closed(),
            a.body_scale,
        );
        if !self.active {
            return;
        }
        let person = person_markers(
            &out.motifs,
            out.forecast.as_ref(),
            &step.person.frame,
            &MarkerStyle::default(),
        );
        if self.out.person_markers.publish(person).is_err() {
            self.failed += 1;
        }
        if let Some(markers) = out.markers
            && self.out.markers.publish(markers).is_err()
        {
            self.failed += 1;
        }
        if let Some(forecast) = out.forecast {
            match self.out.forecast.publish(forecast) {
                Ok(()) => self.sent += 1,
                Err(_) => self.failed += 1,
            }
        }
        if self.out.motifs.publish(out.motifs).is_err() {
            self.failed += 1;
        }
    }

    fn link_frame(&mut self, frame: Result<Outgoing, PositionError>) {
        match (frame, self.link) {
            (Ok(mut frame), Some(link)) => {
                if !self.active || self.wrong_frame {
                    // The MCU applies its certified fallback, on live poses.
                    frame.health = ModelHealth::Degraded;
                }
                let age_us = (self.received.elapsed().as_micros() as u64 + self.age_at_take_us)
                    .saturating_add(u64::from(frame.pose_age_us));
                frame.pose_age_us = age_us.min(u64::from(u32::MAX)) as u32;
                link.offer(frame);
            }
            (Err(e), _) => self.diag.unusable(format!("link frame: {e}")),
            (Ok(_), None) => {}
        }
    }

    fn baseline_forecast(&mut self, _person: &Person, forecast: PoseForecast) {
        self.diag.forecasts_from_baselines += 1;
        if !self.active {
            return;
        }
        match self.out.forecast.publish(forecast) {
            Ok(()) => self.sent += 1,
            Err(_) => self.failed += 1,
        }
    }

    fn link_without_forecast(&mut self, _person_id: u32, source: LinkSource) {
        self.link_diag.without_forecast(source);
    }

    fn hold_event(&mut self, event: &HoldEvent) {
        self.link_diag.hold(event);
    }

    fn transform_unavailable(&mut self, why: &TfError, people: usize) {
        self.tf_diag.unplaced(why.to_string(), people);
    }

    fn transform_held(&mut self, age_ns: i64) {
        self.tf_diag.held(age_ns);
    }

    fn evicted(&mut self, id: u32, why: Eviction, max_tracks: usize) {
        self.diag.evicted(id);
        if let Eviction::MadeRoomFor(new) = why {
            self.diag.last_error = Some(format!(
                "tracks.max = {max_tracks} reached: person {id} dropped for person {new}"
            ));
        }
    }
}
