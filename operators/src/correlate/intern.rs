//! The process-wide interner behind [`Sym`]: categories, groups, queues,
//! channels, severities and CRM attributes come from small value sets, so
//! the correlator's state holds them as 8-byte interned strings.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most distinct strings the process-wide interner will ever leak.
const MAX_INTERNED: usize = 65_536;
/// Returned once [`MAX_INTERNED`] is reached (never expected: interned
/// values come from small sets: categories, groups, queues, channels,
/// segments, tiers, regions, statuses, snapshot names).
const OVERFLOW: &str = "(too-many-distinct-values)";

/// Interns `s`: one leaked `&'static str` (and one leaked thin handle to
/// it) per distinct value, for the life of the process.
///
/// Each thread keeps its own copy of what it has looked up, so the hot path
/// (about ten lookups per mention) takes no lock.
fn intern(s: &str) -> &'static &'static str {
    type Table = HashMap<&'static str, &'static &'static str, foldhash::fast::RandomState>;
    thread_local! {
        static LOCAL: std::cell::RefCell<Table> = std::cell::RefCell::new(Table::default());
    }
    if let Some(x) = LOCAL.with(|l| l.borrow().get(s).copied()) {
        return x;
    }
    static SET: OnceLock<Mutex<Table>> = OnceLock::new();
    static OVERFLOW_SYM: &str = OVERFLOW;
    let set = SET.get_or_init(|| Mutex::new(Table::default()));
    let mut g = set.lock().unwrap_or_else(|p| p.into_inner());
    let handle = match g.get(s) {
        Some(&x) => x,
        None if g.len() >= MAX_INTERNED => return &OVERFLOW_SYM,
        None => {
            let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
            let handle: &'static &'static str = Box::leak(Box::new(leaked));
            g.insert(leaked, handle);
            handle
        }
    };
    drop(g);
    LOCAL.with(|l| l.borrow_mut().insert(*handle, handle));
    handle
}

/// An interned string from a small value set: a thin pointer (8 bytes in
/// state, `Option<Sym>` too); serialised as the plain string and
/// re-interned on import.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(&'static &'static str);

impl Sym {
    /// Interns `s`.
    pub(crate) fn new(s: &str) -> Self {
        Sym(intern(s))
    }
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Debug for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Sym {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Sym {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Sym::new(&s))
    }
}
