//! Tests of the parse operator over every format, the real Twitter sample,
//! every DLQ reason, rollback and robustness.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

use super::fields::MAX_DETAIL;
use super::*;
use crate::schema::{col, mention_schema};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/twitter-v1.1-search-sample.json"
);

const META: SourceMeta<'static> = SourceMeta {
    topic: "mentions",
    partition: 3,
    offset: 42,
};
const INGEST: i64 = 1_795_341_600_000;

fn parser() -> MentionParser {
    MentionParser::new(ParseConfig::default())
}

fn s(b: &RecordBatch, name: &str, i: usize) -> Option<String> {
    let a = b.column_by_name(name).unwrap().as_string::<i32>();
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn i64v(b: &RecordBatch, name: &str, i: usize) -> Option<i64> {
    let c = b.column_by_name(name).unwrap();
    if let Some(a) = c.as_primitive_opt::<Int64Type>() {
        return a.is_valid(i).then(|| a.value(i));
    }
    let a = c.as_primitive::<TimestampMillisecondType>();
    a.is_valid(i).then(|| a.value(i))
}

fn boolv(b: &RecordBatch, name: &str, i: usize) -> Option<bool> {
    let a = b.column_by_name(name).unwrap().as_boolean();
    a.is_valid(i).then(|| a.value(i))
}

fn reject(p: &mut MentionParser, payload: &[u8]) -> Rejection {
    p.push(payload, &META, INGEST)
        .expect_err("expected a rejection")
}

/// Epoch ms by plain day counting — independent of `time::days_from_civil`.
fn naive_ms(y: i64, mo: u32, d: u32, h: i64, mi: i64, sec: i64) -> i64 {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days: i64 = (1970..y).map(|y| if leap(y) { 366 } else { 365 }).sum();
    let mdays = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += mdays[..(mo - 1) as usize].iter().sum::<i64>() + i64::from(d) - 1;
    ((days * 24 + h) * 60 + mi) * 60_000 + sec * 1_000
}

/// Independent parse of `Sun Aug 31 00:29:15 +0000 2014` (offset +0000 only).
fn naive_twitter_ms(s: &str) -> i64 {
    let p: Vec<&str> = s.split(' ').collect();
    assert_eq!(p[4], "+0000");
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mo = months.iter().position(|m| *m == p[1]).unwrap() as u32 + 1;
    let hms: Vec<i64> = p[3].split(':').map(|x| x.parse().unwrap()).collect();
    naive_ms(
        p[5].parse().unwrap(),
        mo,
        p[2].parse().unwrap(),
        hms[0],
        hms[1],
        hms[2],
    )
}

const V1: &str = r#"{"created_at":"Sun Aug 31 00:29:15 +0000 2014","id":505874924095815681,"id_str":"505874924095815681",
 "text":"@BTCare my broadband is down again &amp; nobody answers &lt;sigh&gt; &#39;fix it&#39; &quot;now&quot; &#x1F621;",
 "truncated":false,"in_reply_to_status_id_str":"505874900000000000","lang":"en",
 "user":{"id":1186275104,"id_str":"1186275104","name":"Ayumi &amp; Co","screen_name":"ayuu0123","followers_count":262,
   "verified":false,"statuses_count":1769,"created_at":"Sat Feb 16 13:40:25 +0000 2013","entities":{"description":{"urls":[]}}},
 "place":{"full_name":"Leeds, England","country":"UK"},"retweet_count":7,"entities":{"hashtags":[],"user_mentions":[]}}"#;

#[test]
fn twitter_v1_status() {
    let mut p = parser();
    assert_eq!(p.push(V1.as_bytes(), &META, INGEST), Ok(1));
    assert_eq!(p.rows(), 1);
    let b = p.finish();
    assert_eq!(b.schema(), mention_schema());
    assert_eq!(b.num_rows(), 1);
    assert_eq!(
        s(&b, col::MENTION_ID, 0).as_deref(),
        Some("505874924095815681")
    );
    assert_eq!(s(&b, col::CHANNEL, 0).as_deref(), Some("twitter"));
    assert_eq!(s(&b, col::FORMAT, 0).as_deref(), Some("twitter_v1"));
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 0).as_deref(), Some("ayuu0123"));
    assert_eq!(s(&b, col::AUTHOR_ID, 0).as_deref(), Some("1186275104"));
    // Only the text is entity-decoded; names are kept as the source wrote them.
    assert_eq!(
        s(&b, col::AUTHOR_NAME, 0).as_deref(),
        Some("Ayumi &amp; Co")
    );
    assert_eq!(i64v(&b, col::AUTHOR_FOLLOWERS, 0), Some(262));
    assert_eq!(boolv(&b, col::AUTHOR_VERIFIED, 0), Some(false));
    assert_eq!(i64v(&b, col::AUTHOR_STATUSES, 0), Some(1769));
    assert_eq!(
        i64v(&b, col::AUTHOR_CREATED_AT, 0),
        Some(naive_ms(2013, 2, 16, 13, 40, 25))
    );
    assert_eq!(
        s(&b, col::TEXT, 0).as_deref(),
        Some(
            "@BTCare my broadband is down again & nobody answers <sigh> 'fix it' \"now\" \u{1F621}"
        )
    );
    assert_eq!(s(&b, col::LANG, 0).as_deref(), Some("en"));
    assert_eq!(i64v(&b, col::EVENT_TIME, 0), Some(1_409_444_955_000));
    assert_eq!(
        s(&b, col::IN_REPLY_TO, 0).as_deref(),
        Some("505874900000000000")
    );
    assert_eq!(boolv(&b, col::IS_RETWEET, 0), Some(false));
    assert_eq!(i64v(&b, col::RETWEET_COUNT, 0), Some(7));
    assert_eq!(
        s(&b, col::URL, 0).as_deref(),
        Some("https://twitter.com/ayuu0123/status/505874924095815681")
    );
    assert_eq!(s(&b, col::PLACE, 0).as_deref(), Some("Leeds, England"));
    assert_eq!(s(&b, col::SOURCE_TOPIC, 0).as_deref(), Some("mentions"));
    assert_eq!(
        b.column_by_name(col::SOURCE_PARTITION)
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        3
    );
    assert_eq!(i64v(&b, col::SOURCE_OFFSET, 0), Some(42));
    assert_eq!(i64v(&b, col::INGEST_TIME, 0), Some(INGEST));
    assert_eq!(p.rows(), 0);
    let st = p.take_stats();
    assert_eq!(st.records_by_format, [1, 0, 0, 0]);
    assert_eq!(st.rows, 1);
    assert_eq!(p.take_stats(), ParseStats::default());
}

