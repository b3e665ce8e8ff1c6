//! The node's data topics, resolved, with their types.

use a4mer_ros::adapters::InputType;
use a4mer_ros::msg::{DiagnosticArray, MarkerArray, MotifAnticipation, PoseForecast, RosMessage};

/// Absolute topic names after namespace expansion and remapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Topics {
    pub poses: String,
    pub forecast: String,
    pub motifs: String,
    pub markers: String,
    pub person_markers: String,
    pub diagnostics: String,
    /// TF, read only with `output.frame_id` (not among [`Topics::endpoints`]: no view
    /// names them).
    pub tf: String,
    pub tf_static: String,
}

/// A data topic of the node with its type: what a view or a tool may name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub topic: String,
    /// `pkg/msg/Name`.
    pub ros_type: String,
    /// Published by the node (else subscribed).
    pub published: bool,
}

impl Topics {
    /// The input (of `input`'s type) and every output, as `run` creates them.
    pub fn endpoints(&self, input: InputType) -> Vec<Endpoint> {
        let out = |topic: &String, ros_type: String| Endpoint {
            topic: topic.clone(),
            ros_type,
            published: true,
        };
        vec![
            Endpoint {
                topic: self.poses.clone(),
                ros_type: input.ros_type_name(),
                published: false,
            },
            out(&self.forecast, PoseForecast::ros_type_name()),
            out(&self.motifs, MotifAnticipation::ros_type_name()),
            out(&self.markers, MarkerArray::ros_type_name()),
            out(&self.person_markers, MarkerArray::ros_type_name()),
            out(&self.diagnostics, DiagnosticArray::ros_type_name()),
        ]
    }
}
