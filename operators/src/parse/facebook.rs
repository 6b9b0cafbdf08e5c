//! Facebook Graph page webhooks: `entry[].changes[].value`, one mention per
//! change that carries a message.

use super::builder::{Id, Row};
use super::fields::{opt_id, opt_str, FieldErr, Out};
use super::nodes::{self, Val};
use super::record::Format;
use crate::time::parse_rfc3339;

/// One change's `value`, collected in one pass.
#[derive(Default)]
struct Change<'t, 'i> {
    item: Option<&'i str>,
    verb: Option<&'i str>,
    from_id: Option<Id<'i>>,
    from_name: Option<&'i str>,
    message: Option<Val<'t, 'i>>,
    created_time: Option<Val<'t, 'i>>,
    post_id: Option<Id<'i>>,
    comment_id: Option<Id<'i>>,
    parent_id: Option<Id<'i>>,
}

/// Emits one row per actionable change of every entry.
pub(crate) fn rows<'t, 'i>(entry: Option<Val<'t, 'i>>, out: &mut Out<'_, '_>) {
    let Some(entry) = entry else {
        out.bad(FieldErr::missing("entry"));
        return;
    };
    let Some(entries) = nodes::array(entry) else {
        out.bad(FieldErr::wrong_type("entry"));
        return;
    };
    for e in entries {
        let mut changes = None;
        for (k, v) in nodes::object(e).into_iter().flatten() {
            if k == "changes" {
                changes = nodes::array(v);
            }
        }
        // Entries without feed changes (e.g. Messenger `messaging`) carry no
        // page mention.
        let Some(changes) = changes else {
            out.skip();
            continue;
        };
        for change in changes {
            change_row(change, out);
        }
    }
}

fn change_row<'t, 'i>(change: Val<'t, 'i>, out: &mut Out<'_, '_>) {
    let (mut field, mut value) = (None, None);
    for (k, v) in nodes::object(change).into_iter().flatten() {
        match k {
            "field" => field = nodes::as_str(v),
            "value" => value = Some(v),
            _ => {}
        }
    }
    if field != Some("feed") {
        out.skip();
        return;
    }
    let Some(fields) = value.and_then(nodes::object) else {
        out.skip();
        return;
    };
    let mut c = Change::default();
    for (k, v) in fields {
        match k {
            "item" => c.item = nodes::as_str(v),
            "verb" => c.verb = nodes::as_str(v),
            "from" => {
                for (k, v) in nodes::object(v).into_iter().flatten() {
                    match k {
                        "id" => c.from_id = opt_id(Some(v)),
                        "name" => c.from_name = nodes::as_str(v),
                        _ => {}
                    }
                }
            }
            "message" => c.message = Some(v),
            "created_time" => c.created_time = Some(v),
            "post_id" => c.post_id = opt_id(Some(v)),
            "comment_id" => c.comment_id = opt_id(Some(v)),
            "parent_id" => c.parent_id = opt_id(Some(v)),
            _ => {}
        }
    }
    if c.verb == Some("remove") || matches!(c.item, Some("reaction" | "like")) {
        out.skip();
        return;
    }
    let message = match c.message {
        None => None,
        Some(v) if nodes::is_null(v) => None,
        Some(v) => match nodes::as_str(v) {
            Some(s) => Some(s),
            None => {
                out.bad(FieldErr::wrong_type("message"));
                return;
            }
        },
    };
    let Some(message) = message.filter(|m| !m.is_empty()) else {
        out.skip();
        return;
    };
    out.entry(row(&c, message));
}

fn row<'i>(c: &Change<'_, 'i>, message: &'i str) -> Result<Row<'i>, FieldErr> {
    let id = c
        .comment_id
        .or(c.post_id)
        .ok_or(FieldErr::missing("post_id"))?;
    let event_time = created_time(c.created_time)?;
    let mut r = Row::new(Format::Facebook, "facebook", id, message, event_time);
    r.author_id = c.from_id;
    r.author_name = c.from_name;
    r.in_reply_to = match c.parent_id {
        Some(p) => Some(p),
        None if c.comment_id.is_some() || c.item == Some("comment") => c.post_id,
        None => None,
    };
    Ok(r)
}

/// `created_time`: unix seconds as a number or digit string, or an RFC 3339
/// string (Facebook writes `2026-11-22T10:00:00+0000`).
fn created_time(v: Option<Val<'_, '_>>) -> Result<i64, FieldErr> {
    const F: &str = "created_time";
    let Some(v) = v.filter(|v| !nodes::is_null(v)) else {
        return Err(FieldErr::missing(F));
    };
    if let Some(secs) = nodes::as_i64(v) {
        return secs.checked_mul(1_000).ok_or(FieldErr::invalid(F));
    }
    let s = opt_str(Some(v)).ok_or(FieldErr::wrong_type(F))?;
    if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .map(|secs| secs * 1_000)
            .map_err(|_| FieldErr::invalid(F));
    }
    parse_rfc3339(s).ok_or(FieldErr::invalid(F))
}