#[test]
fn twitter_v1_text_precedence_retweet_and_nulls() {
    let mut p = parser();
    let ext = r#"{"id_str":"1","created_at":"Mon Nov 23 10:00:00 +0100 2026","text":"short…","full_text":"full",
        "extended_tweet":{"full_text":"the whole extended text","entities":{}},"retweeted_status":{"id_str":"0"},
        "user":{"id_str":"9","screen_name":"bob"},"place":null,"lang":null,"in_reply_to_status_id_str":null}"#;
    let full = r#"{"id_str":"2","created_at":"Mon Nov 23 10:00:00 +0000 2026","text":"short","full_text":"full text wins","retweeted_status":null}"#;
    // Old payload with a numeric id only and no user.
    let num =
        r#"{"id":3,"created_at":"Mon Nov 23 10:00:00 +0000 2026","text":"x","full_text":null}"#;
    for r in [ext, full, num] {
        assert_eq!(p.push(r.as_bytes(), &META, INGEST), Ok(1), "{r}");
    }
    let b = p.finish();
    assert_eq!(
        s(&b, col::TEXT, 0).as_deref(),
        Some("the whole extended text")
    );
    assert_eq!(boolv(&b, col::IS_RETWEET, 0), Some(true));
    assert_eq!(
        i64v(&b, col::EVENT_TIME, 0),
        Some(naive_ms(2026, 11, 23, 9, 0, 0))
    );
    assert_eq!(s(&b, col::PLACE, 0), None);
    assert_eq!(s(&b, col::LANG, 0), None);
    assert_eq!(s(&b, col::IN_REPLY_TO, 0), None);
    assert_eq!(i64v(&b, col::AUTHOR_FOLLOWERS, 0), None);
    assert_eq!(boolv(&b, col::AUTHOR_VERIFIED, 0), None);
    assert_eq!(s(&b, col::TEXT, 1).as_deref(), Some("full text wins"));
    assert_eq!(boolv(&b, col::IS_RETWEET, 1), Some(false));
    assert_eq!(
        s(&b, col::URL, 1).as_deref(),
        Some("https://twitter.com/i/web/status/2")
    );
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 1), None);
    assert_eq!(s(&b, col::MENTION_ID, 2).as_deref(), Some("3"));
    assert_eq!(s(&b, col::TEXT, 2).as_deref(), Some("x"));
}

fn sample() -> serde_json::Value {
    let raw = std::fs::read(SAMPLE).expect("read the Twitter sample");
    serde_json::from_slice(&raw).unwrap()
}

