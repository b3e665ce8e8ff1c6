//! What the frame loop takes from: the pose input, typed by `input.type`, and (only with
//! `output.frame_id`) `/tf` and `/tf_static` into the [`TfBuffer`] the pipeline looks inputs
//! up in.

use ros2_client::{MessageInfo, Node, QosProfile, Subscription};

use crate::dds::{subscription, tf_qos, tf_static_qos};
use a4mer_ros::adapters::{InputMessage, InputType};
use a4mer_ros::msg::{Exact, ObjectsStamped, PoseArray, Skeleton3DArray, TFMessage};
use a4mer_ros::tf::TfBuffer;

use super::tf_diag::TfDiagnostics;
use super::{MAX_TAKES_PER_WAKE, NodeError, ros_err};

const TF: mio::Token = mio::Token(3);
const TF_STATIC: mio::Token = mio::Token(4);

/// The input subscription, typed by `input.type`.
pub(super) enum InputSubscription {
    Skeletons(Subscription<Skeleton3DArray>),
    Poses(Subscription<PoseArray>),
    Zed(Subscription<ObjectsStamped>),
}

impl InputSubscription {
    pub(super) fn new(node: &mut Node, kind: InputType, topic: &str, qos: &QosProfile) -> Result<Self, NodeError> {
        Ok(match kind {
            InputType::Skeleton3DArray => Self::Skeletons(subscription(node, topic, qos)?),
            InputType::PoseArray => Self::Poses(subscription(node, topic, qos)?),
            InputType::ZedObjects => Self::Zed(subscription(node, topic, qos)?),
        })
    }

    /// One sample, refused unless it is exactly one message of this build's layout
    /// ([`Exact`]): bytes left over mean a peer built from another revision of the type.
    pub(super) fn take(&self) -> ros2_client::ReadResult<Option<(InputMessage, MessageInfo)>> {
        Ok(match self {
            Self::Skeletons(s) => s
                .take_seed(Exact::new())?
                .map(|(m, i)| (InputMessage::Skeleton3DArray(m), i)),
            Self::Poses(s) => s.take_seed(Exact::new())?.map(|(m, i)| (InputMessage::PoseArray(m), i)),
            Self::Zed(s) => s
                .take_seed(Exact::new())?
                .map(|(m, i)| (InputMessage::ZedObjects(Box::new(m)), i)),
        })
    }

    pub(super) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Self::Skeletons(s) => s,
            Self::Poses(s) => s,
            Self::Zed(s) => s,
        }
    }
}

/// The two TF subscriptions, registered with the frame loop's poll.
pub(super) struct TfInput {
    tf: Subscription<TFMessage>,
    tf_static: Subscription<TFMessage>,
    topics: [String; 2],
}

impl TfInput {
    pub(super) fn new(
        node: &mut Node,
        poll: &mio::Poll,
        tf_topic: &str,
        static_topic: &str,
    ) -> Result<Self, NodeError> {
        let mut tf: Subscription<TFMessage> = subscription(node, tf_topic, &tf_qos())?;
        let mut tf_static: Subscription<TFMessage> = subscription(node, static_topic, &tf_static_qos())?;
        for (sub, token, topic) in [(&mut tf, TF, tf_topic), (&mut tf_static, TF_STATIC, static_topic)] {
            poll.registry()
                .register(sub, token, mio::Interest::READABLE)
                .map_err(|e| ros_err(format!("waiting on {topic}"))(e.to_string()))?;
        }
        Ok(Self {
            tf,
            tf_static,
            topics: [tf_topic.to_string(), static_topic.to_string()],
        })
    }

    /// Everything that arrived, before the poses taken in the same wake-up.
    pub(super) fn drain(&self, buffer: &mut TfBuffer, diag: &mut TfDiagnostics) {
        for (sub, is_static, topic) in [
            (&self.tf_static, true, &self.topics[1]),
            (&self.tf, false, &self.topics[0]),
        ] {
            for _ in 0..MAX_TAKES_PER_WAKE {
                match sub.take() {
                    Ok(Some((msg, _))) => buffer.insert_message(&msg, is_static),
                    Ok(None) => break,
                    Err(e) => diag.malformed(format!("{topic}: {e:?}")),
                }
            }
        }
    }
}
