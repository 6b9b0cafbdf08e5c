//! What the format readers share: field access on the simd-json tape with
//! the field errors that make a record a rejection, the top-level keys of a
//! record, and where a record's rows go.

use super::builder::{self, Columns, Row};
use super::nodes::{self, Val};
use super::record::{Format, SourceMeta};

/// Longest `error.detail` written.
pub(super) const MAX_DETAIL: usize = 200;

/// Cuts `s` to at most [`MAX_DETAIL`] bytes on a char boundary.
pub(super) fn clip(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// What is wrong with a required field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Missing,
    WrongType,
    Invalid,
    /// A valid time outside the accepted event-time bounds.
    OutOfRange,
}

/// A required field that is missing, mistyped or unparseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldErr {
    pub field: &'static str,
    pub problem: Problem,
}

impl FieldErr {
    #[inline]
    pub(crate) const fn missing(field: &'static str) -> Self {
        FieldErr {
            field,
            problem: Problem::Missing,
        }
    }
    #[inline]
    pub(crate) const fn wrong_type(field: &'static str) -> Self {
        FieldErr {
            field,
            problem: Problem::WrongType,
        }
    }
    #[inline]
    pub(crate) const fn invalid(field: &'static str) -> Self {
        FieldErr {
            field,
            problem: Problem::Invalid,
        }
    }

    #[cold]
    pub(super) fn detail(self, format: Format) -> String {
        let f = format.as_str();
        let field = self.field;
        clip(match self.problem {
            Problem::Missing => format!("{f}: missing `{field}`"),
            Problem::WrongType => format!("{f}: `{field}` has the wrong type"),
            Problem::Invalid => format!("{f}: invalid `{field}`"),
            Problem::OutOfRange => format!("{f}: `{field}` is outside the accepted event times"),
        })
    }
}

/// A required string: absent or null is `Missing`, another type `WrongType`.
#[inline]
pub(crate) fn req_str<'i>(
    v: Option<Val<'_, 'i>>,
    field: &'static str,
) -> Result<&'i str, FieldErr> {
    match v {
        Some(v) if !nodes::is_null(v) => nodes::as_str(v).ok_or(FieldErr::wrong_type(field)),
        _ => Err(FieldErr::missing(field)),
    }
}

/// An optional string: anything but a string is treated as absent.
#[inline]
pub(crate) fn opt_str<'i>(v: Option<Val<'_, 'i>>) -> Option<&'i str> {
    v.and_then(nodes::as_str)
}

#[inline]
pub(crate) fn opt_i64(v: Option<Val<'_, '_>>) -> Option<i64> {
    v.and_then(nodes::as_i64)
}

#[inline]
pub(crate) fn opt_bool(v: Option<Val<'_, '_>>) -> Option<bool> {
    v.and_then(nodes::as_bool)
}

/// An id given as a string or a non-negative integer.
#[inline]
pub(crate) fn opt_id<'i>(v: Option<Val<'_, 'i>>) -> Option<builder::Id<'i>> {
    let v = v?;
    match nodes::as_str(v) {
        Some(s) => Some(builder::Id::Str(s)),
        None => nodes::as_u64(v).map(builder::Id::Num),
    }
}

/// A required id (string or non-negative integer).
#[inline]
pub(crate) fn req_id<'i>(
    v: Option<Val<'_, 'i>>,
    field: &'static str,
) -> Result<builder::Id<'i>, FieldErr> {
    match v {
        Some(x) if !nodes::is_null(x) => opt_id(v).ok_or(FieldErr::wrong_type(field)),
        _ => Err(FieldErr::missing(field)),
    }
}

/// Where a record's rows go, with per-entry bookkeeping.
pub(crate) struct Out<'c, 'm> {
    pub(super) cols: &'c mut Columns,
    pub(super) meta: &'m SourceMeta<'m>,
    pub(super) ingest_time_ms: i64,
    /// Accepted event times, inclusive (`ParseConfig`'s bounds).
    pub(super) event_time_bounds: (i64, i64),
    /// Rows appended for this record.
    pub rows: u32,
    /// Entries that carry no mention (reactions, removals, empty messages).
    pub skipped: u64,
    /// Entries that looked like mentions but lacked a required field.
    pub bad: u64,
    /// The first such problem, for the rejection detail.
    pub first_err: Option<FieldErr>,
}