#[test]
fn twitter_sample_each_status() {
    let doc = sample();
    let statuses = doc["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), 100);
    let mut p = parser();
    for (i, st) in statuses.iter().enumerate() {
        let bytes = serde_json::to_vec(st).unwrap();
        assert_eq!(
            p.push(
                &bytes,
                &SourceMeta {
                    offset: i as i64,
                    ..META
                },
                INGEST
            ),
            Ok(1),
            "status {i}"
        );
    }
    let b = p.finish();
    assert_eq!(b.num_rows(), 100);
    for (i, st) in statuses.iter().enumerate() {
        assert_eq!(
            s(&b, col::MENTION_ID, i).as_deref(),
            st["id_str"].as_str(),
            "id {i}"
        );
        let handle = st["user"]["screen_name"].as_str().unwrap();
        assert_eq!(
            s(&b, col::AUTHOR_HANDLE, i).as_deref(),
            Some(handle),
            "handle {i}"
        );
        assert_eq!(
            i64v(&b, col::EVENT_TIME, i),
            Some(naive_twitter_ms(st["created_at"].as_str().unwrap())),
            "time {i}"
        );
        let raw_text = st["text"].as_str().unwrap();
        assert_eq!(
            s(&b, col::TEXT, i).unwrap(),
            html_escape::decode_html_entities(raw_text),
            "text {i}"
        );
        assert_eq!(
            boolv(&b, col::IS_RETWEET, i),
            Some(st.get("retweeted_status").is_some()),
            "retweet {i}"
        );
        assert_eq!(
            s(&b, col::IN_REPLY_TO, i).as_deref(),
            st["in_reply_to_status_id_str"].as_str(),
            "reply {i}"
        );
        assert_eq!(
            i64v(&b, col::AUTHOR_FOLLOWERS, i),
            st["user"]["followers_count"].as_i64(),
            "followers {i}"
        );
        assert_eq!(i64v(&b, col::SOURCE_OFFSET, i), Some(i as i64));
        let url = format!(
            "https://twitter.com/{handle}/status/{}",
            st["id_str"].as_str().unwrap()
        );
        assert_eq!(s(&b, col::URL, i), Some(url));
    }
    // A few exact values.
    assert_eq!(
        s(&b, col::MENTION_ID, 0).as_deref(),
        Some("505874924095815681")
    );
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 0).as_deref(), Some("ayuu0123"));
    assert_eq!(s(&b, col::AUTHOR_NAME, 0).as_deref(), Some("AYUMI"));
    assert_eq!(i64v(&b, col::EVENT_TIME, 0), Some(1_409_444_955_000));
    assert_eq!(
        i64v(&b, col::AUTHOR_CREATED_AT, 0),
        Some(naive_ms(2013, 2, 16, 13, 40, 25))
    );
    assert_eq!(i64v(&b, col::AUTHOR_STATUSES, 0), Some(1769));
    assert_eq!(s(&b, col::LANG, 0).as_deref(), Some("ja"));
    assert!(s(&b, col::TEXT, 0)
        .unwrap()
        .starts_with("@aym0566x \n\n名前:前田あゆみ\n"));
    assert_eq!(
        s(&b, col::MENTION_ID, 1).as_deref(),
        Some("505874922023837696")
    );
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 1).as_deref(), Some("yuttari1998"));
    assert_eq!(
        s(&b, col::TEXT, 1).as_deref(),
        Some("RT @KATANA77: えっそれは・・・（一同） http://t.co/PkCJAcSuYK")
    );
    assert_eq!(boolv(&b, col::IS_RETWEET, 1), Some(true));
    assert_eq!(i64v(&b, col::RETWEET_COUNT, 1), Some(82));
    assert_eq!(
        s(&b, col::MENTION_ID, 99).as_deref(),
        Some("505874847260352513")
    );
    assert_eq!(
        i64v(&b, col::EVENT_TIME, 99),
        Some(naive_ms(2014, 8, 31, 0, 28, 56))
    );
    let st = p.take_stats();
    assert_eq!(st.records_by_format[Format::TwitterV1.index()], 100);
    assert_eq!(st.rows, 100);
    assert_eq!(st.rejected_by_reason, [0; 6]);
}

#[test]
fn twitter_sample_whole_search_response() {
    let raw = std::fs::read(SAMPLE).unwrap();
    let mut p = MentionParser::new(ParseConfig {
        max_record_bytes: 1 << 20,
        ..ParseConfig::default()
    });
    assert_eq!(p.push(&raw, &META, INGEST), Ok(100));
    let b = p.finish();
    assert_eq!(b.num_rows(), 100);
    assert_eq!(
        s(&b, col::MENTION_ID, 0).as_deref(),
        Some("505874924095815681")
    );
    assert_eq!(
        s(&b, col::MENTION_ID, 99).as_deref(),
        Some("505874847260352513")
    );
    let st = p.take_stats();
    assert_eq!(st.records_by_format, [1, 0, 0, 0]);
    assert_eq!(st.rows, 100);
    // With the default 64 KiB limit the whole response is too large.
    let mut p = parser();
    assert_eq!(reject(&mut p, &raw).reason, DlqReason::TooLarge);
}

const V2: &str = r#"{"data":{"id":"1460323737035677698","text":"@Virgin router lights red &amp; blinking","author_id":"2244994945",
  "created_at":"2026-11-22T10:00:00.250Z","lang":"en","public_metrics":{"retweet_count":5,"reply_count":1,"like_count":9,"quote_count":0},
  "in_reply_to_user_id":"17","referenced_tweets":[{"type":"replied_to","id":"1460323737035677000"}],"edit_history_tweet_ids":["1460323737035677698"]},
 "includes":{"users":[{"id":"1","username":"someone_else"},{"id":"2244994945","username":"TwitterDev","name":"Twitter Dev","verified":true,
  "created_at":"2013-12-14T04:35:55.000Z","public_metrics":{"followers_count":513958,"following_count":2039,"tweet_count":3635,"listed_count":1672}}]}}"#;

#[test]
fn twitter_v2_single() {
    let mut p = parser();
    assert_eq!(p.push(V2.as_bytes(), &META, INGEST), Ok(1));
    let b = p.finish();
    assert_eq!(b.schema(), mention_schema());
    assert_eq!(
        s(&b, col::MENTION_ID, 0).as_deref(),
        Some("1460323737035677698")
    );
    assert_eq!(s(&b, col::CHANNEL, 0).as_deref(), Some("twitter"));
    assert_eq!(s(&b, col::FORMAT, 0).as_deref(), Some("twitter_v2"));
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 0).as_deref(), Some("TwitterDev"));
    assert_eq!(s(&b, col::AUTHOR_ID, 0).as_deref(), Some("2244994945"));
    assert_eq!(s(&b, col::AUTHOR_NAME, 0).as_deref(), Some("Twitter Dev"));
    assert_eq!(i64v(&b, col::AUTHOR_FOLLOWERS, 0), Some(513_958));
    assert_eq!(boolv(&b, col::AUTHOR_VERIFIED, 0), Some(true));
    assert_eq!(i64v(&b, col::AUTHOR_STATUSES, 0), Some(3635));
    assert_eq!(
        i64v(&b, col::AUTHOR_CREATED_AT, 0),
        Some(naive_ms(2013, 12, 14, 4, 35, 55))
    );
    assert_eq!(
        s(&b, col::TEXT, 0).as_deref(),
        Some("@Virgin router lights red & blinking")
    );
    assert_eq!(s(&b, col::LANG, 0).as_deref(), Some("en"));
    assert_eq!(
        i64v(&b, col::EVENT_TIME, 0),
        Some(naive_ms(2026, 11, 22, 10, 0, 0) + 250)
    );
    assert_eq!(
        s(&b, col::IN_REPLY_TO, 0).as_deref(),
        Some("1460323737035677000")
    );
    assert_eq!(boolv(&b, col::IS_RETWEET, 0), Some(false));
    assert_eq!(i64v(&b, col::RETWEET_COUNT, 0), Some(5));
    assert_eq!(
        s(&b, col::URL, 0).as_deref(),
        Some("https://twitter.com/TwitterDev/status/1460323737035677698")
    );
}

