//! `lifecycle_msgs`: the managed-node state machine's messages and services, field order as
//! in their `.msg`/`.srv` files (CDR has no names). ros2-client 0.12 has none of them.

use serde::{Deserialize, Serialize};

/// `lifecycle_msgs/msg/State`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub id: u8,
    pub label: String,
}

/// `lifecycle_msgs/msg/Transition`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: u8,
    pub label: String,
}

/// `lifecycle_msgs/msg/TransitionDescription`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionDescription {
    pub transition: Transition,
    pub start_state: State,
    pub goal_state: State,
}

/// `lifecycle_msgs/msg/TransitionEvent`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionEvent {
    /// Nanoseconds since the epoch.
    pub timestamp: u64,
    pub transition: Transition,
    pub start_state: State,
    pub goal_state: State,
}

/// The request of `GetState`, `GetAvailableStates` and `GetAvailableTransitions`: empty,
/// which ROS 2 IDL gives one placeholder byte.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyRequest {
    pub structure_needs_at_least_one_member: u8,
}

/// `lifecycle_msgs/srv/GetState` response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStateResponse {
    pub current_state: State,
}

/// `lifecycle_msgs/srv/ChangeState` request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStateRequest {
    pub transition: Transition,
}

/// `lifecycle_msgs/srv/ChangeState` response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStateResponse {
    pub success: bool,
}

/// `lifecycle_msgs/srv/GetAvailableStates` response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableStatesResponse {
    pub available_states: Vec<State>,
}

/// `lifecycle_msgs/srv/GetAvailableTransitions` (and `~/get_transition_graph`) response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableTransitionsResponse {
    pub available_transitions: Vec<TransitionDescription>,
}

impl ros2_client::Message for TransitionEvent {}
impl ros2_client::Message for EmptyRequest {}
impl ros2_client::Message for GetStateResponse {}
impl ros2_client::Message for ChangeStateRequest {}
impl ros2_client::Message for ChangeStateResponse {}
impl ros2_client::Message for GetAvailableStatesResponse {}
impl ros2_client::Message for GetAvailableTransitionsResponse {}
