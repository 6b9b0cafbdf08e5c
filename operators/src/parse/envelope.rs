//! The canonical envelope used by web forms, app chat and email bridges.

use super::builder::{Row, Url};
use super::fields::{opt_bool, opt_i64, opt_id, opt_str, req_id, req_str, FieldErr, Top};
use super::nodes;
use super::record::Format;
use crate::time::parse_rfc3339;

pub(crate) fn row<'i>(t: &Top<'_, 'i>) -> Result<Row<'i>, FieldErr> {
    let id = req_id(t.id, "id")?;
    let channel = req_str(t.channel, "channel")?;
    if channel.is_empty() {
        return Err(FieldErr::invalid("channel"));
    }
    let text = req_str(t.text, "text")?;
    let created_at = req_str(t.created_at, "created_at")?;
    let event_time = parse_rfc3339(created_at).ok_or(FieldErr::invalid("created_at"))?;

    let mut r = Row::new(Format::Envelope, channel, id, text, event_time);
    for (k, v) in t.author.and_then(nodes::object).into_iter().flatten() {
        match k {
            "handle" => r.author_handle = opt_str(Some(v)),
            "id" => r.author_id = opt_id(Some(v)),
            "name" => r.author_name = opt_str(Some(v)),
            "followers" => r.author_followers = opt_i64(Some(v)),
            "verified" => r.author_verified = opt_bool(Some(v)),
            _ => {}
        }
    }
    r.in_reply_to = opt_id(t.in_reply_to);
    r.lang = opt_str(t.lang);
    r.url = opt_str(t.url).map_or(Url::None, Url::Given);
    Ok(r)
}
