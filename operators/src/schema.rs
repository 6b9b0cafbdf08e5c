//! The Arrow schemas that flow between operators, defined in one place.
//!
//! Every operator reads and writes columns by the names below; the
//! `col` module holds them as constants so that a rename is a compile error.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names of the normalized mention schema.
pub mod col {
    /// The source's own id (tweet id, Facebook comment/post id, envelope id).
    pub const MENTION_ID: &str = "mention_id";
    /// `twitter`, `facebook`, `instagram`, `web_form`, `app_chat`, `email`, `sms`, …
    pub const CHANNEL: &str = "channel";
    /// Wire format the record was detected as, see [`crate::parse::Format`].
    pub const FORMAT: &str = "format";
    /// Author handle as written by the source (screen name, envelope handle), if any.
    pub const AUTHOR_HANDLE: &str = "author_handle";
    /// Author id at the source (Twitter user id, Facebook PSID, envelope author id).
    pub const AUTHOR_ID: &str = "author_id";
    /// Author display name.
    pub const AUTHOR_NAME: &str = "author_name";
    /// Follower count, when the source gives it.
    pub const AUTHOR_FOLLOWERS: &str = "author_followers";
    /// Verified flag, when the source gives it.
    pub const AUTHOR_VERIFIED: &str = "author_verified";
    /// Number of posts by the author, when the source gives it.
    pub const AUTHOR_STATUSES: &str = "author_statuses";
    /// Account creation time, when the source gives it.
    pub const AUTHOR_CREATED_AT: &str = "author_created_at";
    /// Mention text, HTML entities decoded.
    pub const TEXT: &str = "text";
    /// Language code given by the source (`en`, `ja`, …), if any.
    pub const LANG: &str = "lang";
    /// Event time: when the mention was written, UTC.
    pub const EVENT_TIME: &str = "event_time";
    /// Id of the post this one replies to, if any.
    pub const IN_REPLY_TO: &str = "in_reply_to";
    /// True when the mention is a retweet/share of someone else's post.
    pub const IS_RETWEET: &str = "is_retweet";
    /// Retweet/share count, when the source gives it.
    pub const RETWEET_COUNT: &str = "retweet_count";
    /// Link to the mention, if any.
    pub const URL: &str = "url";
    /// Free-text place (Twitter `place.full_name`), if any.
    pub const PLACE: &str = "place";
    /// Kafka topic (or input file) the record came from.
    pub const SOURCE_TOPIC: &str = "source_topic";
    /// Kafka partition of the record (`-1` for files).
    pub const SOURCE_PARTITION: &str = "source_partition";
    /// Kafka offset of the record (line number for files).
    pub const SOURCE_OFFSET: &str = "source_offset";
    /// When Switchboard read the record, UTC.
    pub const INGEST_TIME: &str = "ingest_time";
}

/// Timestamp type used for every time column: milliseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The normalized mention schema produced by [`crate::parse`].
pub fn mention_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use col::*;
            Arc::new(Schema::new(vec![
                Field::new(MENTION_ID, DataType::Utf8, false),
                Field::new(CHANNEL, DataType::Utf8, false),
                Field::new(FORMAT, DataType::Utf8, false),
                Field::new(AUTHOR_HANDLE, DataType::Utf8, true),
                Field::new(AUTHOR_ID, DataType::Utf8, true),
                Field::new(AUTHOR_NAME, DataType::Utf8, true),
                Field::new(AUTHOR_FOLLOWERS, DataType::Int64, true),
                Field::new(AUTHOR_VERIFIED, DataType::Boolean, true),
                Field::new(AUTHOR_STATUSES, DataType::Int64, true),
                Field::new(AUTHOR_CREATED_AT, timestamp_type(), true),
                Field::new(TEXT, DataType::Utf8, false),
                Field::new(LANG, DataType::Utf8, true),
                Field::new(EVENT_TIME, timestamp_type(), false),
                Field::new(IN_REPLY_TO, DataType::Utf8, true),
                Field::new(IS_RETWEET, DataType::Boolean, false),
                Field::new(RETWEET_COUNT, DataType::Int64, true),
                Field::new(URL, DataType::Utf8, true),
                Field::new(PLACE, DataType::Utf8, true),
                Field::new(SOURCE_TOPIC, DataType::Utf8, false),
                Field::new(SOURCE_PARTITION, DataType::Int32, false),
                Field::new(SOURCE_OFFSET, DataType::Int64, false),
                Field::new(INGEST_TIME, timestamp_type(), false),
            ]))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_schema_has_unique_names() {
        let schema = mention_schema();
        let mut names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len());
        assert!(schema.field_with_name(col::EVENT_TIME).is_ok());
    }
}