impl Out<'_, '_> {
    #[inline]
    pub(crate) fn row(&mut self, r: &Row<'_>) {
        let (min, max) = self.event_time_bounds;
        if r.event_time < min || r.event_time > max {
            let field = match r.format {
                Format::Facebook => "created_time",
                _ => "created_at",
            };
            return self.bad(FieldErr {
                field,
                problem: Problem::OutOfRange,
            });
        }
        self.cols.append(r, self.meta, self.ingest_time_ms);
        self.rows = self.rows.saturating_add(1);
    }

    /// Appends `r`, or records why there is no row.
    #[inline]
    pub(crate) fn entry(&mut self, r: Result<Row<'_>, FieldErr>) {
        match r {
            Ok(r) => self.row(&r),
            Err(e) => self.bad(e),
        }
    }

    #[inline]
    pub(crate) fn bad(&mut self, e: FieldErr) {
        self.bad += 1;
        if self.first_err.is_none() {
            self.first_err = Some(e);
        }
    }

    #[inline]
    pub(crate) fn skip(&mut self) {
        self.skipped += 1;
    }
}

/// The top-level keys any format cares about, collected in one pass.
#[derive(Default, Clone, Copy)]
pub(crate) struct Top<'t, 'i> {
    pub id_str: Option<Val<'t, 'i>>,
    pub id: Option<Val<'t, 'i>>,
    pub created_at: Option<Val<'t, 'i>>,
    pub text: Option<Val<'t, 'i>>,
    pub full_text: Option<Val<'t, 'i>>,
    pub extended_tweet: Option<Val<'t, 'i>>,
    pub user: Option<Val<'t, 'i>>,
    pub retweeted_status: Option<Val<'t, 'i>>,
    pub in_reply_to_status_id_str: Option<Val<'t, 'i>>,
    pub lang: Option<Val<'t, 'i>>,
    pub place: Option<Val<'t, 'i>>,
    pub retweet_count: Option<Val<'t, 'i>>,
    pub statuses: Option<Val<'t, 'i>>,
    pub data: Option<Val<'t, 'i>>,
    pub includes: Option<Val<'t, 'i>>,
    pub object: Option<Val<'t, 'i>>,
    pub entry: Option<Val<'t, 'i>>,
    pub channel: Option<Val<'t, 'i>>,
    pub author: Option<Val<'t, 'i>>,
    pub in_reply_to: Option<Val<'t, 'i>>,
    pub url: Option<Val<'t, 'i>>,
}

impl<'t, 'i> Top<'t, 'i> {
    /// Collects the keys of object `v` (None if `v` is not an object).
    /// A repeated key keeps its last value.
    #[inline]
    pub(crate) fn collect(v: Val<'t, 'i>) -> Option<Self> {
        let mut t = Top::default();
        for (k, v) in nodes::object(v)? {
            let slot = match k {
                "id_str" => &mut t.id_str,
                "id" => &mut t.id,
                "created_at" => &mut t.created_at,
                "text" => &mut t.text,
                "full_text" => &mut t.full_text,
                "extended_tweet" => &mut t.extended_tweet,
                "user" => &mut t.user,
                "retweeted_status" => &mut t.retweeted_status,
                "in_reply_to_status_id_str" => &mut t.in_reply_to_status_id_str,
                "lang" => &mut t.lang,
                "place" => &mut t.place,
                "retweet_count" => &mut t.retweet_count,
                "statuses" => &mut t.statuses,
                "data" => &mut t.data,
                "includes" => &mut t.includes,
                "object" => &mut t.object,
                "entry" => &mut t.entry,
                "channel" => &mut t.channel,
                "author" => &mut t.author,
                "in_reply_to" => &mut t.in_reply_to,
                "url" => &mut t.url,
                _ => continue,
            };
            *slot = Some(v);
        }
        Some(t)
    }

    /// Looks like a Twitter v1.1 status.
    #[inline]
    pub(super) fn is_twitter_v1(&self) -> bool {
        self.id_str.is_some()
            || self.user.is_some()
            || self.extended_tweet.is_some()
            || self.full_text.is_some()
            || self.retweeted_status.is_some()
            || self.in_reply_to_status_id_str.is_some()
    }
}
