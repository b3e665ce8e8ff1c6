//! Parameters by name: listing, filling, deterministic initialization and EMA.
//!
//! Names are the module field path joined by dots (`atom.blocks.0.attn.qkv.weight`), which
//! is how the artifact stores tensors and how modules built from a config are filled.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// Burn-free (the engine loads from them without burn); re-exported where callers look.
pub use a4mer_runtime::model::tensors::{FillError, NamedTensor, TensorMap, check_shapes};

struct Lister {
    path: Vec<String>,
    out: Vec<(String, Vec<usize>)>,
}

impl ModuleVisitor for Lister {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out
            .push((self.path.join("."), param.lazy_shape().dims::<D>().to_vec()));
    }
}

/// Names and shapes of every float parameter, in module order.
pub fn param_shapes<M: Module>(module: &M) -> Vec<(String, Vec<usize>)> {
    let mut v = Lister {
        path: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut v);
    v.out
}

struct Collector {
    path: Vec<String>,
    out: TensorMap,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let values = t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        self.out.insert(self.path.join("."), NamedTensor { shape, values });
    }
}

/// Every float parameter by name (copied to host memory).
pub fn named_tensors<M: Module>(module: &M) -> TensorMap {
    let mut c = Collector {
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    module.visit(&mut c);
    c.out
}

/// A parameter id derived from its name (FNV-1a), stable across processes.
pub fn stable_id(name: &str) -> ParamId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ParamId::from(h)
}

/// Check that `tensors` has exactly the module's parameters with exactly its shapes.
pub fn check_fit<M: Module>(module: &M, tensors: &TensorMap) -> Result<(), FillError> {
    check_shapes(&param_shapes(module), tensors)
}

struct Filler<'a> {
    path: Vec<String>,
    tensors: &'a TensorMap,
    device: Device,
}

impl ModuleMapper for Filler<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        match self.tensors.get(&name) {
            // `check_fit` ran first, so every entry is present with the right shape.
            Some(t) => {
                let data = TensorData::new(t.values.clone(), t.shape.clone());
                let new = Tensor::<D>::from_data(data, &self.device);
                let (_, old, mapper) = param.consume();
                let rg = old.is_require_grad();
                // Ids derive from names, so a rebuilt model (resume) matches optimizer state.
                Param::from_mapped_value(stable_id(&name), new.set_require_grad(rg), mapper)
            }
            None => param,
        }
    }
}

/// Fill a module's parameters by name. Checks everything first, so on error the module
/// is untouched (it is consumed and returned only on success: no half-loaded model).
pub fn fill<M: Module>(module: M, tensors: &TensorMap, device: &Device) -> Result<M, FillError> {
    check_fit(&module, tensors)?;
    let mut f = Filler {
        path: Vec::new(),
        tensors,
        device: device.clone(),
    };
    Ok(module.map(&mut f))
}

/// Deterministic initialization from a seed, independent of any global RNG (tests run in
/// parallel threads; burn's backend RNG is shared). Rules by parameter name:
/// layer-norm gain 1, biases and layer-norm shifts 0, the frame predictor's correction 0
/// (it starts as constant-velocity extrapolation), tables N(0, 0.02), weights U(±1/sqrt(fan_in)).
pub fn init_params<M: Module>(module: M, seed: u64, device: &Device) -> M {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = BTreeMap::new();
    for (name, shape) in param_shapes(&module) {
        let n: usize = shape.iter().product();
        let last = name.rsplit('.').next().unwrap_or("");
        let values: Vec<f32> = if last == "gamma" {
            vec![1.0; n]
        } else if last == "beta" || last == "bias" || name.starts_with("frame_pred.") || name == "motif.mask_token" {
            vec![0.0; n]
        } else if last == "pos" || last == "dur" {
            (0..n).map(|_| rng.random_range(-0.035f32..0.035)).collect()
        } else {
            let fan_in = shape.first().copied().unwrap_or(1).max(1) as f32;
            let k = 1.0 / fan_in.sqrt();
            (0..n).map(|_| rng.random_range(-k..k)).collect()
        };
        out.insert(name, NamedTensor { shape, values });
    }
    let mut f = Filler {
        path: Vec::new(),
        tensors: &out,
        device: device.clone(),
    };
    module.map(&mut f)
}

struct Ema<'a> {
    path: Vec<String>,
    online: &'a BTreeMap<String, Tensor<1>>,
    momentum: f32,
}

impl ModuleMapper for Ema<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let Some(online) = self.online.get(&name) else {
            return param;
        };
        let m = self.momentum;
        let online = online.clone();
        param.map(|t| {
            let shape = t.dims();
            let o: Tensor<D> = online.reshape(shape);
            (t.mul_scalar(m) + o.mul_scalar(1.0 - m)).detach()
        })
    }
}

struct FlatCollector {
    path: Vec<String>,
    out: BTreeMap<String, Tensor<1>>,
}

impl ModuleVisitor for FlatCollector {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        let t = t.inner();
        self.out.insert(self.path.join("."), t.reshape([n]));
    }
}

/// EMA target update: `target = m * target + (1 - m) * online`, matched by name. The
/// online module may live on an autodiff device; the target never tracks gradients.
pub fn ema_update<M: Module, T: Module>(target: T, online: &M, momentum: f32) -> T {
    let mut c = FlatCollector {
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    online.visit(&mut c);
    let mut e = Ema {
        path: Vec::new(),
        online: &c.out,
        momentum,
    };
    target.map(&mut e)
}
