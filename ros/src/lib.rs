//! a4mer-ros: the ROS 2 side of a4mer.
//!
//! - [`msg`]: serde mirrors of `a4mer_msgs` and the standard/ZED messages we use, with
//!   their CDR wire format and ros2msg schemas;
//! - [`adapters`]: pose messages → canonical [`a4mer_runtime::PoseFrame`]s;
//! - [`outputs`]: `PoseForecast` and forecast `MarkerArray` built from predicted poses;
//! - [`ros_args`]: `--ros-args`, parameter files, name resolution and ROS environment variables;
//! - [`config`]: the node's parameters (`launch/params/a4mer.yaml`), validated;
//! - [`dds`]: a ros2-client context honouring the ROS environment, and explicit QoS;
//! - [`pipeline`]: one input message through adapter, engines, outputs and link frame: what
//!   the node and replay both run;
//! - [`tf`]: a bounded buffer of `/tf` and `/tf_static` and lookups at a message's stamp
//!   (`output.frame_id`);
//! - [`node`]: `a4mer_node` itself: start-up validation, the frame loop, `/diagnostics`;
//! - [`demo`]: publisher, node and scoring subscriber on loopback DDS (`a4mer demo`);

pub mod adapters;
pub mod config;
pub mod dds;
pub mod demo;
pub mod link;
pub mod msg;
pub mod node;
pub mod outputs;
pub mod pipeline;
pub mod ros_args;
pub mod tf;
