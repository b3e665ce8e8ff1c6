//! Skeleton definitions: joint names and the kinematic tree.

use serde::{Deserialize, Serialize};

use crate::pose::NUM_JOINTS;

/// The canonical SMPL-24 joint names, in index order.
pub const SMPL24: [&str; NUM_JOINTS] = [
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
];

/// Parent of each SMPL-24 joint (`None` for the pelvis).
pub const SMPL24_PARENTS: [Option<usize>; NUM_JOINTS] = [
    None,
    Some(0),
    Some(0),
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
    Some(7),
    Some(8),
    Some(9),
    Some(9),
    Some(9),
    Some(12),
    Some(13),
    Some(14),
    Some(16),
    Some(17),
    Some(18),
    Some(19),
    Some(20),
    Some(21),
];

/// Index of each joint's left/right counterpart (itself on the midline), for mirroring.
pub const SMPL24_MIRROR: [usize; NUM_JOINTS] = [
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22,
];

/// A named kinematic tree. Parents always precede their children.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skeleton {
    pub name: String,
    pub joint_names: Vec<String>,
    pub parents: Vec<Option<usize>>,
}

impl Skeleton {
    /// The canonical SMPL-24 skeleton.
    pub fn smpl24() -> Self {
        Self {
            name: "smpl24".into(),
            joint_names: SMPL24.iter().map(|s| s.to_string()).collect(),
            parents: SMPL24_PARENTS.to_vec(),
        }
    }

    pub fn len(&self) -> usize {
        self.joint_names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.joint_names.is_empty()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.joint_names.iter().position(|n| n == name)
    }

    /// Children of joint `j`, in index order.
    pub fn children(&self, j: usize) -> impl Iterator<Item = usize> + '_ {
        self.parents
            .iter()
            .enumerate()
            .filter_map(move |(c, p)| (*p == Some(j)).then_some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smpl24_tree_is_topologically_ordered_and_mirror_is_an_involution() {
        let s = Skeleton::smpl24();
        for (j, p) in s.parents.iter().enumerate() {
            if let Some(p) = p {
                assert!(*p < j, "parent of {} comes after it", s.joint_names[j]);
            }
        }
        for j in 0..NUM_JOINTS {
            let m = SMPL24_MIRROR[j];
            assert_eq!(SMPL24_MIRROR[m], j);
            let (a, b) = (SMPL24[j], SMPL24[m]);
            assert_eq!(a.replace("left", "right"), b.replace("left", "right"), "{a} vs {b}");
        }
        assert_eq!(s.children(9).collect::<Vec<_>>(), vec![12, 13, 14]);
    }
}
