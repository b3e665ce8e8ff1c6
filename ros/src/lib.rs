//! a4mer-ros: the ROS 2 side of a4mer that needs no DDS: what the node, replay and the bag
//! tools share. The node's DDS wiring is `a4mer-node`.
//!
//! - [`msg`]: serde mirrors of `a4mer_msgs` and the standard/ZED messages we use, with
//!   their CDR wire format and ros2msg schemas;
//! - [`adapters`]: pose messages → canonical [`a4mer_runtime::PoseFrame`]s;
//! - [`outputs`]: `PoseForecast` and forecast `MarkerArray` built from predicted poses;
//! - [`ros_args`]: `--ros-args`, parameter files, name resolution and ROS environment variables;
//! - [`config`]: the node's parameters (`launch/params/a4mer.yaml`), validated;
//! - [`pipeline`]: one input message through adapter, engines, outputs and link frame: what
//!   the node and replay both run;
//! - [`tf`]: a bounded buffer of `/tf` and `/tf_static` and lookups at a message's stamp
//!   (`output.frame_id`);
//! - [`link`]: every person → link frames for the safety MCU (the node's thread writes them);
//! - [`model`]: the model the node and replay run, loaded without burn;
//! - [`startup`]: the node's names and validated parameters from its command line;

pub mod adapters;
pub mod config;
pub mod link;
pub mod model;
pub mod msg;
pub mod outputs;
pub mod pipeline;
pub mod ros_args;
pub mod security;
pub mod startup;
pub mod tf;
