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

/// Columns the correlator (not yet built) appends; listed here so that the
/// enriched schema and routing rules can name them now.
pub mod correlate_col {
    /// Id of the detected incident (outage spike) the mention belongs to, if any.
    pub const INCIDENT_ID: &str = "incident_id";
    /// Id of the open CRM case the mention was folded into, if any.
    pub const RELATED_CASE_ID: &str = "related_case_id";
}

/// The **enriched mention schema**: the columns a mention carries when it
/// reaches routing, i.e. [`mention_schema`] followed by the columns of
/// `language`, `sentiment`, `classify`, `spam`, `identity_join`, `severity`
/// and the correlator ([`correlate_col`]), in pipeline order, with the types
/// and nullability those operators produce. Routing rules
/// ([`crate::route`]) are compiled against it, so it is the contract for the
/// column names a `when` predicate may use.
pub fn enriched_mention_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use crate::classify::col as cl;
            use crate::identity_join::col as id;
            use crate::language::col as lang;
            use crate::sentiment as se;
            use crate::severity::col as sev;
            use crate::spam::col as sp;
            use DataType::{Boolean, Float32, Int32, UInt8, Utf8};
            let mut fields: Vec<Field> = mention_schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let reasons = DataType::List(Arc::new(Field::new("item", Utf8, false)));
            fields.extend([
                Field::new(lang::LANGUAGE, Utf8, false),
                Field::new(lang::IS_ENGLISH, Boolean, false),
                Field::new(lang::LANGUAGE_SOURCE, Utf8, false),
                Field::new(se::SENTIMENT_COMPOUND, Float32, true),
                Field::new(se::SENTIMENT_POS, Float32, true),
                Field::new(se::SENTIMENT_NEU, Float32, true),
                Field::new(se::SENTIMENT_NEG, Float32, true),
                Field::new(cl::CATEGORY, Utf8, false),
                Field::new(cl::CATEGORIES, Utf8, false),
                Field::new(cl::CATEGORY_EVIDENCE, Utf8, false),
                Field::new(sp::IS_SPAM, Boolean, false),
                Field::new(sp::SPAM_REASON, Utf8, true),
                Field::new(id::CUSTOMER_ID, Utf8, true),
                Field::new(id::CUSTOMER_SEGMENT, Utf8, true),
                Field::new(id::CUSTOMER_TIER, Utf8, true),
                Field::new(id::CUSTOMER_REGION, Utf8, true),
                Field::new(id::CUSTOMER_VULNERABLE, Boolean, true),
                Field::new(id::CUSTOMER_ACCOUNT_STATUS, Utf8, true),
                Field::new(id::IDENTITY_MATCHED, Boolean, false),
                Field::new(id::IDENTITY_VIA, Utf8, true),
                Field::new(id::IDENTITY_SNAPSHOT, Utf8, true),
                Field::new(id::IDENTITY_MISS_REASON, Utf8, true),
                Field::new(id::IDENTITY_BEFORE_OLDEST_VERSION, Boolean, false),
                Field::new(sev::SEVERITY_POINTS, Int32, false),
                Field::new(sev::PRIORITY, UInt8, false),
                Field::new(sev::SEVERITY, Utf8, false),
                Field::new(sev::SEVERITY_REASONS, reasons, false),
                Field::new(correlate_col::INCIDENT_ID, Utf8, true),
                Field::new(correlate_col::RELATED_CASE_ID, Utf8, true),
            ]);
            Arc::new(Schema::new(fields))
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

    #[test]
    fn enriched_schema_has_unique_names_and_extends_the_mention_schema() {
        let schema = enriched_mention_schema();
        let mut names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len());
        let base = mention_schema();
        assert_eq!(&schema.fields()[..base.fields().len()], &base.fields()[..]);
    }
}
