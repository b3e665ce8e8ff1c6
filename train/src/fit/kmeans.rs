//! k-means (k-means++ seeding, Lloyd iterations) for the motif vocabulary.

use rand::Rng;

/// Cluster `n` points of dimension `d` (row-major) into `k` centroids.
pub fn kmeans(points: &[f32], d: usize, k: usize, iters: usize, rng: &mut impl Rng) -> Vec<f32> {
    let n = points.len() / d;
    let row = |i: usize| &points[i * d..(i + 1) * d];
    let dist2 = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>();
    let mut cent = Vec::with_capacity(k * d);
    if n == 0 {
        return vec![0.0; k * d];
    }
    cent.extend_from_slice(row(rng.random_range(0..n)));
    let mut best = vec![f32::INFINITY; n];
    while cent.len() < k * d {
        let c = cent.len() / d - 1;
        for i in 0..n {
            best[i] = best[i].min(dist2(row(i), &cent[c * d..(c + 1) * d]));
        }
        let total: f64 = best.iter().map(|v| *v as f64).sum();
        let pick = if total <= 0.0 {
            rng.random_range(0..n)
        } else {
            let mut r = rng.random_range(0.0..total);
            let mut chosen = n - 1;
            for (i, v) in best.iter().enumerate() {
                r -= *v as f64;
                if r <= 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        };
        cent.extend_from_slice(row(pick));
    }
    let mut assign = vec![0usize; n];
    for _ in 0..iters {
        for i in 0..n {
            assign[i] = nearest(&cent, d, row(i)).0;
        }
        let mut sum = vec![0.0f64; k * d];
        let mut cnt = vec![0usize; k];
        for i in 0..n {
            cnt[assign[i]] += 1;
            for c in 0..d {
                sum[assign[i] * d + c] += row(i)[c] as f64;
            }
        }
        for c in 0..k {
            if cnt[c] > 0 {
                for x in 0..d {
                    cent[c * d + x] = (sum[c * d + x] / cnt[c] as f64) as f32;
                }
            } else {
                // Re-seed an empty code at a random point, so codes do not die.
                let p = rng.random_range(0..n);
                cent[c * d..(c + 1) * d].copy_from_slice(row(p));
            }
        }
    }
    cent
}

pub fn nearest(cent: &[f32], d: usize, p: &[f32]) -> (usize, f32) {
    let k = cent.len() / d;
    let mut best = (0, f32::INFINITY);
    for c in 0..k {
        let v: f32 = cent[c * d..(c + 1) * d]
            .iter()
            .zip(p)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        if v < best.1 {
            best = (c, v);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn finds_separated_clusters() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut pts = Vec::new();
        for c in 0..3 {
            for i in 0..50 {
                pts.push(c as f32 * 10.0 + (i % 7) as f32 * 0.01);
                pts.push(-(c as f32) * 10.0);
            }
        }
        let cent = kmeans(&pts, 2, 3, 10, &mut rng);
        let mut xs: Vec<f32> = (0..3).map(|c| cent[c * 2]).collect();
        xs.sort_by(f32::total_cmp);
        for (c, x) in xs.iter().enumerate() {
            assert!((x - c as f32 * 10.0).abs() < 0.1, "{xs:?}");
        }
    }
}
