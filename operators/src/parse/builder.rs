//! The row type the format parsers produce, and the Arrow builders it is
//! appended to.
//!
//! Format parsers fill a [`Row`] of borrowed fields first and only append
//! once the row is complete and valid, so a rejected record never leaves a
//! partial row in the builders.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;

use super::record::{Format, SourceMeta};
use crate::schema::mention_schema;

/// An id as the source gives it: usually a string, sometimes a JSON number.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Id<'a> {
    Str(&'a str),
    Num(u64),
}

/// How to build the `url` column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Url<'a> {
    None,
    /// Given verbatim by the source.
    Given(&'a str),
    /// `https://twitter.com/<handle>/status/<id>`.
    Twitter {
        handle: &'a str,
        id: Id<'a>,
    },
    /// `https://twitter.com/i/web/status/<id>` (author unknown).
    TwitterWeb(Id<'a>),
}

/// One mention, every field borrowed from the parsed input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub format: Format,
    pub channel: &'a str,
    pub mention_id: Id<'a>,
    pub author_handle: Option<&'a str>,
    pub author_id: Option<Id<'a>>,
    pub author_name: Option<&'a str>,
    pub author_followers: Option<i64>,
    pub author_verified: Option<bool>,
    pub author_statuses: Option<i64>,
    pub author_created_at: Option<i64>,
    /// Raw text; HTML entities are decoded on append.
    pub text: &'a str,
    pub lang: Option<&'a str>,
    pub event_time: i64,
    pub in_reply_to: Option<Id<'a>>,
    pub is_retweet: bool,
    pub retweet_count: Option<i64>,
    pub url: Url<'a>,
    pub place: Option<&'a str>,
}

impl<'a> Row<'a> {
    /// A row with the required fields set and every optional field empty.
    #[inline]
    pub fn new(
        format: Format,
        channel: &'a str,
        mention_id: Id<'a>,
        text: &'a str,
        event_time: i64,
    ) -> Self {
        Row {
            format,
            channel,
            mention_id,
            author_handle: None,
            author_id: None,
            author_name: None,
            author_followers: None,
            author_verified: None,
            author_statuses: None,
            author_created_at: None,
            text,
            lang: None,
            event_time,
            in_reply_to: None,
            is_retweet: false,
            retweet_count: None,
            url: Url::None,
            place: None,
        }
    }
}

/// Arrow builders for every column of [`mention_schema`], in schema order.
pub(crate) struct Columns {
    mention_id: StringBuilder,
    channel: StringBuilder,
    format: StringBuilder,
    author_handle: StringBuilder,
    author_id: StringBuilder,
    author_name: StringBuilder,
    author_followers: Int64Builder,
    author_verified: BooleanBuilder,
    author_statuses: Int64Builder,
    author_created_at: TimestampMillisecondBuilder,
    text: StringBuilder,
    lang: StringBuilder,
    event_time: TimestampMillisecondBuilder,
    in_reply_to: StringBuilder,
    is_retweet: BooleanBuilder,
    retweet_count: Int64Builder,
    url: StringBuilder,
    place: StringBuilder,
    source_topic: StringBuilder,
    source_partition: Int32Builder,
    source_offset: Int64Builder,
    ingest_time: TimestampMillisecondBuilder,
    /// Rows appended so far.
    rows: usize,
    /// Scratch for HTML entity decoding, reused.
    decoded: String,
}

#[inline]
fn ts(rows: usize) -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC")
}

#[inline]
fn append_id(b: &mut StringBuilder, id: Id<'_>) {
    match id {
        Id::Str(s) => b.append_value(s),
        Id::Num(n) => {
            let _ = write!(b, "{n}");
            b.append_value("");
        }
    }
}

#[inline]
fn append_opt_id(b: &mut StringBuilder, id: Option<Id<'_>>) {
    match id {
        Some(id) => append_id(b, id),
        None => b.append_null(),
    }
}

