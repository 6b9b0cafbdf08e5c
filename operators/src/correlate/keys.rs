//! State keys: one per customer (or unidentified author), one set of work
//! items per key. The keyed stage partitions by the same key.

/// The state key of a CRM customer.
pub fn customer_key(customer_id: &str) -> String {
    format!("c:{customer_id}")
}

/// The state key of a mention: its CRM customer when known, else the
/// normalised handle on its channel, else the author id, else the mention
/// itself. One key, one set of work items.
pub fn correlation_key(
    customer_id: Option<&str>,
    channel: &str,
    handle: Option<&str>,
    author_id: Option<&str>,
    mention_id: &str,
) -> String {
    if let Some(c) = customer_id {
        return customer_key(c);
    }
    if let Some(h) = handle {
        let h = h.trim().trim_start_matches('@').to_lowercase();
        if !h.is_empty() {
            return format!("h:{channel}:{h}");
        }
    }
    if let Some(a) = author_id {
        return format!("a:{channel}:{a}");
    }
    format!("m:{channel}:{mention_id}")
}
