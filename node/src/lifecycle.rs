//! The managed-node state machine of ROS 2 (design.ros2.org "Managed nodes", rcl_lifecycle's
//! default machine): four primary states, a transition state for each transition, and the
//! `lifecycle_msgs` ids and labels peers use.
//!
//! What each state means for this node:
//! - unconfigured (and finalized): no engines and no link; input samples are taken and
//!   dropped. Without link frames the MCU reaches its deadline and stops protectively.
//! - inactive: engines follow people, nothing is published, and every link frame goes out
//!   `Degraded`, so the MCU applies its certified fallback on live poses.
//! - active: forecasts, motifs and markers are published; link frames carry their health.
//!
//! Publishers and the input subscription exist from start-up in every state, so the ROS
//! graph does not change under a lifecycle manager (rclcpp's lifecycle publishers also exist
//! while inactive and merely drop what is published).

use crate::lifecycle_msgs::{State, Transition, TransitionDescription, TransitionEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primary {
    Unconfigured,
    Inactive,
    Active,
    Finalized,
}

impl Primary {
    pub fn state(self) -> State {
        let (id, label) = match self {
            Self::Unconfigured => (1, "unconfigured"),
            Self::Inactive => (2, "inactive"),
            Self::Active => (3, "active"),
            Self::Finalized => (4, "finalized"),
        };
        State {
            id,
            label: label.into(),
        }
    }
}

/// What the frame loop does for a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Build the engines and open the link.
    Configure,
    /// Drop the engines and close the link.
    Cleanup,
    Activate,
    Deactivate,
    /// As cleanup; the node then stays finalized until it is stopped.
    Shutdown,
}

