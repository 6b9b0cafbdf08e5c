//! Twitter/X API v2 responses: `data` (one tweet or an array) joined with
//! `includes.users` by `author_id`.

use super::builder::{Id, Row, Url};
use super::fields::{opt_bool, opt_i64, opt_str, req_id, req_str, FieldErr, Out};
use super::nodes::{self, Val};
use super::record::Format;
use crate::time::parse_rfc3339;

/// One tweet's fields, collected in one pass.
#[derive(Default)]
struct Tweet<'t, 'i> {
    id: Option<Val<'t, 'i>>,
    text: Option<Val<'t, 'i>>,
    note_text: Option<&'i str>,
    author_id: Option<&'i str>,
    created_at: Option<Val<'t, 'i>>,
    lang: Option<&'i str>,
    retweet_count: Option<i64>,
    in_reply_to: Option<&'i str>,
    is_retweet: bool,
}

/// A `includes.users[]` entry.
#[derive(Default)]
struct User<'i> {
    username: Option<&'i str>,
    name: Option<&'i str>,
    verified: Option<bool>,
    followers: Option<i64>,
    tweets: Option<i64>,
    created_at: Option<i64>,
}

/// Emits one row per tweet in `data` (an object or an array of objects).
pub(crate) fn rows<'t, 'i>(
    data: Val<'t, 'i>,
    includes: Option<Val<'t, 'i>>,
    out: &mut Out<'_, '_>,
) {
    let users = includes.and_then(users_array);
    if nodes::is_object(data) {
        out.entry(row(data, users));
    } else if let Some(items) = nodes::array(data) {
        for item in items {
            out.entry(row(item, users));
        }
    } else {
        out.bad(FieldErr::wrong_type("data"));
    }
}

fn users_array<'t, 'i>(includes: Val<'t, 'i>) -> Option<Val<'t, 'i>> {
    let (_, v) = nodes::object(includes)?.find(|(k, _)| *k == "users")?;
    nodes::is_array(v).then_some(v)
}

fn row<'t, 'i>(item: Val<'t, 'i>, users: Option<Val<'t, 'i>>) -> Result<Row<'i>, FieldErr> {
    let Some(fields) = nodes::object(item) else {
        return Err(FieldErr::wrong_type("data[]"));
    };
    let mut t = Tweet::default();
    for (k, v) in fields {
        match k {
            "id" => t.id = Some(v),
            "text" => t.text = Some(v),
            "note_tweet" => {
                t.note_text = nodes::object(v)
                    .and_then(|mut o| o.find(|(k, _)| *k == "text"))
                    .and_then(|(_, v)| nodes::as_str(v))
            }
            "author_id" => t.author_id = nodes::as_str(v),
            "created_at" => t.created_at = Some(v),
            "lang" => t.lang = nodes::as_str(v),
            "public_metrics" => {
                t.retweet_count = nodes::object(v)
                    .and_then(|mut o| o.find(|(k, _)| *k == "retweet_count"))
                    .and_then(|(_, v)| nodes::as_i64(v));
            }
            "referenced_tweets" => {
                if let Some(refs) = nodes::array(v) {
                    for r in refs {
                        let (mut kind, mut id) = (None, None);
                        for (k, v) in nodes::object(r).into_iter().flatten() {
                            match k {
                                "type" => kind = nodes::as_str(v),
                                "id" => id = nodes::as_str(v),
                                _ => {}
                            }
                        }
                        match kind {
                            Some("replied_to") => t.in_reply_to = id,
                            Some("retweeted") => t.is_retweet = true,
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let id = req_id(t.id, "id")?;
    let text = match t.note_text {
        Some(s) => s,
        None => req_str(t.text, "text")?,
    };
    let created_at = req_str(t.created_at, "created_at")?;
    let event_time = parse_rfc3339(created_at).ok_or(FieldErr::invalid("created_at"))?;

    let mut r = Row::new(Format::TwitterV2, "twitter", id, text, event_time);
    r.author_id = t.author_id.map(Id::Str);
    r.lang = t.lang;
    r.retweet_count = t.retweet_count;
    r.in_reply_to = t.in_reply_to.map(Id::Str);
    r.is_retweet = t.is_retweet;
    r.url = Url::TwitterWeb(id);
    if let (Some(author), Some(users)) = (t.author_id, users) {
        if let Some(u) = find_user(users, author) {
            r.author_handle = u.username;
            r.author_name = u.name;
            r.author_verified = u.verified;
            r.author_followers = u.followers;
            r.author_statuses = u.tweets;
            r.author_created_at = u.created_at;
            if let Some(handle) = u.username {
                r.url = Url::Twitter { handle, id };
            }
        }
    }
    Ok(r)
}

/// The user with `id == author` in the `includes.users` array.
fn find_user<'i>(users: Val<'_, 'i>, author: &str) -> Option<User<'i>> {
    for item in nodes::array(users)? {
        let Some(fields) = nodes::object(item) else {
            continue;
        };
        let mut u = User::default();
        let mut matched = false;
        for (k, v) in fields {
            match k {
                "id" => matched = nodes::as_str(v) == Some(author),
                "username" => u.username = nodes::as_str(v),
                "name" => u.name = nodes::as_str(v),
                "verified" => u.verified = opt_bool(Some(v)),
                "created_at" => u.created_at = opt_str(Some(v)).and_then(parse_rfc3339),
                "public_metrics" => {
                    for (k, v) in nodes::object(v).into_iter().flatten() {
                        match k {
                            "followers_count" => u.followers = opt_i64(Some(v)),
                            "tweet_count" => u.tweets = opt_i64(Some(v)),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if matched {
            return Some(u);
        }
    }
    None
}