/// Writes an id into a string builder without finishing the value.
#[inline]
fn write_id(b: &mut StringBuilder, id: Id<'_>) {
    match id {
        Id::Str(s) => {
            let _ = b.write_str(s);
        }
        Id::Num(n) => {
            let _ = write!(b, "{n}");
        }
    }
}

impl Columns {
    /// Empty builders sized for `rows` rows of about `bytes_per_row` text bytes.
    pub fn with_capacity(rows: usize, text_bytes: usize) -> Self {
        let s = |bytes: usize| StringBuilder::with_capacity(rows, bytes);
        Columns {
            mention_id: s(rows * 20),
            channel: s(rows * 8),
            format: s(rows * 10),
            author_handle: s(rows * 12),
            author_id: s(rows * 12),
            author_name: s(rows * 16),
            author_followers: Int64Builder::with_capacity(rows),
            author_verified: BooleanBuilder::with_capacity(rows),
            author_statuses: Int64Builder::with_capacity(rows),
            author_created_at: ts(rows),
            text: s(text_bytes),
            lang: s(rows * 2),
            event_time: ts(rows),
            in_reply_to: s(rows * 8),
            is_retweet: BooleanBuilder::with_capacity(rows),
            retweet_count: Int64Builder::with_capacity(rows),
            url: s(rows * 56),
            place: s(rows * 4),
            source_topic: s(rows * 8),
            source_partition: Int32Builder::with_capacity(rows),
            source_offset: Int64Builder::with_capacity(rows),
            ingest_time: ts(rows),
            rows: 0,
            decoded: String::new(),
        }
    }

    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one complete row.
    #[inline]
    pub fn append(&mut self, r: &Row<'_>, meta: &SourceMeta<'_>, ingest_time_ms: i64) {
        append_id(&mut self.mention_id, r.mention_id);
        self.channel.append_value(r.channel);
        self.format.append_value(r.format.as_str());
        self.author_handle.append_option(r.author_handle);
        append_opt_id(&mut self.author_id, r.author_id);
        self.author_name.append_option(r.author_name);
        self.author_followers.append_option(r.author_followers);
        self.author_verified.append_option(r.author_verified);
        self.author_statuses.append_option(r.author_statuses);
        self.author_created_at.append_option(r.author_created_at);
        if r.text.as_bytes().contains(&b'&') {
            write_decoded(&mut self.text, r.text, &mut self.decoded);
            self.text.append_value("");
        } else {
            self.text.append_value(r.text);
        }
        self.lang.append_option(r.lang);
        self.event_time.append_value(r.event_time);
        append_opt_id(&mut self.in_reply_to, r.in_reply_to);
        self.is_retweet.append_value(r.is_retweet);
        self.retweet_count.append_option(r.retweet_count);
        match r.url {
            Url::None => self.url.append_null(),
            Url::Given(u) => self.url.append_value(u),
            Url::Twitter { handle, id } => {
                let _ = self.url.write_str("https://twitter.com/");
                let _ = self.url.write_str(handle);
                let _ = self.url.write_str("/status/");
                write_id(&mut self.url, id);
                self.url.append_value("");
            }
            Url::TwitterWeb(id) => {
                let _ = self.url.write_str("https://twitter.com/i/web/status/");
                write_id(&mut self.url, id);
                self.url.append_value("");
            }
        }
        self.place.append_option(r.place);
        self.source_topic.append_value(meta.topic);
        self.source_partition.append_value(meta.partition);
        self.source_offset.append_value(meta.offset);
        self.ingest_time.append_value(ingest_time_ms);
        self.rows += 1;
    }

