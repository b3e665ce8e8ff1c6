//! Decoding a live sample as exactly one message of our layout.
//!
//! CDR carries no field names, and ros2-client announces no type hash, so a peer built from
//! another revision of a message matches our topic by its type name alone and its bytes are
//! read field by field as ours. A layout shorter than ours (an older `Skeleton3D` without
//! `confidences`) runs out of bytes and fails; one longer than ours may decode, the DDS
//! reader dropping whatever is left, as a message of plausible, wrong numbers. [`Exact`]
//! decodes the message and then looks for more: four or more bytes after it (past the
//! alignment a writer may pad with) mean the bytes were not this layout. Either way the
//! sample is refused with a reason that names the type and says so, never read.
//! [`super::decode`] applies the same rule to recorded payloads.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::RosMessage;

/// A seed for `Subscription::take_seed`: one `M` that spans the whole sample.
pub struct Exact<M>(PhantomData<fn() -> M>);

impl<M> Exact<M> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Default for Exact<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> Clone for Exact<M> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<'de, M: RosMessage> DeserializeSeed<'de> for Exact<M> {
    type Value = M;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<M, D::Error> {
        // A CDR tuple is its elements back to back: the message, then a probe word that
        // exists only if the sample is longer than the message.
        deserializer.deserialize_tuple(2, ExactVisitor::<M>(PhantomData))
    }
}

struct ExactVisitor<M>(PhantomData<fn() -> M>);

