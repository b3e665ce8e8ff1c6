//! What every training stage optimises with: AdamW, its learning-rate schedule, and the
//! seeded random stream per stage and epoch that makes a run deterministic for a seed.

use burn::optim::AdamWConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(super) fn rng_for(seed: u64, stage: u64, epoch: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (stage << 56) ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The optimizer every training stage uses: AdamW with light weight decay and gradients
/// clipped to norm 1.
pub(super) fn adamw() -> AdamWConfig {
    AdamWConfig::new()
        .with_weight_decay(1e-4)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
}

/// Learning rate `lr` decayed along a half cosine over `epochs`, at `epoch`.
pub(super) fn cosine_lr(lr: f64, epoch: usize, epochs: usize) -> f64 {
    lr * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs.max(1) as f64).cos())
}
