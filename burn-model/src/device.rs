//! The one place that picks the compute device. burn 0.22 deprecates ndarray/tch in favour
//! of `flex`/`cuda` (0.23): migrating is a change to this file only.
//!
//! The default build has burn-ndarray only. The `tch` cargo feature adds burn-tch (libtorch,
//! CPU or CUDA); which backend runs is then a run-time choice ([`Backend`]).

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A backend for inference, chosen at run time (`--backend ndarray|tch-cpu|tch-cuda`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// burn-ndarray on the CPU: always built, single-threaded.
    #[default]
    Ndarray,
    /// libtorch on the CPU (needs the `tch` feature).
    TchCpu,
    /// libtorch on CUDA device 0 (needs the `tch` feature and a CUDA-enabled libtorch with a GPU).
    TchCuda,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Ndarray, Backend::TchCpu, Backend::TchCuda];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::TchCpu => "tch-cpu",
            Backend::TchCuda => "tch-cuda",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| BackendError::Unknown(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    #[error("unknown backend `{0}`: expected ndarray, tch-cpu or tch-cuda")]
    Unknown(String),
    #[error(
        "backend `{0}` needs libtorch, and this build has none: rebuild with `--features tch` (see burn-model/README.md)"
    )]
    NotBuilt(Backend),
    #[error("backend `tch-cuda`: no CUDA device: {0}")]
    NoCuda(String),
}

/// The inference device: burn-ndarray on the CPU (single-threaded: no rayon feature).
#[allow(deprecated)] // ndarray is the embedded default until burn 0.23 (see DESIGN.md)
pub fn inference_device() -> Device {
    Device::ndarray()
}

/// The training device: the inference device with autodiff.
pub fn training_device() -> Device {
    inference_device().autodiff()
}

/// The device for a backend chosen at run time. `tch-cuda` is checked here, so a machine
/// without a GPU gets an error naming the reason instead of a libtorch panic on first use.
pub fn backend_device(backend: Backend) -> Result<Device, BackendError> {
    match backend {
        Backend::Ndarray => Ok(inference_device()),
        Backend::TchCpu | Backend::TchCuda => libtorch::device(backend),
    }
}

/// Whether `device` runs on libtorch (burn-tch). burn-tch panics on quantized tensors, so
/// the artifact loader refuses int8 artifacts on such a device with an error instead.
/// Always false in a build without the `tch` feature (no libtorch device can exist).
pub fn is_libtorch(device: &Device) -> bool {
    cfg!(feature = "tch") && format!("{device:?}").contains("LibTorch")
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // burn-tch is the Jetson GPU path until burn 0.23 (see DESIGN.md)
mod libtorch {
    use burn::tensor::{Device, DeviceType};

    use super::{Backend, BackendError};

    pub fn device(backend: Backend) -> Result<Device, BackendError> {
        if backend == Backend::TchCpu {
            return Ok(Device::libtorch());
        }
        // burn lists libtorch's CUDA devices (tch's `Cuda::device_count`): none on a
        // CPU-only libtorch, and none when the driver or GPU is missing.
        let n = Device::enumerate(DeviceType::LibTorch).len();
        if n == 0 {
            return Err(BackendError::NoCuda(
                "libtorch reports 0 CUDA devices (no GPU or driver visible, or a CPU-only libtorch build)".into(),
            ));
        }
        Ok(Device::libtorch_cuda(0))
    }
}

#[cfg(not(feature = "tch"))]
mod libtorch {
    use burn::tensor::Device;

    use super::{Backend, BackendError};

    pub fn device(backend: Backend) -> Result<Device, BackendError> {
        Err(BackendError::NotBuilt(backend))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip_and_unknown_names_are_rejected() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
        }
        assert_eq!(Backend::default(), Backend::Ndarray);
        for bad in ["", "tch", "cuda", "Tch-Cpu", "ndarray "] {
            let e = bad.parse::<Backend>().unwrap_err();
            assert_eq!(e, BackendError::Unknown(bad.to_string()));
            assert!(e.to_string().contains("ndarray, tch-cpu or tch-cuda"), "{e}");
        }
    }

    #[test]
    fn ndarray_is_always_available() {
        assert!(backend_device(Backend::Ndarray).is_ok());
        assert!(!is_libtorch(&inference_device()));
    }

    #[cfg(feature = "tch")]
    #[test]
    fn tch_cpu_is_a_libtorch_device() {
        let name = format!("{:?}", backend_device(Backend::TchCpu).unwrap());
        assert!(name.contains("LibTorch") && name.contains("Cpu"), "{name}");
        assert!(is_libtorch(&backend_device(Backend::TchCpu).unwrap()));
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn tch_backends_in_a_build_without_the_feature_say_how_to_get_them() {
        for b in [Backend::TchCpu, Backend::TchCuda] {
            let e = backend_device(b).unwrap_err();
            assert_eq!(e, BackendError::NotBuilt(b));
            let msg = e.to_string();
            assert!(msg.contains("--features tch") && msg.contains(b.name()), "{msg}");
        }
    }
}
