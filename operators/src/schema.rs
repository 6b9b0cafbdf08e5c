//! The Arrow schemas that flow between operators, and every column name,
//! defined in one place.
//!
//! Every operator reads and writes columns by the names in [`col`] (a
//! rename is a compile error); the operators import them from here and
//! this module imports no operator. Column names are unique across the
//! enriched batch: an operator that appends a column replaces a column of
//! the same name.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Every column name, grouped by the operator that appends it, in pipeline
/// order: the mention columns (`parse`), then `language`, `sentiment`,
/// `classify`, `identity_join`, `severity`, `spam`, `incident`, `route`.
pub mod col {
    // ---- parse: the normalized mention schema ([`super::mention_schema`]).

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

    // ---- language ([`crate::language::LanguageDetector`]).

    /// ISO 639-1 code (`en`, `cy`, `pl`, …), or the normalised code the source
    /// gave, or `und`. Utf8, never null.
    pub const LANGUAGE: &str = "language";
    /// True when the text is English or undetermined with `default_lang = "en"`.
    /// Boolean, never null.
    pub const IS_ENGLISH: &str = "is_english";
    /// Where the language came from: `given`, `detected` or `undetermined`. Utf8, never null.
    pub const LANGUAGE_SOURCE: &str = "language_source";

    // ---- sentiment ([`crate::sentiment::SentimentAnalyzer`]); Float32,
    // null for a null text.

    /// Normalised compound score in [-1, 1] (VADER, rounded to 4 places).
    pub const SENTIMENT_COMPOUND: &str = "sentiment_compound";
    /// Proportion of positive sentiment (rounded to 3 places).
    pub const SENTIMENT_POS: &str = "sentiment_pos";
    /// Proportion of neutral tokens (rounded to 3 places).
    pub const SENTIMENT_NEU: &str = "sentiment_neu";
    /// Proportion of negative sentiment (rounded to 3 places).
    pub const SENTIMENT_NEG: &str = "sentiment_neg";

    // ---- classify ([`crate::classify::Classifier`]).

    /// Primary category ([`crate::classify::Category::as_str`]), Utf8, never null.
    pub const CATEGORY: &str = "category";
    /// Every category that scored, best first, comma-joined (`billing,general_enquiry`);
    /// Utf8, never null, empty when nothing matched (primary is then `general_enquiry`).
    pub const CATEGORIES: &str = "categories";
    /// The matched evidence, `; `-joined: `billing:"overcharged"; network_outage:"no signal"`,
    /// a negated match is suffixed ` (negated)`. Utf8, never null, empty when nothing matched.
    pub const CATEGORY_EVIDENCE: &str = "category_evidence";

    // ---- identity_join ([`crate::identity_join::IdentityJoin`]).

    /// Matched customer id (null when unmatched).
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Customer segment (null when unmatched).
    pub const CUSTOMER_SEGMENT: &str = "customer_segment";
    /// Customer tier (null when unmatched).
    pub const CUSTOMER_TIER: &str = "customer_tier";
    /// Customer region (null when unmatched).
    pub const CUSTOMER_REGION: &str = "customer_region";
    /// Vulnerable-customer flag (null when unmatched).
    pub const CUSTOMER_VULNERABLE: &str = "customer_vulnerable";
    /// Account status (null when unmatched).
    pub const CUSTOMER_ACCOUNT_STATUS: &str = "customer_account_status";
    /// True when a customer was found.
    pub const IDENTITY_MATCHED: &str = "identity_matched";
    /// How: `twitter:handle`, `facebook:author_id`, `instagram:handle`,
    /// `email`, `phone`; null when unmatched.
    pub const IDENTITY_VIA: &str = "identity_via";
    /// Directory name of the snapshot version used (null if none loaded).
    pub const IDENTITY_SNAPSHOT: &str = "identity_snapshot";
    /// Null when matched; else a [`crate::identity_join::MissReason`] string.
    pub const IDENTITY_MISS_REASON: &str = "identity_miss_reason";
    /// True when the mention is older than every kept version (the oldest
    /// was used).
    pub const IDENTITY_BEFORE_OLDEST_VERSION: &str = "identity_before_oldest_version";

    // ---- severity ([`crate::severity::Severity`]).

