//! Tolerance checks for tests that compare numbers: parity between two implementations and
//! errors against a reference.
//!
//! `f32::max` and `f64::max` return the operand that is not NaN, so "the largest |a - b| is
//! below the tolerance" passes when a difference is NaN, and `x < tol` is false for NaN but
//! `!(x > tol)` is true. Every check here fails on any non-finite value and names the worst
//! element, so a broken kernel cannot hide behind a NaN and a failure says where to look.
//!
//! Included with `#[path]` by each crate's tests (and `a4mer-runtime`'s unit tests) rather
//! than being a crate: it is a few functions with no dependencies, and a workspace member
//! would be one more node in the layering `scripts/check-layers.sh` checks.

#![allow(dead_code)]

use std::fmt;

/// The largest difference of one comparison and where it is.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Diff {
    /// Elements compared.
    pub n: usize,
    /// Index of the largest `|a - b|` (0 when `n` is 0).
    pub index: usize,
    pub a: f64,
    pub b: f64,
    /// `max |a - b|`.
    pub abs: f64,
    /// `max |b|`: the reference's magnitude.
    pub scale: f64,
    /// `abs / scale`, 0 when both are 0 (so two all-zero arrays agree).
    pub rel: f64,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worst at [{}] of {}: {} vs {} (|a - b| = {:e}, max |b| = {:e}, relative {:e})",
            self.index, self.n, self.a, self.b, self.abs, self.scale, self.rel
        )
    }
}

impl Diff {
    /// The comparison with the larger relative difference (for the worst over many).
    pub fn worse(self, other: Diff) -> Diff {
        if other.rel > self.rel { other } else { self }
    }
}

/// `a` against the reference `b`, element by element.
///
/// # Panics
/// On a length mismatch (a zip would stop at the shorter one and compare less than it
/// claims) or a non-finite value in either, naming `what` and the element.
pub fn diff<A, B>(what: &str, a: A, b: B) -> Diff
where
    A: IntoIterator,
    A::Item: Into<f64>,
    B: IntoIterator,
    B::Item: Into<f64>,
{
    let (a, b): (Vec<f64>, Vec<f64>) = (
        a.into_iter().map(Into::into).collect(),
        b.into_iter().map(Into::into).collect(),
    );
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: {} values against {} in the reference",
        a.len(),
        b.len()
    );
    let mut d = Diff {
        n: a.len(),
        ..Diff::default()
    };
    for (i, (&x, &y)) in a.iter().zip(&b).enumerate() {
        assert!(
            x.is_finite() && y.is_finite(),
            "{what}: non-finite value at [{i}] of {}: {x} vs {y}",
            a.len()
        );
        let e = (x - y).abs();
        if e > d.abs || i == 0 {
            (d.index, d.a, d.b, d.abs) = (i, x, y, e);
        }
        d.scale = d.scale.max(y.abs());
    }
    d.rel = if d.abs == 0.0 { 0.0 } else { d.abs / d.scale };
    d
}

/// Asserts `max |a - b| <= tol` and returns the comparison.
pub fn assert_abs<A, B>(what: &str, a: A, b: B, tol: f64) -> Diff
where
    A: IntoIterator,
    A::Item: Into<f64>,
    B: IntoIterator,
    B::Item: Into<f64>,
{
    let d = diff(what, a, b);
    assert!(d.abs <= tol, "{what}: differs by more than {tol:e}: {d}");
    d
}

/// Asserts `max |a - b| / max |b| <= tol` and returns the comparison.
pub fn assert_rel<A, B>(what: &str, a: A, b: B, tol: f64) -> Diff
where
    A: IntoIterator,
    A::Item: Into<f64>,
    B: IntoIterator,
    B::Item: Into<f64>,
{
    let d = diff(what, a, b);
    assert!(d.rel <= tol, "{what}: differs by more than {tol:e} relative: {d}");
    d
}

/// The largest of `values`, which must all be finite (a NaN error would otherwise vanish
/// from a `fold(0.0, f32::max)`); 0 for none.
///
/// # Panics
/// On a non-finite value, naming `what` and its index.
pub fn finite_max<I>(what: &str, values: I) -> f64
where
    I: IntoIterator,
    I::Item: Into<f64>,
{
    let mut worst = 0.0f64;
    for (i, v) in values.into_iter().enumerate() {
        let v: f64 = v.into();
        assert!(v.is_finite(), "{what}: non-finite value at [{i}]: {v}");
        worst = worst.max(v);
    }
    worst
}

/// The smallest and largest of `values`, which must all be finite and not empty.
///
/// # Panics
/// On a non-finite value or no values, naming `what`.
pub fn finite_range<I>(what: &str, values: I) -> (f64, f64)
where
    I: IntoIterator,
    I::Item: Into<f64>,
{
    let mut range: Option<(f64, f64)> = None;
    for (i, v) in values.into_iter().enumerate() {
        let v: f64 = v.into();
        assert!(v.is_finite(), "{what}: non-finite value at [{i}]: {v}");
        range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
    }
    range.unwrap_or_else(|| panic!("{what}: no values"))
}
