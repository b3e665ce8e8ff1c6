//! The node's ROS services, on a thread of their own at `SCHED_OTHER`: the six
//! `rcl_interfaces` parameter services with full descriptors ([`super::params`]),
//! `/parameter_events`, and the managed-node services with `~/transition_event`
//! ([`super::lifecycle`]).
//!
//! The frame loop owns everything a frame touches; this thread only decides. An accepted
//! parameter change goes to the loop as the new configuration, a lifecycle transition as a
//! [`Step`] the loop carries out and answers, and a `mio::Waker` wakes the loop for either,
//! so a change applies before the next input message is handled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, SyncSender};
use std::time::Duration;

use ros2_client::parameters::raw;
use ros2_client::rcl_interfaces::{
    DescribeParametersRequest, DescribeParametersResponse, GetParameterTypesRequest, GetParameterTypesResponse,
    GetParametersRequest, GetParametersResponse, ListParametersRequest, ListParametersResponse,
    SetParametersAtomicallyResponse, SetParametersRequest, SetParametersResponse,
};
use ros2_client::{Context, Message, Name, Node, Parameter, Publisher, Server, ServiceMapping, ServiceTypeName};

use super::lifecycle::{self, Primary, Step};
use super::params::ParamStore;
use super::{NodeError, ros_err};
use crate::dds::output_qos;
use crate::lifecycle_msgs::{
    ChangeStateRequest, ChangeStateResponse, EmptyRequest, GetAvailableStatesResponse, GetAvailableTransitionsResponse,
    GetStateResponse, TransitionEvent,
};
use a4mer_ros::config::NodeConfig;

/// What the service thread asks of the frame loop.
pub enum Control {
    /// The configuration after an accepted parameter change, and the change (`name:=value`
    /// each) for `/diagnostics`.
    Config {
        config: Box<NodeConfig>,
        changes: Vec<String>,
    },
    /// Carry out a lifecycle step and say whether it succeeded (and why not).
    Transition {
        step: Step,
        done: SyncSender<Result<(), String>>,
    },
}

/// Longest a lifecycle step may take in the frame loop before the transition fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the thread sleeps before it looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

struct Servers {
    list: Server<ListParametersRequest, ListParametersResponse>,
    get: Server<GetParametersRequest, GetParametersResponse>,
    get_types: Server<GetParameterTypesRequest, GetParameterTypesResponse>,
    describe: Server<DescribeParametersRequest, DescribeParametersResponse>,
    set: Server<SetParametersRequest, SetParametersResponse>,
    set_atomically: Server<SetParametersRequest, SetParametersAtomicallyResponse>,
    get_state: Server<EmptyRequest, GetStateResponse>,
    change_state: Server<ChangeStateRequest, ChangeStateResponse>,
    get_available_states: Server<EmptyRequest, GetAvailableStatesResponse>,
    get_available_transitions: Server<EmptyRequest, GetAvailableTransitionsResponse>,
    get_transition_graph: Server<EmptyRequest, GetAvailableTransitionsResponse>,
}

fn server<Req, Resp>(
    node: &mut Node,
    fqn: &str,
    name: &str,
    pkg: &str,
    srv: &str,
) -> Result<Server<Req, Resp>, NodeError>
where
    Req: Message + Clone + 'static,
    Resp: Message + 'static,
{
    let what = format!("service {fqn}/{name}");
    let service = Name::new(fqn, name).map_err(|e| ros_err(what.clone())(format!("{e:?}")))?;
    // ROS 2's service QoS: reliable, volatile.
    let qos = output_qos(10);
    node.create_server(
        ServiceMapping::Enhanced,
        &service,
        &ServiceTypeName::new(pkg, srv),
        qos.clone(),
        qos,
    )
    .map_err(|e| ros_err(what)(format!("{e:?}")))
}

/// The services, ready to run on their thread.
pub struct Services {
    servers: Servers,
    parameter_events: Publisher<raw::ParameterEvent>,
    transition_events: Publisher<TransitionEvent>,
    store: ParamStore,
    state: Primary,
    node_fqn: String,
    control: Sender<Control>,
    waker: Arc<mio::Waker>,
}

fn wall_clock_ns() -> u64 {
    super::wall_clock_ns().max(0) as u64
}

