//! Deterministic byte mutations (a fixed-seed xorshift), so a failing input reproduces.

use a4mer_runtime::PoseFrame;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flip, overwrite with extreme values, truncate or extend.
pub fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // A length or count field turned huge.
            let i = rng.below(out.len().saturating_sub(4)) & !3;
            if i + 4 <= out.len() {
                out[i..i + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
            }
        }
        2 => out.truncate(rng.below(out.len())),
        _ => out.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
    }
    out
}

pub fn frame(k: i64) -> PoseFrame {
    let joints = std::array::from_fn(|j| [j as f32 * 0.1 + k as f32 * 1e-3, 0.2, 1.0]);
    PoseFrame::new(1_000_000_000 + k * 33_333_333, joints, [true; 24])
}
