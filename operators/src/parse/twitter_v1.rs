//! Twitter API v1.1 status objects.

use super::builder::{Id, Row, Url};
use super::fields::{opt_bool, opt_i64, opt_id, opt_str, req_id, req_str, FieldErr, Top};
use super::nodes::{self, Val};
use super::record::Format;
use crate::time::parse_twitter_date;

/// The `user` fields we keep, collected in one pass.
#[derive(Default)]
struct User<'i> {
    id: Option<Id<'i>>,
    screen_name: Option<&'i str>,
    name: Option<&'i str>,
    followers: Option<i64>,
    verified: Option<bool>,
    statuses: Option<i64>,
    created_at: Option<i64>,
}

#[inline]
fn user<'i>(v: Val<'_, 'i>) -> User<'i> {
    let mut u = User::default();
    let Some(fields) = nodes::object(v) else {
        return u;
    };
    let mut id_num = None;
    for (k, v) in fields {
        match k {
            "id_str" => u.id = opt_str(Some(v)).map(Id::Str),
            "id" => id_num = opt_id(Some(v)),
            "screen_name" => u.screen_name = opt_str(Some(v)),
            "name" => u.name = opt_str(Some(v)),
            "followers_count" => u.followers = opt_i64(Some(v)),
            "verified" => u.verified = opt_bool(Some(v)),
            "statuses_count" => u.statuses = opt_i64(Some(v)),
            "created_at" => u.created_at = opt_str(Some(v)).and_then(parse_twitter_date),
            _ => {}
        }
    }
    if u.id.is_none() {
        u.id = id_num;
    }
    u
}

/// `extended_tweet.full_text`, if present and a string.
#[inline]
fn extended_full_text<'i>(v: Val<'_, 'i>) -> Option<&'i str> {
    nodes::object(v)?
        .find(|(k, _)| *k == "full_text")
        .and_then(|(_, v)| nodes::as_str(v))
}

/// `place.full_name`, if present.
#[inline]
fn place_name<'i>(v: Val<'_, 'i>) -> Option<&'i str> {
    nodes::object(v)?
        .find(|(k, _)| *k == "full_name")
        .and_then(|(_, v)| nodes::as_str(v))
}

/// Builds the row of one status from its collected top-level keys.
pub(crate) fn row<'i>(t: &Top<'_, 'i>) -> Result<Row<'i>, FieldErr> {
    // `id_str`, else the numeric `id` of very old payloads.
    let id = match t.id_str.and_then(nodes::as_str) {
        Some(s) => Id::Str(s),
        None if t.id_str.is_some_and(|v| !nodes::is_null(v)) => {
            return Err(FieldErr::wrong_type("id_str"))
        }
        None => req_id(t.id, "id_str")?,
    };
    let text = match t.extended_tweet.and_then(extended_full_text) {
        Some(s) => s,
        None => match opt_str(t.full_text) {
            Some(s) => s,
            None => req_str(t.text, "text")?,
        },
    };
    let created_at = req_str(t.created_at, "created_at")?;
    let event_time = parse_twitter_date(created_at).ok_or(FieldErr::invalid("created_at"))?;

    let mut r = Row::new(Format::TwitterV1, "twitter", id, text, event_time);
    if let Some(u) = t.user {
        let u = user(u);
        r.author_handle = u.screen_name;
        r.author_id = u.id;
        r.author_name = u.name;
        r.author_followers = u.followers;
        r.author_verified = u.verified;
        r.author_statuses = u.statuses;
        r.author_created_at = u.created_at;
    }
    r.url = match r.author_handle {
        Some(handle) => Url::Twitter { handle, id },
        None => Url::TwitterWeb(id),
    };
    r.lang = opt_str(t.lang);
    r.in_reply_to = opt_str(t.in_reply_to_status_id_str).map(Id::Str);
    r.is_retweet = t.retweeted_status.is_some_and(nodes::is_object);
    r.retweet_count = opt_i64(t.retweet_count);
    r.place = t.place.and_then(place_name);
    Ok(r)
}