impl Services {
    /// Create every server and publisher on `node` (fully qualified name `fqn`).
    pub fn new(
        node: &mut Node,
        ctx: &Context,
        fqn: &str,
        store: ParamStore,
        state: Primary,
        control: Sender<Control>,
        waker: Arc<mio::Waker>,
    ) -> Result<Self, NodeError> {
        let rcl = "rcl_interfaces";
        let lc = "lifecycle_msgs";
        let servers = Servers {
            list: server(node, fqn, "list_parameters", rcl, "ListParameters")?,
            get: server(node, fqn, "get_parameters", rcl, "GetParameters")?,
            get_types: server(node, fqn, "get_parameter_types", rcl, "GetParameterTypes")?,
            describe: server(node, fqn, "describe_parameters", rcl, "DescribeParameters")?,
            set: server(node, fqn, "set_parameters", rcl, "SetParameters")?,
            set_atomically: server(node, fqn, "set_parameters_atomically", rcl, "SetParametersAtomically")?,
            get_state: server(node, fqn, "get_state", lc, "GetState")?,
            change_state: server(node, fqn, "change_state", lc, "ChangeState")?,
            get_available_states: server(node, fqn, "get_available_states", lc, "GetAvailableStates")?,
            get_available_transitions: server(node, fqn, "get_available_transitions", lc, "GetAvailableTransitions")?,
            get_transition_graph: server(node, fqn, "get_transition_graph", lc, "GetAvailableTransitions")?,
        };
        let events_topic = ctx.get_parameter_events_topic();
        let parameter_events = node
            .create_publisher(&events_topic, None)
            .map_err(|e| ros_err("publisher on /parameter_events")(format!("{e:?}")))?;
        let transition_topic = format!("{fqn}/transition_event");
        let name = Name::parse(&transition_topic)
            .map_err(|e| ros_err(format!("topic {transition_topic}"))(format!("{e:?}")))?;
        let qos = output_qos(10);
        let topic = node
            .create_topic(&name, ros2_client::MessageTypeName::new(lc, "TransitionEvent"), &qos)
            .map_err(|e| ros_err(format!("topic {transition_topic}"))(format!("{e:?}")))?;
        let transition_events = node
            .create_publisher(&topic, Some(qos))
            .map_err(|e| ros_err(format!("publisher on {transition_topic}"))(format!("{e:?}")))?;
        Ok(Self {
            servers,
            parameter_events,
            transition_events,
            store,
            state,
            node_fqn: fqn.to_string(),
            control,
            waker,
        })
    }