    /// The additive score before clamping (sum of the reason lines). Int32, never null.
    pub const SEVERITY_POINTS: &str = "severity_points";
    /// `clamp(severity_points, 0, 100)`. UInt8, never null.
    pub const PRIORITY: &str = "priority";
    /// `P1` … `P4`. Utf8, never null.
    pub const SEVERITY: &str = "severity";
    /// One line per factor, `"+30 vulnerable customer"`. List<Utf8> (items
    /// non-null), never null, empty when no factor scored.
    pub const SEVERITY_REASONS: &str = "severity_reasons";

    // ---- spam ([`crate::spam::SpamDetector`]).

    /// True when the mention is spam or from a bot. Boolean, never null.
    pub const IS_SPAM: &str = "is_spam";
    /// For spam, the reasons that fired, comma-joined in
    /// [`crate::spam::reason::ALL`] order (`promo_phrase,promo_with_link,low_reach`);
    /// null otherwise.
    pub const SPAM_REASON: &str = "spam_reason";

    // ---- incident ([`crate::incident::IncidentDetector`]).

    /// The open outage incident the mention belongs to (null when none). Utf8.
    pub const INCIDENT_ID: &str = "incident_id";

    // ---- route ([`crate::route::Router`]).

    /// The queue the mention goes to. Utf8, never null.
    pub const QUEUE: &str = "queue";
    /// The name of the rule that matched, or [`crate::route::DEFAULT_RULE`].
    /// Utf8, never null.
    pub const ROUTE_RULE: &str = "route_rule";

    // ---- reserved: in the enriched schema so that routing rules can name
    // it, appended by no operator yet (null).

    /// Id of the open CRM case the mention was folded into, if any.
    pub const RELATED_CASE_ID: &str = "related_case_id";
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

/// The **enriched mention schema**: the columns a mention carries when it
/// reaches routing, i.e. [`mention_schema`] followed by the columns of
/// `language`, `sentiment`, `classify`, `spam`, `identity_join`, `severity`,
/// `incident` and [`col::RELATED_CASE_ID`], with the types
/// and nullability those operators produce. Routing rules
/// ([`crate::route`]) are compiled against it, so it is the contract for the
/// column names a `when` predicate may use.
pub fn enriched_mention_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use col::*;
            use DataType::{Boolean, Float32, Int32, UInt8, Utf8};
            let mut fields: Vec<Field> = mention_schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let reasons = DataType::List(Arc::new(Field::new("item", Utf8, false)));
            fields.extend([
                Field::new(LANGUAGE, Utf8, false),
                Field::new(IS_ENGLISH, Boolean, false),
                Field::new(LANGUAGE_SOURCE, Utf8, false),
                Field::new(SENTIMENT_COMPOUND, Float32, true),
                Field::new(SENTIMENT_POS, Float32, true),
                Field::new(SENTIMENT_NEU, Float32, true),
                Field::new(SENTIMENT_NEG, Float32, true),
                Field::new(CATEGORY, Utf8, false),
                Field::new(CATEGORIES, Utf8, false),
                Field::new(CATEGORY_EVIDENCE, Utf8, false),
                Field::new(IS_SPAM, Boolean, false),
                Field::new(SPAM_REASON, Utf8, true),
                Field::new(CUSTOMER_ID, Utf8, true),
                Field::new(CUSTOMER_SEGMENT, Utf8, true),
                Field::new(CUSTOMER_TIER, Utf8, true),
                Field::new(CUSTOMER_REGION, Utf8, true),
                Field::new(CUSTOMER_VULNERABLE, Boolean, true),
                Field::new(CUSTOMER_ACCOUNT_STATUS, Utf8, true),
                Field::new(IDENTITY_MATCHED, Boolean, false),
                Field::new(IDENTITY_VIA, Utf8, true),
                Field::new(IDENTITY_SNAPSHOT, Utf8, true),
                Field::new(IDENTITY_MISS_REASON, Utf8, true),
                Field::new(IDENTITY_BEFORE_OLDEST_VERSION, Boolean, false),
                Field::new(SEVERITY_POINTS, Int32, false),
                Field::new(PRIORITY, UInt8, false),
                Field::new(SEVERITY, Utf8, false),
                Field::new(SEVERITY_REASONS, reasons, false),
                Field::new(INCIDENT_ID, Utf8, true),
                Field::new(RELATED_CASE_ID, Utf8, true),
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
