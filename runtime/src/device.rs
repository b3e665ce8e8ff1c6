//! The one place that picks the compute device. burn 0.22 deprecates ndarray/tch in favour
//! of `flex`/`cuda` (0.23): migrating is a change to this file only.

use burn::tensor::Device;

/// The inference device: burn-ndarray on the CPU (single-threaded: no rayon feature).
#[allow(deprecated)] // ndarray is the embedded default until burn 0.23 (see DESIGN.md)
pub fn inference_device() -> Device {
    Device::ndarray()
}

/// The training device: the inference device with autodiff.
pub fn training_device() -> Device {
    inference_device().autodiff()
}
