//! Minimal, allocation-free walking of a simd-json tape.
//!
//! A value is a slice of tape nodes whose first node is the value's header;
//! objects and arrays carry the number of nested nodes, so skipping a value
//! is O(1).

use simd_json::{Node, StaticNode};

/// One JSON value on the tape: `v[0]` is its header node.
pub(crate) type Val<'t, 'i> = &'t [Node<'i>];

/// Number of tape nodes taken by the value starting with `n`.
#[inline(always)]
fn width(n: &Node<'_>) -> usize {
    match n {
        Node::Object { count, .. } | Node::Array { count, .. } => *count + 1,
        _ => 1,
    }
}

/// Iterator over `(key, value)` pairs of an object, in document order.
pub(crate) struct ObjIter<'t, 'i> {
    rest: &'t [Node<'i>],
    left: usize,
}

impl<'t, 'i> Iterator for ObjIter<'t, 'i> {
    type Item = (&'i str, Val<'t, 'i>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (k, rest) = self.rest.split_first()?;
        let Node::String(key) = *k else {
            self.left = 0;
            return None;
        };
        let w = width(rest.first()?);
        if w > rest.len() {
            self.left = 0;
            return None;
        }
        let (v, tail) = rest.split_at(w);
        self.rest = tail;
        Some((key, v))
    }
}

/// Iterator over the elements of an array.
pub(crate) struct ArrIter<'t, 'i> {
    rest: &'t [Node<'i>],
    left: usize,
}

impl<'t, 'i> Iterator for ArrIter<'t, 'i> {
    type Item = Val<'t, 'i>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let w = width(self.rest.first()?);
        if w > self.rest.len() {
            self.left = 0;
            return None;
        }
        let (v, tail) = self.rest.split_at(w);
        self.rest = tail;
        Some(v)
    }
}

/// The pairs of `v` if it is an object.
#[inline(always)]
pub(crate) fn object<'t, 'i>(v: Val<'t, 'i>) -> Option<ObjIter<'t, 'i>> {
    match v.first()? {
        Node::Object { len, .. } => Some(ObjIter {
            rest: &v[1..],
            left: *len,
        }),
        _ => None,
    }
}

/// The elements of `v` if it is an array.
#[inline(always)]
pub(crate) fn array<'t, 'i>(v: Val<'t, 'i>) -> Option<ArrIter<'t, 'i>> {
    match v.first()? {
        Node::Array { len, .. } => Some(ArrIter {
            rest: &v[1..],
            left: *len,
        }),
        _ => None,
    }
}

#[inline(always)]
pub(crate) fn is_object(v: Val<'_, '_>) -> bool {
    matches!(v.first(), Some(Node::Object { .. }))
}

#[inline(always)]
pub(crate) fn is_array(v: Val<'_, '_>) -> bool {
    matches!(v.first(), Some(Node::Array { .. }))
}

#[inline(always)]
pub(crate) fn is_null(v: Val<'_, '_>) -> bool {
    matches!(v.first(), Some(Node::Static(StaticNode::Null)) | None)
}

#[inline(always)]
pub(crate) fn as_str<'i>(v: Val<'_, 'i>) -> Option<&'i str> {
    match v.first()? {
        Node::String(s) => Some(*s),
        _ => None,
    }
}

/// An integer value (floats with no fraction are not accepted).
#[inline(always)]
pub(crate) fn as_i64(v: Val<'_, '_>) -> Option<i64> {
    match v.first()? {
        Node::Static(StaticNode::I64(n)) => Some(*n),
        Node::Static(StaticNode::U64(n)) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// A non-negative integer, for numeric ids.
#[inline(always)]
pub(crate) fn as_u64(v: Val<'_, '_>) -> Option<u64> {
    match v.first()? {
        Node::Static(StaticNode::I64(n)) => u64::try_from(*n).ok(),
        Node::Static(StaticNode::U64(n)) => Some(*n),
        _ => None,
    }
}

#[inline(always)]
pub(crate) fn as_bool(v: Val<'_, '_>) -> Option<bool> {
    match v.first()? {
        Node::Static(StaticNode::Bool(b)) => Some(*b),
        _ => None,
    }
}