    /// Serve until `stop` is set.
    pub fn run(mut self, stop: &AtomicBool) -> Result<(), NodeError> {
        let mut poll = mio::Poll::new().map_err(|e| ros_err("service event loop")(e.to_string()))?;
        let s = &mut self.servers;
        let sources: [&mut dyn mio::event::Source; 11] = [
            &mut s.list,
            &mut s.get,
            &mut s.get_types,
            &mut s.describe,
            &mut s.set,
            &mut s.set_atomically,
            &mut s.get_state,
            &mut s.change_state,
            &mut s.get_available_states,
            &mut s.get_available_transitions,
            &mut s.get_transition_graph,
        ];
        for (k, source) in sources.into_iter().enumerate() {
            poll.registry()
                .register(source, mio::Token(k), mio::Interest::READABLE)
                .map_err(|e| ros_err("service event loop")(e.to_string()))?;
        }
        let mut events = mio::Events::with_capacity(16);
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = poll.poll(&mut events, Some(STOP_CHECK))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                return Err(ros_err("service event loop")(e.to_string()));
            }
            // Few requests ever arrive: look at every server on any wake-up.
            self.serve_once();
        }
        Ok(())
    }

    fn serve_once(&mut self) {
        let s = &self.servers;
        while let Ok(Some((id, req))) = s.list.receive_request() {
            let result = self.store.list(&req.prefixes, req.depth);
            let _ = s.list.send_response(id, ListParametersResponse { result });
        }
        while let Ok(Some((id, req))) = s.get.receive_request() {
            let values = req.names.iter().map(|n| self.store.get(n).into()).collect();
            let _ = s.get.send_response(id, GetParametersResponse { values });
        }
        while let Ok(Some((id, req))) = s.get_types.receive_request() {
            let values = req.names.iter().map(|n| self.store.get_type(n)).collect();
            let _ = s.get_types.send_response(id, GetParameterTypesResponse { values });
        }
        while let Ok(Some((id, req))) = s.describe.receive_request() {
            let values = req.names.iter().map(|n| self.store.describe(n).into()).collect();
            let _ = s.describe.send_response(id, DescribeParametersResponse { values });
        }
        while let Ok(Some((id, req))) = self.servers.set.receive_request() {
            // Each on its own, as rclcpp's set_parameters does.
            let results = req
                .parameter
                .into_iter()
                .map(|p| self.set(vec![p.into()]).into())
                .collect();
            let _ = self.servers.set.send_response(id, SetParametersResponse { results });
        }
        while let Ok(Some((id, req))) = self.servers.set_atomically.receive_request() {
            let result = self
                .set(req.parameter.into_iter().map(Parameter::from).collect())
                .into();
            let _ = self
                .servers
                .set_atomically
                .send_response(id, SetParametersAtomicallyResponse { result });
        }
        while let Ok(Some((id, _))) = self.servers.get_state.receive_request() {
            let current_state = self.state.state();
            let _ = self
                .servers
                .get_state
                .send_response(id, GetStateResponse { current_state });
        }
        while let Ok(Some((id, req))) = self.servers.change_state.receive_request() {
            let success = self.change_state(&req.transition);
            let _ = self
                .servers
                .change_state
                .send_response(id, ChangeStateResponse { success });
        }
        let s = &self.servers;
        while let Ok(Some((id, _))) = s.get_available_states.receive_request() {
            let available_states = lifecycle::all_states();
            let _ = s
                .get_available_states
                .send_response(id, GetAvailableStatesResponse { available_states });
        }
        while let Ok(Some((id, _))) = s.get_available_transitions.receive_request() {
            let available_transitions = lifecycle::available_from(self.state);
            let _ = s
                .get_available_transitions
                .send_response(id, GetAvailableTransitionsResponse { available_transitions });
        }
        while let Ok(Some((id, _))) = s.get_transition_graph.receive_request() {
            let available_transitions = lifecycle::graph();
            let _ = s
                .get_transition_graph
                .send_response(id, GetAvailableTransitionsResponse { available_transitions });
        }
    }

    /// Check and apply `changes` all or none; the frame loop gets the new configuration and
    /// `/parameter_events` the change.
    fn set(&mut self, changes: Vec<Parameter>) -> Result<(), String> {
        let config = self.store.set_atomically(&changes)?;
        let now = config.settings(self.store.params());
        let said = changes
            .iter()
            .map(|p| {
                let value = now.iter().find(|s| s.name == p.name).map_or("", |s| s.value.as_str());
                format!("{}:={value}", p.name)
            })
            .collect();
        self.tell_frame_loop(Control::Config {
            config: Box::new(config),
            changes: said,
        })?;
        let event = raw::ParameterEvent {
            stamp: ros2_client::builtin_interfaces::Time::now(),
            node: self.node_fqn.clone(),
            new_parameters: Vec::new(),
            changed_parameters: changes.into_iter().map(raw::Parameter::from).collect(),
            deleted_parameters: Vec::new(),
        };
        if let Err(e) = self.parameter_events.publish(event) {
            eprintln!("a4mer_node: warning: /parameter_events: {e:?}");
        }
        Ok(())
    }

    fn tell_frame_loop(&self, c: Control) -> Result<(), String> {
        self.control
            .send(c)
            .map_err(|_| "the frame loop has stopped".to_string())?;
        self.waker.wake().map_err(|e| format!("waking the frame loop: {e}"))
    }

    fn change_state(&mut self, asked: &crate::lifecycle_msgs::Transition) -> bool {
        let planned = match lifecycle::plan(self.state, asked) {
            Ok(p) => p,
            Err(why) => {
                eprintln!("a4mer_node: lifecycle: {why}");
                return false;
            }
        };
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        let outcome = self
            .tell_frame_loop(Control::Transition {
                step: planned.step,
                done,
            })
            .and_then(|()| {
                answer
                    .recv_timeout(STEP_TIMEOUT)
                    .unwrap_or_else(|e| Err(format!("the frame loop did not answer: {e}")))
            });
        if let Err(why) = &outcome {
            eprintln!(
                "a4mer_node: lifecycle: {} from {} failed: {why}",
                asked.label,
                self.state.state().label
            );
        }
        let succeeded = outcome.is_ok();
        for event in planned.events(wall_clock_ns(), succeeded) {
            if let Err(e) = self.transition_events.publish(event) {
                eprintln!("a4mer_node: warning: {}/transition_event: {e:?}", self.node_fqn);
            }
        }
        if succeeded {
            self.state = planned.to;
        }
        succeeded
    }
}