impl<'de, M: RosMessage> Visitor<'de> for ExactVisitor<M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "one {} in this node's layout", M::ros_type_name())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<M, A::Error> {
        let layout = || {
            format!(
                "not the {} layout this node was built with (a peer built from another \
                 a4mer_msgs revision, or another type under this name)",
                M::ros_type_name()
            )
        };
        let msg = match seq.next_element::<M>() {
            Ok(Some(m)) => m,
            Ok(None) => return Err(de::Error::custom(format!("{}: empty sample", M::ros_type_name()))),
            Err(e) => {
                return Err(de::Error::custom(format!(
                    "the sample ends early or breaks ({e}): {}",
                    layout()
                )));
            }
        };
        // The probe failing is the good case: nothing but padding after the message.
        match seq.next_element::<u32>() {
            Ok(Some(_)) => Err(de::Error::custom(format!(
                "4 or more bytes left over after the message: {}",
                layout()
            ))),
            _ => Ok(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use byteorder::LittleEndian;
    use serde::Serialize;

    use super::*;
    use crate::msg::{Header, Point, Skeleton3D, Skeleton3DArray, Time};

    /// A `Skeleton3D` as it would be without `confidences`, the field its readers may
    /// ignore. `a4mer_msgs` has had no such revision (`git log -- ros/msgs/msg`: the
    /// skeleton types are unchanged since they were added); this is the older layout a
    /// producer pinned to a draft of the package, or one that dropped the field as
    /// optional, would send under the same type name.
    #[derive(Serialize)]
    struct OlderSkeleton3D {
        id: u32,
        layout: String,
        joint_names: Vec<String>,
        joints: Vec<Point>,
    }

    #[derive(Serialize)]
    struct OlderSkeleton3DArray {
        header: Header,
        bodies: Vec<OlderSkeleton3D>,
    }

    fn exact(bytes: &[u8]) -> Result<Skeleton3DArray, cdr_encoding::Error> {
        let mut de = cdr_encoding::CdrDeserializer::<LittleEndian>::new(bytes);
        Exact::<Skeleton3DArray>::new().deserialize(&mut de)
    }

    fn lenient(bytes: &[u8]) -> Option<Skeleton3DArray> {
        cdr_encoding::from_bytes::<Skeleton3DArray, LittleEndian>(bytes)
            .ok()
            .map(|(m, _)| m)
    }

    fn point(k: usize) -> Point {
        Point {
            x: 0.1 * k as f64,
            y: -0.3 + 0.01 * k as f64,
            z: 1.0 + 0.02 * k as f64,
        }
    }

    #[test]
    fn the_current_layout_decodes_with_or_without_padding() {
        let msg = Skeleton3DArray {
            header: Header {
                stamp: Time { sec: 5, nanosec: 7 },
                frame_id: "world".into(),
            },
            bodies: vec![Skeleton3D {
                id: 3,
                layout: "smpl24".into(),
                joint_names: vec![],
                joints: (0..24).map(point).collect(),
                confidences: vec![1.0; 24],
            }],
        };
        let mut bytes = cdr_encoding::to_vec::<_, LittleEndian>(&msg).unwrap();
        assert_eq!(exact(&bytes).unwrap(), msg);
        bytes.extend([0; 3]);
        assert_eq!(exact(&bytes).unwrap(), msg, "a writer's padding to 4 bytes");
        bytes.push(0);
        let e = exact(&bytes).unwrap_err().to_string();
        assert!(
            e.contains("left over") && e.contains("a4mer_msgs/msg/Skeleton3DArray"),
            "{e}"
        );
    }

    fn header() -> Header {
        Header {
            stamp: Time {
                sec: 1_700_000_000,
                nanosec: 33_333_333,
            },
            frame_id: "zed_left_camera_frame".into(),
        }
    }

    /// Body counts, ids, joint counts, named or not: every combination once.
    fn grid(mut each: impl FnMut(usize, u32, usize, bool)) {
        for bodies in 1..=4usize {
            for first_id in [0u32, 1, 3, 8, 24, 100] {
                for joints in [0usize, 1, 18, 24, 34] {
                    for named in [false, true] {
                        each(bodies, first_id, joints, named);
                    }
                }
            }
        }
    }

    fn names(joints: usize, named: bool) -> Vec<String> {
        if named {
            (0..joints).map(|j| format!("joint_{j}")).collect()
        } else {
            vec![]
        }
    }

    /// Each grid case's sample (from `encode`) refused by [`Exact`] naming the type and the
    /// layout; how many were refused, and how many the reader's usual decode would have read.
    fn refused_on_the_grid(mut encode: impl FnMut(usize, u32, usize, bool) -> Vec<u8>) -> (usize, usize) {
        let (mut refused, mut read_without_check) = (0, 0);
        grid(|bodies, first_id, joints, named| {
            let bytes = encode(bodies, first_id, joints, named);
            let case = format!("{bodies} bodies from id {first_id}, {joints} joints, named {named}");
            let e = exact(&bytes).map(|_| ()).expect_err(&case).to_string();
            assert!(
                e.contains("a4mer_msgs/msg/Skeleton3DArray") && e.contains("layout"),
                "{case}: {e}"
            );
            refused += 1;
            read_without_check += usize::from(lenient(&bytes).is_some());
        });
        (refused, read_without_check)
    }

    /// Every older-layout sample (no `confidences`) is refused naming the type. The reader's
    /// usual decode fails on them too (the last body ends before its `confidences` length),
    /// so what the check adds for this layout is a reason that names it.
    #[test]
    fn every_older_layout_sample_is_refused_naming_the_type() {
        let (refused, read_without_check) = refused_on_the_grid(|bodies, first_id, joints, named| {
            let msg = OlderSkeleton3DArray {
                header: header(),
                bodies: (0..bodies)
                    .map(|b| OlderSkeleton3D {
                        id: first_id + b as u32,
                        layout: "smpl24".into(),
                        joint_names: names(joints, named),
                        joints: (0..joints).map(point).collect(),
                    })
                    .collect(),
            };
            cdr_encoding::to_vec::<_, LittleEndian>(&msg).unwrap()
        });
        eprintln!("older layout: {refused} samples refused; {read_without_check} read without the check");
        assert_eq!(refused, 4 * 6 * 5 * 2);
    }

    /// A `Skeleton3D` with one more field after ours (a per-body `float32 confidence`,
    /// as a revision adding a field, or one with a field since removed, would send).
    #[derive(Serialize)]
    struct LongerSkeleton3D {
        id: u32,
        layout: String,
        joint_names: Vec<String>,
        joints: Vec<Point>,
        confidences: Vec<f32>,
        confidence: f32,
    }

    #[derive(Serialize)]
    struct LongerSkeleton3DArray {
        header: Header,
        bodies: Vec<LongerSkeleton3D>,
    }

    /// Samples longer than our layout: the reader's usual decode reads some of them as
    /// plausible messages (the extra word taken for the next body's id, or dropped), which
    /// is why the check exists; every one is refused with it.
    #[test]
    fn a_layout_longer_than_ours_is_refused_where_the_plain_decode_reads_it() {
        let (refused, read_without_check) = refused_on_the_grid(|bodies, first_id, joints, named| {
            let msg = LongerSkeleton3DArray {
                header: header(),
                bodies: (0..bodies)
                    .map(|b| LongerSkeleton3D {
                        id: first_id + b as u32,
                        layout: "smpl24".into(),
                        joint_names: names(joints, named),
                        joints: (0..joints).map(point).collect(),
                        confidences: vec![],
                        confidence: 0.0,
                    })
                    .collect(),
            };
            cdr_encoding::to_vec::<_, LittleEndian>(&msg).unwrap()
        });
        eprintln!("longer layout: {refused} samples refused; {read_without_check} read without the check");
        assert_eq!(refused, 4 * 6 * 5 * 2);
        assert!(
            read_without_check > 0,
            "no sample the plain decode reads: the grid tests nothing"
        );
    }
}