#[test]
fn twitter_v2_array_with_and_without_users() {
    let mut p = parser();
    let rec = r#"{"data":[
        {"id":"10","text":"RT @a: outage","author_id":"7","created_at":"2026-11-22T10:00:00Z","referenced_tweets":[{"type":"retweeted","id":"9"}]},
        {"id":"11","text":"second","author_id":"8","created_at":"2026-11-22T10:00:01+01:00","note_tweet":{"text":"a much longer note tweet"}}],
      "includes":{"users":[{"id":"8","username":"eight"},{"id":"7","username":"seven","verified":false}]},"meta":{"result_count":2}}"#;
    assert_eq!(p.push(rec.as_bytes(), &META, INGEST), Ok(2));
    let no_users = r#"{"data":{"id":"12","text":"no includes","author_id":"5","created_at":"2026-11-22T10:00:00Z"}}"#;
    assert_eq!(p.push(no_users.as_bytes(), &META, INGEST), Ok(1));
    assert_eq!(
        p.push(br#"{"data":[],"meta":{"result_count":0}}"#, &META, INGEST),
        Ok(0)
    );
    let b = p.finish();
    assert_eq!(b.num_rows(), 3);
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 0).as_deref(), Some("seven"));
    assert_eq!(boolv(&b, col::IS_RETWEET, 0), Some(true));
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 1).as_deref(), Some("eight"));
    assert_eq!(
        s(&b, col::TEXT, 1).as_deref(),
        Some("a much longer note tweet")
    );
    assert_eq!(
        i64v(&b, col::EVENT_TIME, 1),
        Some(naive_ms(2026, 11, 22, 9, 0, 1))
    );
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 2), None);
    assert_eq!(s(&b, col::AUTHOR_ID, 2).as_deref(), Some("5"));
    assert_eq!(
        s(&b, col::URL, 2).as_deref(),
        Some("https://twitter.com/i/web/status/12")
    );
    assert_eq!(p.take_stats().records_by_format, [0, 3, 0, 0]);

    let r = reject(&mut p, br#"{"data":{"id":"1","text":"t"}}"#);
    assert_eq!(
        r,
        Rejection {
            reason: DlqReason::MissingField,
            detail: "twitter_v2: missing `created_at`".into()
        }
    );
    let r = reject(
        &mut p,
        br#"{"data":{"id":"1","text":"t","created_at":"yesterday"}}"#,
    );
    assert_eq!(r.detail, "twitter_v2: invalid `created_at`");
    let r = reject(
        &mut p,
        br#"{"data":{"id":"1","text":7,"created_at":"2026-11-22T10:00:00Z"}}"#,
    );
    assert_eq!(r.detail, "twitter_v2: `text` has the wrong type");
    assert_eq!(
        reject(&mut p, br#"{"data":"nope"}"#).reason,
        DlqReason::MissingField
    );
}

const FB: &str = r#"{"object":"page","entry":[
 {"id":"1234","time":1795341600,"changes":[
   {"field":"feed","value":{"item":"comment","verb":"add","from":{"id":"111","name":"Jane Doe"},"message":"No signal in Leeds since 9am &amp; no reply",
     "created_time":1795341600,"post_id":"1234_555","comment_id":"555_777","parent_id":"1234_555"}},
   {"field":"feed","value":{"item":"reaction","verb":"add","reaction_type":"angry","from":{"id":"112","name":"Joe"},"post_id":"1234_555","created_time":1795341601}},
   {"field":"feed","value":{"item":"comment","verb":"edited","from":{"id":"113","name":"Ann"},"message":"still broken",
     "created_time":"2026-11-22T10:00:00+0000","post_id":"1234_555","comment_id":"555_778"}}]},
 {"id":"1234","time":1795341700,"changes":[
   {"field":"feed","value":{"item":"status","verb":"add","from":{"id":"114","name":"Bob"},"message":"Is there an outage?",
     "created_time":"1795341700","post_id":"1234_556"}}]}]}"#;