    /// Finishes every builder into a batch with exactly [`mention_schema`].
    /// The builders are replaced by empty ones sized like this batch, so a
    /// steady stream of similar batches does not regrow them row by row.
    pub fn finish(&mut self) -> RecordBatch {
        let rows = self.rows.clamp(16, MAX_ROWS_HINT);
        let columns: Vec<ArrayRef> = vec![
            take_str(&mut self.mention_id, rows),
            take_str(&mut self.channel, rows),
            take_str(&mut self.format, rows),
            take_str(&mut self.author_handle, rows),
            take_str(&mut self.author_id, rows),
            take_str(&mut self.author_name, rows),
            take_i64(&mut self.author_followers, rows),
            take_bool(&mut self.author_verified, rows),
            take_i64(&mut self.author_statuses, rows),
            take_ts(&mut self.author_created_at, rows),
            take_str(&mut self.text, rows),
            take_str(&mut self.lang, rows),
            take_ts(&mut self.event_time, rows),
            take_str(&mut self.in_reply_to, rows),
            take_bool(&mut self.is_retweet, rows),
            take_i64(&mut self.retweet_count, rows),
            take_str(&mut self.url, rows),
            take_str(&mut self.place, rows),
            take_str(&mut self.source_topic, rows),
            {
                let a = self.source_partition.finish();
                self.source_partition = Int32Builder::with_capacity(rows);
                Arc::new(a)
            },
            take_i64(&mut self.source_offset, rows),
            take_ts(&mut self.ingest_time, rows),
        ];
        self.rows = 0;
        // Every column has the same length, the types match the schema and the
        // non-nullable columns only ever receive values, so this cannot fail.
        RecordBatch::try_new(mention_schema(), columns)
            .expect("parse builders match mention_schema")
    }
}

/// Upper bound of the row capacity carried over from one batch to the next.
const MAX_ROWS_HINT: usize = 1 << 16;

fn take_str(b: &mut StringBuilder, rows: usize) -> ArrayRef {
    let bytes = b.values_slice().len().min(MAX_ROWS_HINT * 1024);
    let a = b.finish();
    *b = StringBuilder::with_capacity(rows, bytes + bytes / 8);
    Arc::new(a)
}

fn take_i64(b: &mut Int64Builder, rows: usize) -> ArrayRef {
    let a = b.finish();
    *b = Int64Builder::with_capacity(rows);
    Arc::new(a)
}

fn take_ts(b: &mut TimestampMillisecondBuilder, rows: usize) -> ArrayRef {
    let a = b.finish();
    *b = ts(rows);
    Arc::new(a)
}

fn take_bool(b: &mut BooleanBuilder, rows: usize) -> ArrayRef {
    let a = b.finish();
    *b = BooleanBuilder::with_capacity(rows);
    Arc::new(a)
}

/// Writes `text` with HTML entities decoded into `b` (the value is not
/// finished). The entities Twitter and most bridges emit (`&amp;`, `&lt;`,
/// `&gt;`, `&quot;`, `&#39;`, `&apos;`) are decoded inline; from the first
/// other `&` on, the rest is handed to `html_escape`, so the result always
/// equals `html_escape::decode_html_entities(text)`.
pub(crate) fn write_decoded(b: &mut impl std::fmt::Write, text: &str, scratch: &mut String) {
    let bytes = text.as_bytes();
    let mut done = 0; // bytes of `text` already written
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&c| c == b'&') {
        let amp = i + off;
        let (decoded, len) = match &bytes[amp..] {
            [b'&', b'a', b'm', b'p', b';', ..] => ("&", 5),
            [b'&', b'l', b't', b';', ..] => ("<", 4),
            [b'&', b'g', b't', b';', ..] => (">", 4),
            [b'&', b'q', b'u', b'o', b't', b';', ..] => ("\"", 6),
            [b'&', b'#', b'3', b'9', b';', ..] => ("'", 5),
            [b'&', b'a', b'p', b'o', b's', b';', ..] => ("'", 6),
            _ => {
                let _ = b.write_str(&text[done..amp]);
                scratch.clear();
                let _ = b.write_str(html_escape::decode_html_entities_to_string(
                    &text[amp..],
                    scratch,
                ));
                return;
            }
        };
        let _ = b.write_str(&text[done..amp]);
        let _ = b.write_str(decoded);
        i = amp + len;
        done = i;
    }
    let _ = b.write_str(&text[done..]);
}
