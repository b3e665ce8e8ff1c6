//! How a motif vocabulary lines up with action labels: normalised mutual information and
//! purity over frames, each frame a (motif id, label) pair. No model here: the caller
//! assigns each frame the motif of the atom covering it.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MotifLabelError {
    #[error("no labelled frames to score: no labelled recording had a frame covered by an atom")]
    NoFrames,
}

/// The action a motion clip's file stem names, for sources with one action per clip
/// (DeepMimic): `humanoid3d_getup_faceup` is `getup_faceup`, the walker's `turn_left0` is
/// `turn_left`. Digit runs at either end are take numbers, not part of the action: the
/// walker folder numbers takes at the end (`turn_left0`) and at the start (`0walk_forward`).
/// `None` when nothing is left.
pub fn clip_action_label(stem: &str) -> Option<String> {
    let s = stem.strip_prefix("humanoid3d_").unwrap_or(stem);
    let s = s
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_matches('_');
    (!s.is_empty()).then(|| s.to_string())
}

/// One label's most frequent motif.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelMotif {
    pub label: String,
    pub frames: usize,
    pub dominant_motif: usize,
    /// Share of the label's frames in `dominant_motif`.
    pub dominant_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MotifLabelScores {
    pub frames: usize,
    /// Distinct motif ids among the scored frames.
    pub motifs_used: usize,
    pub labels: usize,
    /// 2·I(motif; label) / (H(motif) + H(label)): scikit-learn's
    /// `normalized_mutual_info_score` with its default arithmetic normalisation.
    pub nmi: f64,
    /// Each motif taken as its most frequent label: the share of frames whose label that is.
    pub purity: f64,
    /// By label, in label order.
    pub per_label: Vec<LabelMotif>,
}