#[test]
fn facebook_three_mentions_one_reaction() {
    let mut p = parser();
    assert_eq!(p.push(FB.as_bytes(), &META, INGEST), Ok(3));
    let st = p.take_stats();
    assert_eq!(st.non_actionable_entries, 1);
    assert_eq!(st.records_by_format, [0, 0, 1, 0]);
    assert_eq!(st.rows, 3);
    let b = p.finish();
    assert_eq!(b.num_rows(), 3);
    assert_eq!(s(&b, col::MENTION_ID, 0).as_deref(), Some("555_777"));
    assert_eq!(s(&b, col::CHANNEL, 0).as_deref(), Some("facebook"));
    assert_eq!(s(&b, col::FORMAT, 0).as_deref(), Some("facebook"));
    assert_eq!(s(&b, col::AUTHOR_ID, 0).as_deref(), Some("111"));
    assert_eq!(s(&b, col::AUTHOR_NAME, 0).as_deref(), Some("Jane Doe"));
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 0), None);
    assert_eq!(
        s(&b, col::TEXT, 0).as_deref(),
        Some("No signal in Leeds since 9am & no reply")
    );
    assert_eq!(i64v(&b, col::EVENT_TIME, 0), Some(1_795_341_600_000));
    assert_eq!(s(&b, col::IN_REPLY_TO, 0).as_deref(), Some("1234_555"));
    assert_eq!(s(&b, col::MENTION_ID, 1).as_deref(), Some("555_778"));
    assert_eq!(
        i64v(&b, col::EVENT_TIME, 1),
        Some(naive_ms(2026, 11, 22, 10, 0, 0))
    );
    // A comment without parent_id replies to its post.
    assert_eq!(s(&b, col::IN_REPLY_TO, 1).as_deref(), Some("1234_555"));
    assert_eq!(s(&b, col::MENTION_ID, 2).as_deref(), Some("1234_556"));
    assert_eq!(s(&b, col::IN_REPLY_TO, 2), None);
    assert_eq!(i64v(&b, col::EVENT_TIME, 2), Some(1_795_341_700_000));
    assert_eq!(boolv(&b, col::IS_RETWEET, 2), Some(false));
    assert_eq!(s(&b, col::URL, 2), None);
}

#[test]
fn facebook_non_actionable_and_missing_fields() {
    let mut p = parser();
    let only_noise = r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[
        {"field":"feed","value":{"item":"like","verb":"add","post_id":"1_2","created_time":1}},
        {"field":"feed","value":{"item":"comment","verb":"remove","post_id":"1_2","comment_id":"2_3","created_time":1}},
        {"field":"feed","value":{"item":"post","verb":"add","post_id":"1_4","created_time":1}},
        {"field":"feed","value":{"item":"post","verb":"add","post_id":"1_4","created_time":1,"message":""}},
        {"field":"ratings","value":{"item":"rating"}}]},
      {"id":"1","time":1,"messaging":[{"message":{"text":"hi"}}]}]}"#;
    assert_eq!(p.push(only_noise.as_bytes(), &META, INGEST), Ok(0));
    let st = p.take_stats();
    assert_eq!(st.non_actionable_entries, 6);
    assert_eq!(st.records_by_format, [0, 0, 1, 0]);
    assert_eq!(st.rows, 0);

    let no_time = r#"{"object":"page","entry":[{"id":"1","changes":[
        {"field":"feed","value":{"item":"comment","verb":"add","message":"hello","post_id":"1_2","comment_id":"2_3"}},
        {"field":"feed","value":{"item":"like","verb":"add","post_id":"1_2"}}]}]}"#;
    let r = reject(&mut p, no_time.as_bytes());
    assert_eq!(
        r,
        Rejection {
            reason: DlqReason::MissingField,
            detail: "facebook: missing `created_time`".into()
        }
    );
    let no_id = r#"{"object":"page","entry":[{"changes":[{"field":"feed","value":{"item":"post","message":"m","created_time":5}}]}]}"#;
    assert_eq!(
        reject(&mut p, no_id.as_bytes()).detail,
        "facebook: missing `post_id`"
    );
    let bad_time = r#"{"object":"page","entry":[{"changes":[{"field":"feed","value":{"item":"post","message":"m","post_id":"1","created_time":"soon"}}]}]}"#;
    assert_eq!(
        reject(&mut p, bad_time.as_bytes()).detail,
        "facebook: invalid `created_time`"
    );
    assert_eq!(
        reject(&mut p, br#"{"object":"page","entry":{}}"#).detail,
        "facebook: `entry` has the wrong type"
    );
    assert_eq!(p.rows(), 0);

    // One good mention next to a malformed one: the good one is kept, the
    // malformed one is a counted drop.
    let mixed = r#"{"object":"page","entry":[{"changes":[
        {"field":"feed","value":{"item":"post","message":"good","post_id":"1_1","created_time":1795341600}},
        {"field":"feed","value":{"item":"post","message":"bad"}}]}]}"#;
    p.take_stats();
    assert_eq!(p.push(mixed.as_bytes(), &META, INGEST), Ok(1));
    assert_eq!(p.take_stats().non_actionable_entries, 1);

    let insta = br#"{"object":"instagram","entry":[]}"#;
    assert_eq!(reject(&mut p, insta).reason, DlqReason::UnknownFormat);
}

const ENVELOPE: &str = r#"{"id":"wf-2026-000123","channel":"web_form","created_at":"2026-11-22T10:15:30+00:00",
  "author":{"handle":"jane@example.com","id":"c-991","name":"Jane Doe","followers":0,"verified":false},
  "text":"My bill doubled &gt;:( please call me","in_reply_to":null,"lang":"en","url":"https://example.com/forms/123"}"#;

