use super::*;
use crate::ros_args::RosArgs;

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../launch/params/a4mer.yaml")
}

/// The shipped file lists every parameter, and its values are the defaults.
#[test]
fn shipped_params_file_documents_every_parameter_with_its_default() {
    let path = shipped();
    let (_, ros) = RosArgs::parse(&["--ros-args", "--params-file", path.to_str().unwrap()]).unwrap();
    let p = Parameters::load(&ros, DEFAULT_NODE_NAME, "/robot1/a4mer_node").unwrap();
    let listed: Vec<&str> = p.names().collect();
    // Setting the link's frame is a statement about the cell; the file shows it commented.
    let unset = "link.base_from_forecast_xyz_rpy";
    let mut want: Vec<&str> = PARAMETERS.iter().copied().filter(|n| *n != unset).collect();
    want.sort();
    assert_eq!(listed, want);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# base_from_forecast_xyz_rpy: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]"));
    let from_file = NodeConfig::from_parameters(&p).unwrap();
    let defaults = NodeConfig::from_parameters(&Parameters::default()).unwrap();
    assert_eq!(from_file, defaults);
}