fn entropy(counts: impl Iterator<Item = usize>, n: f64) -> f64 {
    counts
        .filter(|&c| c > 0)
        .map(|c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Score frames given as (motif id, label) pairs.
pub fn score_motif_labels<'a>(
    pairs: impl IntoIterator<Item = (usize, &'a str)>,
) -> Result<MotifLabelScores, MotifLabelError> {
    // BTreeMaps keep ties (dominant motif, majority label) resolved the same way every run:
    // the smallest id or label wins.
    let mut joint: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    let mut by_motif: BTreeMap<usize, usize> = BTreeMap::new();
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    let mut frames = 0usize;
    for (m, l) in pairs {
        *joint.entry((m, l)).or_default() += 1;
        *by_motif.entry(m).or_default() += 1;
        *by_label.entry(l).or_default() += 1;
        frames += 1;
    }
    if frames == 0 {
        return Err(MotifLabelError::NoFrames);
    }
    let n = frames as f64;
    let h_motif = entropy(by_motif.values().copied(), n);
    let h_label = entropy(by_label.values().copied(), n);
    let mi: f64 = joint
        .iter()
        .map(|(&(m, l), &c)| {
            let c = c as f64;
            (c / n) * (c * n / (by_motif[&m] as f64 * by_label[l] as f64)).ln()
        })
        .sum::<f64>()
        // Rounding can leave a hair below zero for independent partitions.
        .max(0.0);
    let nmi = if by_motif.len() == 1 && by_label.len() == 1 {
        // Both partitions are one cluster: identical, as scikit-learn scores them.
        1.0
    } else {
        (2.0 * mi / (h_motif + h_label).max(f64::EPSILON)).min(1.0)
    };
    let mut majority: BTreeMap<usize, usize> = BTreeMap::new();
    let mut dominant: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (&(m, l), &c) in &joint {
        let best = majority.entry(m).or_default();
        *best = (*best).max(c);
        let d = dominant.entry(l).or_insert((m, 0));
        if c > d.1 {
            *d = (m, c);
        }
    }
    let purity = majority.values().sum::<usize>() as f64 / n;
    let per_label = dominant
        .iter()
        .map(|(&l, &(m, c))| LabelMotif {
            label: l.to_string(),
            frames: by_label[l],
            dominant_motif: m,
            dominant_share: c as f64 / by_label[l] as f64,
        })
        .collect();
    Ok(MotifLabelScores {
        frames,
        motifs_used: by_motif.len(),
        labels: by_label.len(),
        nmi,
        purity,
        per_label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs<'a>(spec: &[(usize, &'a str, usize)]) -> Vec<(usize, &'a str)> {
        spec.iter()
            .flat_map(|&(m, l, k)| std::iter::repeat_n((m, l), k))
            .collect()
    }

    #[test]
    fn clip_stems_name_their_action() {
        assert_eq!(clip_action_label("humanoid3d_run").as_deref(), Some("run"));
        assert_eq!(
            clip_action_label("humanoid3d_getup_faceup").as_deref(),
            Some("getup_faceup")
        );
        assert_eq!(clip_action_label("turn_left0").as_deref(), Some("turn_left"));
        assert_eq!(clip_action_label("turn_right12").as_deref(), Some("turn_right"));
        assert_eq!(clip_action_label("0walk_forward").as_deref(), Some("walk_forward"));
        assert_eq!(clip_action_label("humanoid3d_dance_b").as_deref(), Some("dance_b"));
        assert_eq!(clip_action_label("42"), None);
        assert_eq!(clip_action_label(""), None);
    }

    #[test]
    fn identical_partitions_score_one_whatever_the_ids() {
        let s = score_motif_labels(pairs(&[(7, "run", 3), (2, "walk", 5), (40, "jump", 2)])).unwrap();
        assert!((s.nmi - 1.0).abs() < 1e-12, "{}", s.nmi);
        assert!((s.purity - 1.0).abs() < 1e-12);
        assert_eq!((s.frames, s.motifs_used, s.labels), (10, 3, 3));
        let run = &s.per_label[1];
        assert_eq!((run.label.as_str(), run.frames, run.dominant_motif), ("run", 3, 7));
        assert_eq!(run.dominant_share, 1.0);
    }

    #[test]
    fn one_cluster_each_is_identical() {
        let s = score_motif_labels(pairs(&[(3, "run", 4)])).unwrap();
        assert_eq!((s.nmi, s.purity), (1.0, 1.0));
    }

    #[test]
    fn independent_partitions_score_zero() {
        let s = score_motif_labels(pairs(&[(0, "a", 2), (0, "b", 2), (1, "a", 2), (1, "b", 2)])).unwrap();
        assert!(s.nmi.abs() < 1e-12, "{}", s.nmi);
        assert!((s.purity - 0.5).abs() < 1e-12);
        // One motif for every label: no information, and NMI says so.
        let s = score_motif_labels(pairs(&[(5, "a", 3), (5, "b", 1)])).unwrap();
        assert!(s.nmi.abs() < 1e-12);
        assert!((s.purity - 0.75).abs() < 1e-12);
    }

    #[test]
    fn splitting_a_label_keeps_purity_but_costs_nmi() {
        // Labels a a b b, motifs 0 1 2 2: H(label) = ln 2, H(motif) = 1.5 ln 2, I = ln 2.
        let s = score_motif_labels(pairs(&[(0, "a", 1), (1, "a", 1), (2, "b", 2)])).unwrap();
        assert!((s.nmi - 0.8).abs() < 1e-12, "{}", s.nmi);
        assert_eq!(s.purity, 1.0);
        assert_eq!(s.per_label[0].dominant_share, 0.5);
    }

    #[test]
    fn an_asymmetric_case_matches_the_hand_computation() {
        // Labels a a a b b b, motifs 0 0 1 1 1 1.
        // I = 1/3 ln 2 − 1/6 ln 2 + 1/2 ln 1.5; H(motif) = ln 3 − 2/3 ln 2; H(label) = ln 2.
        let s = score_motif_labels(pairs(&[(0, "a", 2), (1, "a", 1), (1, "b", 3)])).unwrap();
        let (ln2, ln3) = (2f64.ln(), 3f64.ln());
        let mi = ln2 / 6.0 + 0.5 * 1.5f64.ln();
        let expected = 2.0 * mi / (ln3 - 2.0 / 3.0 * ln2 + ln2);
        assert!((s.nmi - expected).abs() < 1e-12, "{} vs {expected}", s.nmi);
        // The same to the digits a hand computation gives: 0.478704.
        assert!((s.nmi - 0.478704).abs() < 5e-7, "{}", s.nmi);
        // NMI is symmetric: swapping which side is the motif changes nothing.
        let swapped = score_motif_labels(pairs(&[(0, "x", 2), (0, "y", 1), (1, "y", 3)])).unwrap();
        assert!((swapped.nmi - s.nmi).abs() < 1e-12);
        assert!((s.purity - 5.0 / 6.0).abs() < 1e-12);
        let a = &s.per_label[0];
        assert_eq!((a.dominant_motif, a.frames), (0, 3));
        assert!((a.dominant_share - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn nothing_to_score_is_an_error() {
        assert_eq!(
            score_motif_labels(std::iter::empty()).unwrap_err(),
            MotifLabelError::NoFrames
        );
    }
}