#[test]
fn envelope_full_and_minimal() {
    let mut p = parser();
    assert_eq!(p.push(ENVELOPE.as_bytes(), &META, INGEST), Ok(1));
    let minimal = r#"{"id":77,"channel":"sms","created_at":"2026-11-22T10:15:30Z","text":"no service","in_reply_to":"76"}"#;
    assert_eq!(p.push(minimal.as_bytes(), &META, INGEST), Ok(1));
    let b = p.finish();
    assert_eq!(s(&b, col::MENTION_ID, 0).as_deref(), Some("wf-2026-000123"));
    assert_eq!(s(&b, col::CHANNEL, 0).as_deref(), Some("web_form"));
    assert_eq!(s(&b, col::FORMAT, 0).as_deref(), Some("envelope"));
    assert_eq!(
        s(&b, col::AUTHOR_HANDLE, 0).as_deref(),
        Some("jane@example.com")
    );
    assert_eq!(s(&b, col::AUTHOR_ID, 0).as_deref(), Some("c-991"));
    assert_eq!(s(&b, col::AUTHOR_NAME, 0).as_deref(), Some("Jane Doe"));
    assert_eq!(i64v(&b, col::AUTHOR_FOLLOWERS, 0), Some(0));
    assert_eq!(boolv(&b, col::AUTHOR_VERIFIED, 0), Some(false));
    assert_eq!(i64v(&b, col::AUTHOR_STATUSES, 0), None);
    assert_eq!(
        s(&b, col::TEXT, 0).as_deref(),
        Some("My bill doubled >:( please call me")
    );
    assert_eq!(
        i64v(&b, col::EVENT_TIME, 0),
        Some(naive_ms(2026, 11, 22, 10, 15, 30))
    );
    assert_eq!(s(&b, col::IN_REPLY_TO, 0), None);
    assert_eq!(
        s(&b, col::URL, 0).as_deref(),
        Some("https://example.com/forms/123")
    );
    assert_eq!(s(&b, col::MENTION_ID, 1).as_deref(), Some("77"));
    assert_eq!(s(&b, col::CHANNEL, 1).as_deref(), Some("sms"));
    assert_eq!(s(&b, col::AUTHOR_HANDLE, 1), None);
    assert_eq!(s(&b, col::IN_REPLY_TO, 1).as_deref(), Some("76"));
    assert_eq!(s(&b, col::URL, 1), None);
    assert_eq!(p.take_stats().records_by_format, [0, 0, 0, 2]);

    let r = reject(&mut p, br#"{"id":"1","channel":"app_chat","text":"hi"}"#);
    assert_eq!(r.detail, "envelope: missing `created_at`");
    let r = reject(
        &mut p,
        br#"{"id":"1","author":{"handle":"x"},"text":"hi","created_at":"2026-11-22T10:15:30Z"}"#,
    );
    assert_eq!(r.detail, "envelope: missing `channel`");
    let r = reject(
        &mut p,
        br#"{"channel":"email","text":"hi","created_at":"2026-11-22T10:15:30Z"}"#,
    );
    assert_eq!(r.detail, "envelope: missing `id`");
    let r = reject(
        &mut p,
        br#"{"id":"1","channel":"email","created_at":"2026-11-22T10:15:30Z"}"#,
    );
    assert_eq!(r.detail, "envelope: missing `text`");
}

#[test]
fn every_dlq_reason() {
    let mut p = MentionParser::new(ParseConfig {
        max_record_bytes: 2048,
        ..ParseConfig::default()
    });
    let big = vec![b' '; 2049];
    let r = reject(&mut p, &big);
    assert_eq!(r.reason, DlqReason::TooLarge);
    assert_eq!(r.detail, "record is 2049 bytes, over the 2048-byte limit");
    // Exactly at the limit is fine (and here just not JSON).
    assert_eq!(reject(&mut p, &big[..2048]).reason, DlqReason::InvalidJson);

    for bad in [
        &b"{\"text\":\"caf\xe9\"}"[..],
        b"\xff\xfe{}",
        b"{\"a\":\"\xc3\"",
        b"{\"id\":\"1\",\"channel\":\"sms\xed\xa0\x80\"}",
    ] {
        let r = reject(&mut p, bad);
        assert_eq!(r.reason, DlqReason::InvalidUtf8, "{bad:?}");
        assert!(
            r.detail.starts_with("invalid UTF-8 at byte "),
            "{}",
            r.detail
        );
    }
    for bad in [
        &b""[..],
        b"   ",
        b"{",
        b"{\"a\":1",
        b"{\"a\" 1}",
        b"nul",
        b"{} {}",
        b"{\"a\":1,}",
        b"\"unterminated",
    ] {
        let r = reject(&mut p, bad);
        assert_eq!(
            r.reason,
            DlqReason::InvalidJson,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        assert!(r.detail.len() <= MAX_DETAIL);
    }
    for bad in [
        &b"[]"[..],
        b"[{\"id_str\":\"1\"}]",
        b"42",
        b"\"str\"",
        b"null",
        b"{}",
        b"{\"foo\":1}",
        b"{\"object\":\"page\"}",
    ] {
        let r = reject(&mut p, bad);
        let expected = if bad == b"{\"object\":\"page\"}" {
            DlqReason::MissingField
        } else {
            DlqReason::UnknownFormat
        };
        assert_eq!(r.reason, expected, "{:?}", String::from_utf8_lossy(bad));
    }
    let r = reject(&mut p, br#"{"id_str":"1","text":"hello"}"#);
    assert_eq!(
        r,
        Rejection {
            reason: DlqReason::MissingField,
            detail: "twitter_v1: missing `created_at`".into()
        }
    );
    let r = reject(
        &mut p,
        br#"{"id_str":"1","text":"hello","created_at":"2014-08-31T00:29:15Z"}"#,
    );
    assert_eq!(r.detail, "twitter_v1: invalid `created_at`");
    let r = reject(
        &mut p,
        br#"{"id_str":"1","created_at":"Sun Aug 31 00:29:15 +0000 2014"}"#,
    );
    assert_eq!(r.detail, "twitter_v1: missing `text`");
    let r = reject(
        &mut p,
        br#"{"user":{},"text":"x","created_at":"Sun Aug 31 00:29:15 +0000 2014"}"#,
    );
    assert_eq!(r.detail, "twitter_v1: missing `id_str`");
    let r = reject(
        &mut p,
        br#"{"id_str":1.5,"text":"x","created_at":"Sun Aug 31 00:29:15 +0000 2014"}"#,
    );
    assert_eq!(r.detail, "twitter_v1: `id_str` has the wrong type");
    let r = reject(&mut p, br#"{"statuses":[{"id_str":"1","text":"x"}]}"#);
    assert_eq!(r.detail, "twitter_v1: missing `created_at`");

    let st = p.take_stats();
    assert_eq!(st.rejected_by_reason, [10, 7, 7, 1, 4, 0]);
    assert_eq!(st.rows, 0);
    assert_eq!(st.records_by_format, [0; 4]);
    assert_eq!(p.rows(), 0);
    assert_eq!(p.finish().num_rows(), 0);
}

#[test]
fn rejection_leaves_no_partial_rows() {
    let mut p = parser();
    assert_eq!(p.push(V1.as_bytes(), &META, INGEST), Ok(1));
    assert_eq!(p.push(FB.as_bytes(), &META, INGEST), Ok(3));
    assert_eq!(p.rows(), 4);
    // Each of these fails after some fields were already read.
    let late_failures: [&[u8]; 5] = [
        br#"{"id_str":"9","text":"almost","user":{"screen_name":"x"},"created_at":"Sun Aug 31 99:29:15 +0000 2014"}"#,
        br#"{"data":[{"id":"1","text":"t","created_at":"bad"},{"id":"2","text":"t"}],"includes":{"users":[]}}"#,
        br#"{"object":"page","entry":[{"changes":[{"field":"feed","value":{"item":"post","message":"m","post_id":"1"}}]}]}"#,
        br#"{"id":"1","channel":"sms","text":"t","created_at":"2026-11-22T25:00:00Z"}"#,
        br#"{"id_str":"9","text":"x","created_at":"Sun Aug 31 00:29:15 +0000 2014","user":{"screen_name":"x"}"#,
    ];
    for bad in late_failures {
        assert!(
            p.push(bad, &META, INGEST).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(p.rows(), 4);
    }
    let b = p.finish();
    assert_eq!(b.num_rows(), 4);
    assert_eq!(
        s(&b, col::MENTION_ID, 0).as_deref(),
        Some("505874924095815681")
    );
    assert_eq!(s(&b, col::MENTION_ID, 3).as_deref(), Some("1234_556"));
    // The builders keep working, with the same schema, after finish.
    assert_eq!(p.push(V2.as_bytes(), &META, INGEST), Ok(1));
    let b = p.finish();
    assert_eq!(b.schema(), mention_schema());
    assert_eq!(b.num_rows(), 1);
    assert_eq!(p.finish().num_rows(), 0);
}

#[test]
fn scratch_buffers_survive_size_changes() {
    // A long record, then a short one: stale bytes past the short record's end
    // must not leak into its parse.
    let mut p = parser();
    let long = format!(
        r#"{{"id":"1","channel":"sms","created_at":"2026-11-22T10:15:30Z","text":"{}"}}"#,
        "x".repeat(5000)
    );
    assert_eq!(p.push(long.as_bytes(), &META, INGEST), Ok(1));
    assert_eq!(reject(&mut p, b"{\"a\":").reason, DlqReason::InvalidJson);
    assert_eq!(p.push(ENVELOPE.as_bytes(), &META, INGEST), Ok(1));
    let b = p.finish();
    assert_eq!(s(&b, col::TEXT, 0).unwrap().len(), 5000);
    assert_eq!(s(&b, col::MENTION_ID, 1).as_deref(), Some("wf-2026-000123"));
}

/// Field names the formats use, so generated JSON hits the format paths.
const KEYS: &[&str] = &[
    "id_str",
    "id",
    "created_at",
    "text",
    "full_text",
    "extended_tweet",
    "user",
    "screen_name",
    "retweeted_status",
    "in_reply_to_status_id_str",
    "lang",
    "place",
    "full_name",
    "retweet_count",
    "statuses",
    "data",
    "includes",
    "users",
    "username",
    "author_id",
    "public_metrics",
    "referenced_tweets",
    "type",
    "object",
    "entry",
    "changes",
    "field",
    "value",
    "item",
    "verb",
    "from",
    "message",
    "created_time",
    "post_id",
    "comment_id",
    "parent_id",
    "channel",
    "author",
    "handle",
    "followers",
    "verified",
    "in_reply_to",
    "url",
    "note_tweet",
];

const STRINGS: &[&str] = &[
    "page",
    "feed",
    "comment",
    "reaction",
    "remove",
    "replied_to",
    "retweeted",
    "Sun Aug 31 00:29:15 +0000 2014",
    "Sun Aug 31 24:29:15 +0000 2014",
    "2026-11-22T10:00:00Z",
    "2026-11-22T10:00:00+0000",
    "2026-02-30T10:00:00Z",
    "1795341600",
    "&amp;&lt;&#39;&#x1F621;&#99999999;&",
    "",
    "x",
    "sms",
    "💥",
];

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(Value::from),
        proptest::sample::select(STRINGS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..8).prop_map(
                |kv| serde_json::Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )
            ),
        ]
    })
}