#[derive(Debug)]
struct Def {
    id: u8,
    label: &'static str,
    from: Primary,
    /// The transition state (id, label) and the id of its success transition.
    via: (u8, &'static str, u8),
    to: Primary,
    step: Step,
}

const MACHINE: [Def; 7] = [
    Def {
        id: 1,
        label: "configure",
        from: Primary::Unconfigured,
        via: (10, "configuring", 10),
        to: Primary::Inactive,
        step: Step::Configure,
    },
    Def {
        id: 2,
        label: "cleanup",
        from: Primary::Inactive,
        via: (11, "cleaningup", 20),
        to: Primary::Unconfigured,
        step: Step::Cleanup,
    },
    Def {
        id: 3,
        label: "activate",
        from: Primary::Inactive,
        via: (13, "activating", 30),
        to: Primary::Active,
        step: Step::Activate,
    },
    Def {
        id: 4,
        label: "deactivate",
        from: Primary::Active,
        via: (14, "deactivating", 40),
        to: Primary::Inactive,
        step: Step::Deactivate,
    },
    Def {
        id: 5,
        label: "shutdown",
        from: Primary::Unconfigured,
        via: (12, "shuttingdown", 50),
        to: Primary::Finalized,
        step: Step::Shutdown,
    },
    Def {
        id: 6,
        label: "shutdown",
        from: Primary::Inactive,
        via: (12, "shuttingdown", 50),
        to: Primary::Finalized,
        step: Step::Shutdown,
    },
    Def {
        id: 7,
        label: "shutdown",
        from: Primary::Active,
        via: (12, "shuttingdown", 50),
        to: Primary::Finalized,
        step: Step::Shutdown,
    },
];

/// Every state of the machine, primary and transition (`~/get_available_states`).
pub fn all_states() -> Vec<State> {
    let mut states: Vec<State> = [
        Primary::Unconfigured,
        Primary::Inactive,
        Primary::Active,
        Primary::Finalized,
    ]
    .map(Primary::state)
    .to_vec();
    for (id, label) in [
        (10, "configuring"),
        (11, "cleaningup"),
        (12, "shuttingdown"),
        (13, "activating"),
        (14, "deactivating"),
        (15, "errorprocessing"),
    ] {
        states.push(State {
            id,
            label: label.into(),
        });
    }
    states
}

fn describe(d: &Def) -> TransitionDescription {
    TransitionDescription {
        transition: Transition {
            id: d.id,
            label: d.label.into(),
        },
        start_state: d.from.state(),
        goal_state: State {
            id: d.via.0,
            label: d.via.1.into(),
        },
    }
}

/// The transitions from `state` (`~/get_available_transitions`).
pub fn available_from(state: Primary) -> Vec<TransitionDescription> {
    MACHINE.iter().filter(|d| d.from == state).map(describe).collect()
}

/// Every transition (`~/get_transition_graph`).
pub fn graph() -> Vec<TransitionDescription> {
    MACHINE.iter().map(describe).collect()
}

/// A transition asked for from `state`, found as rclcpp finds it: by label when one is
/// given (so `shutdown` works from any state), otherwise by id.
#[derive(Debug)]
pub struct Planned {
    pub step: Step,
    pub from: Primary,
    pub to: Primary,
    def: &'static Def,
}

pub fn plan(state: Primary, asked: &Transition) -> Result<Planned, String> {
    let found = MACHINE.iter().find(|d| {
        d.from == state
            && if asked.label.is_empty() {
                d.id == asked.id
            } else {
                d.label == asked.label
            }
    });
    match found {
        Some(def) => Ok(Planned {
            step: def.step,
            from: def.from,
            to: def.to,
            def,
        }),
        None => Err(format!(
            "transition {} `{}` is not available in state {}",
            asked.id,
            asked.label,
            state.state().label
        )),
    }
}

impl Planned {
    /// The two `~/transition_event`s: into the transition state, then out of it to `ended`
    /// (the goal on success, the start state on failure).
    pub fn events(&self, timestamp_ns: u64, succeeded: bool) -> [TransitionEvent; 2] {
        let (via_id, via_label, success_id) = self.def.via;
        let via = State {
            id: via_id,
            label: via_label.into(),
        };
        let (end_id, end_label, ended) = if succeeded {
            (success_id, "transition_success", self.to)
        } else {
            (success_id + 1, "transition_failure", self.from)
        };
        [
            TransitionEvent {
                timestamp: timestamp_ns,
                transition: Transition {
                    id: self.def.id,
                    label: self.def.label.into(),
                },
                start_state: self.from.state(),
                goal_state: via.clone(),
            },
            TransitionEvent {
                timestamp: timestamp_ns,
                transition: Transition {
                    id: end_id,
                    label: end_label.into(),
                },
                start_state: via,
                goal_state: ended.state(),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: u8, label: &str) -> Transition {
        Transition {
            id,
            label: label.into(),
        }
    }

    #[test]
    fn the_standard_machine_by_id_and_by_label() {
        let p = plan(Primary::Unconfigured, &t(1, "")).unwrap();
        assert_eq!((p.step, p.to), (Step::Configure, Primary::Inactive));
        assert_eq!(plan(Primary::Inactive, &t(0, "activate")).unwrap().to, Primary::Active);
        assert_eq!(plan(Primary::Active, &t(4, "")).unwrap().to, Primary::Inactive);
        for s in [Primary::Unconfigured, Primary::Inactive, Primary::Active] {
            let p = plan(s, &t(0, "shutdown")).unwrap();
            assert_eq!((p.step, p.to), (Step::Shutdown, Primary::Finalized));
        }
        let e = plan(Primary::Unconfigured, &t(3, "")).unwrap_err();
        assert!(e.contains("not available in state unconfigured"), "{e}");
        assert!(plan(Primary::Finalized, &t(0, "configure")).is_err());
        assert!(
            plan(Primary::Active, &t(6, "")).is_err(),
            "inactive_shutdown from active"
        );
        let labels: Vec<String> = available_from(Primary::Inactive)
            .into_iter()
            .map(|d| d.transition.label)
            .collect();
        assert_eq!(labels, ["cleanup", "activate", "shutdown"]);
        assert_eq!(all_states().len(), 10);
        assert_eq!(graph().len(), 7);
    }

    #[test]
    fn events_go_through_the_transition_state() {
        let p = plan(Primary::Active, &t(4, "")).unwrap();
        let [a, b] = p.events(5, true);
        assert_eq!((a.start_state.id, a.goal_state.label.as_str()), (3, "deactivating"));
        assert_eq!((b.transition.id, b.goal_state.label.as_str()), (40, "inactive"));
        let [_, failed] = p.events(5, false);
        assert_eq!((failed.transition.id, failed.goal_state.label.as_str()), (41, "active"));
    }
}
