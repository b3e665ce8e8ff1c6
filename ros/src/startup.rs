//! What the node starts from, and what replay audits with: its names and validated
//! parameters from the command line.

use crate::config::{DEFAULT_NODE_NAME, NodeConfig};
use crate::ros_args::names::NameError;
use crate::ros_args::params::ParamError;
use crate::ros_args::{ArgsError, NodeNames, Parameters, RosArgs};

/// Why a command line gave no node configuration.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Args(#[from] ArgsError),
    #[error("unexpected argument `{0}` (ROS options go after --ros-args)")]
    Unexpected(String),
    #[error(transparent)]
    Names(#[from] NameError),
    #[error(transparent)]
    Params(#[from] ParamError),
}

/// What a node's command line decides.
#[derive(Clone, Debug)]
pub struct Startup {
    pub names: NodeNames,
    pub params: Parameters,
    pub config: NodeConfig,
    /// `--ros-args --enclave`: the SROS2 enclave asked for (see [`crate::security::plan`]).
    pub enclave: Option<String>,
}

/// The node's names, validated parameters and enclave from its command line (without the
/// program name).
pub fn startup_from_args<S: AsRef<str>>(args: &[S]) -> Result<Startup, StartupError> {
    let (rest, ros) = RosArgs::parse(args)?;
    if let Some(first) = rest.first() {
        return Err(StartupError::Unexpected(first.clone()));
    }
    let names = NodeNames::new(DEFAULT_NODE_NAME, "/", &ros)?;
    let params = Parameters::load(&ros, names.name(), &names.fully_qualified_name())?;
    let config = NodeConfig::from_parameters(&params)?;
    Ok(Startup {
        names,
        params,
        config,
        enclave: ros.enclave,
    })
}

/// The node's name and validated parameters from its command line (without the program
/// name).
pub fn parameters_from_args<S: AsRef<str>>(args: &[S]) -> Result<(NodeNames, Parameters, NodeConfig), StartupError> {
    let s = startup_from_args(args)?;
    Ok((s.names, s.params, s.config))
}