/// Pushes every payload, checking that rows() grows by exactly the Ok count
/// and that finish() hands over exactly those rows.
fn check_accounting(payloads: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let mut p = MentionParser::new(ParseConfig {
        max_record_bytes: 4096,
        ..ParseConfig::default()
    });
    let mut expected = 0usize;
    let mut rejected = 0u64;
    let mut ok_rows = 0u64;
    for (i, payload) in payloads.iter().enumerate() {
        let before = p.rows();
        match p.push(payload, &META, INGEST) {
            Ok(n) => {
                prop_assert_eq!(p.rows(), before + n as usize);
                expected += n as usize;
                ok_rows += u64::from(n);
            }
            Err(r) => {
                prop_assert_eq!(p.rows(), before);
                prop_assert!(r.detail.len() <= MAX_DETAIL);
                rejected += 1;
            }
        }
        if i % 3 == 2 {
            let b = p.finish();
            prop_assert_eq!(b.num_rows(), expected);
            prop_assert_eq!(b.schema(), mention_schema());
            expected = 0;
        }
    }
    prop_assert_eq!(p.finish().num_rows(), expected);
    let st = p.take_stats();
    prop_assert_eq!(st.rows, ok_rows);
    prop_assert_eq!(st.rejected_by_reason.iter().sum::<u64>(), rejected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8)) {
        check_accounting(&payloads)?;
    }

    #[test]
    fn jsonish_strings_never_panic(payloads in proptest::collection::vec(r#"[{}\[\]":,0-9a-z_ .&;#\\\-+TZ]{0,200}"#, 1..8)) {
        let payloads: Vec<Vec<u8>> = payloads.into_iter().map(String::into_bytes).collect();
        check_accounting(&payloads)?;
    }

    #[test]
    fn generated_json_never_panics(values in proptest::collection::vec(arb_json(), 1..8)) {
        let payloads: Vec<Vec<u8>> = values.iter().map(|v| serde_json::to_vec(v).unwrap()).collect();
        check_accounting(&payloads)?;
    }

    #[test]
    fn mutated_valid_records_never_panic(which in 0usize..4, pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let base = [V1, V2, FB, ENVELOPE][which].as_bytes();
        let mut flipped = base.to_vec();
        flipped[pos.index(base.len())] = byte;
        let truncated = base[..cut.index(base.len())].to_vec();
        check_accounting(&[flipped, truncated, base.to_vec()])?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The inline entity decoder agrees with `html_escape` everywhere.
    #[test]
    fn entity_decoding_matches_html_escape(text in r"(&|;|#|x|amp|lt|gt|quot|apos|39|128512|1F600|nbsp|copy|a|é| |\u{1F621})*") {
        let mut out = String::new();
        let mut scratch = String::new();
        builder::write_decoded(&mut out, &text, &mut scratch);
        prop_assert_eq!(out, html_escape::decode_html_entities(&text).into_owned());
    }
}

/// Issue 27: absurd event times go to the DLQ as `bad_timestamp` (they
/// used to be accepted and poison every watermark downstream).
#[test]
fn event_times_outside_the_bounds_are_bad_timestamps() {
    let env = |at: &str| {
        format!(r#"{{"id":"x","channel":"sms","created_at":"{at}","text":"no service"}}"#)
    };
    let fb = |t: &str| {
        format!(
            r#"{{"object":"page","entry":[{{"id":"1","time":1,"changes":[{{"field":"feed","value":{{"item":"status","verb":"add","from":{{"id":"9","name":"A"}},"message":"down","created_time":{t},"post_id":"1_2"}}}}]}}]}}"#
        )
    };
    let now = 1_795_341_600_000; // 2026-11-22T10:00:00Z
    let mut p = parser();
    p.set_clock(now);
    for bad in [
        env("0000-01-01T00:00:00Z"),
        env("2005-12-31T23:59:59Z"),
        env("9999-12-31T23:59:59Z"),
        env("2026-11-23T10:00:00.001Z"), // one day and 1 ms ahead
        fb(r#""999999999999""#),         // year 33658
        fb("253402300800"),              // 10000-01-01
        fb(r#""0000-01-01T00:00:00+0000""#),
    ] {
        let r = reject(&mut p, bad.as_bytes());
        assert_eq!(r.reason, DlqReason::BadTimestamp, "{bad}");
        assert!(
            r.detail.contains("outside the accepted event times"),
            "{}",
            r.detail
        );
    }
    for good in [
        env("2006-01-01T00:00:00Z"),
        env("2026-11-23T10:00:00Z"), // exactly one day ahead
        fb("1795341600"),
    ] {
        assert_eq!(p.push(good.as_bytes(), &META, INGEST), Ok(1), "{good}");
    }
    assert_eq!(p.finish().num_rows(), 3);
    assert_eq!(p.take_stats().rejected_by_reason[5], 7);

    // Without a clock only years past 9999 are refused at the top.
    let mut p = parser();
    assert_eq!(
        p.push(env("9999-12-31T23:59:59Z").as_bytes(), &META, INGEST),
        Ok(1)
    );
    assert_eq!(
        reject(&mut p, fb("253402300800").as_bytes()).reason,
        DlqReason::BadTimestamp
    );

    // A webhook entry out of bounds next to a good one is a counted drop.
    let two = FB.replace(
        r#""created_time":1795341600"#,
        r#""created_time":999999999999"#,
    );
    let mut p = parser();
    p.set_clock(now);
    assert_eq!(p.push(two.as_bytes(), &META, INGEST), Ok(2));
    assert_eq!(p.take_stats().non_actionable_entries, 2);
}

/// Kafka records are whole records: CR line endings inside or after one
/// are JSON whitespace, not a record boundary (issue 27, CR-only files).
#[test]
fn carriage_returns_are_whitespace_in_a_record() {
    let mut p = parser();
    let rec = ENVELOPE.replace('\n', "\r");
    assert_eq!(p.push(format!("{rec}\r").as_bytes(), &META, INGEST), Ok(1));
    assert_eq!(
        p.push(format!("\r{rec}\r\n").as_bytes(), &META, INGEST),
        Ok(1)
    );
}
