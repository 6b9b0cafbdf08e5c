//! Shared bench fixtures.

use simd_json::prelude::*;

/// The real Twitter v1.1 search sample shipped beside the repository.
pub const TWITTER_SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/twitter-v1.1-search-sample.json"
);

/// The 100 statuses of the real Twitter v1.1 sample, one JSON record each.
pub fn twitter_sample_statuses() -> Vec<Vec<u8>> {
    let mut raw =
        std::fs::read(TWITTER_SAMPLE).unwrap_or_else(|e| panic!("reading {TWITTER_SAMPLE}: {e}"));
    let doc = simd_json::to_owned_value(&mut raw).expect("the Twitter sample is valid JSON");
    let statuses = doc
        .get_array("statuses")
        .expect("the Twitter sample has `statuses`");
    statuses.iter().map(|s| s.encode().into_bytes()).collect()
}

/// A small deterministic generator (xorshift64*), so the corpus is the same
/// on every run (shared by the benches).
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// An index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const COMPLAINTS: &[&str] = &[
    "my broadband has been down since 9am and nobody at the support line picks up, this is the third time this week",
    "been charged twice for October &amp; the app still says my account is in arrears, can someone sort this out please",
    "engineer was booked for 8-1 today, waited in all morning &amp; no show, no call, nothing. Absolutely fuming",
    "no signal at all in the whole of LS6 since last night, is there an outage? Can't even call 999 &gt;:(",
    "thanks to the lovely lady on the phone who fixed my router settings in five minutes, great service for once",
    "trying to cancel my contract before I move house but the online form keeps erroring out, please advise",
    "can't log in to my account, password reset email never arrives and chat says &quot;try again later&quot;",
    "parcel with the new hub was marked delivered but it never arrived, the local office says it's not their problem",
    "if this isn't fixed by Friday I'm taking it to the ombudsman, six weeks of dropouts &amp; 4 engineer visits",
    "speeds dropped to 2Mbps every evening for a fortnight now, paying for 500. What's going on?",
];

const NAMES: &[&str] = &[
    "Jane Doe",
    "Sam Patel",
    "Chris O'Neill",
    "Aisha Khan",
    "Tom Brown",
    "Zoë Müller",
    "Li Wei",
    "Maria Garcia",
];
const HANDLES: &[&str] = &[
    "janedoe",
    "sampatel88",
    "chris_oneill",
    "aisha_k",
    "tombrown",
    "zoe_m",
    "liwei",
    "mgarcia",
];
const PLACES: &[&str] = &[
    "Leeds, England",
    "Manchester, England",
    "Cardiff, Wales",
    "Glasgow, Scotland",
];
const CHANNELS: &[&str] = &["web_form", "app_chat", "email", "sms", "instagram"];

/// `Sun Aug 31 00:29:15 +0000 2014`-style date for day `d`, second `s` of Nov 2026.
fn twitter_date(rng: &mut Rng) -> String {
    const DOW: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let d = 1 + rng.below(28);
    // 2026-11-01 is a Sunday.
    format!(
        "{} Nov {:02} {:02}:{:02}:{:02} +0000 2026",
        DOW[((d - 1) % 7) as usize],
        d,
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

fn rfc3339(rng: &mut Rng) -> String {
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    )
}

fn twitter_v1(rng: &mut Rng, i: u64) -> String {
    let id = 1_460_000_000_000_000_000u64 + i * 7919;
    let who = rng.below(HANDLES.len() as u64) as usize;
    let place = if rng.below(4) == 0 {
        format!(
            r#"{{"full_name":"{}","country_code":"GB"}}"#,
            rng.pick(PLACES)
        )
    } else {
        "null".into()
    };
    let reply = if rng.below(3) == 0 {
        format!(r#""{}""#, id - 1000)
    } else {
        "null".into()
    };
    format!(
        r#"{{"created_at":"{date}","id":{id},"id_str":"{id}","text":"@TelcoCare {text}","truncated":false,"in_reply_to_status_id_str":{reply},"user":{{"id":{uid},"id_str":"{uid}","name":"{name}","screen_name":"{handle}","location":"UK","followers_count":{followers},"verified":false,"statuses_count":{statuses},"created_at":"{ucreated}"}},"place":{place},"retweet_count":{rts},"favorite_count":0,"lang":"en"}}"#,
        date = twitter_date(rng),
        text = rng.pick(COMPLAINTS),
        uid = 10_000 + who as u64 * 37,
        name = NAMES[who],
        handle = HANDLES[who],
        followers = rng.below(5000),
        statuses = rng.below(20000),
        ucreated = twitter_date(rng),
        rts = rng.below(10),
    )
}

fn twitter_v2(rng: &mut Rng, i: u64) -> String {
    let id = 1_560_000_000_000_000_000u64 + i * 104_729;
    let who = rng.below(HANDLES.len() as u64) as usize;
    let uid = 20_000 + who as u64 * 41;
    format!(
        r#"{{"data":{{"id":"{id}","text":"@TelcoCare {text}","author_id":"{uid}","created_at":"{created}","lang":"en","public_metrics":{{"retweet_count":{rts},"reply_count":0,"like_count":{likes},"quote_count":0}}}},"includes":{{"users":[{{"id":"{uid}","username":"{handle}","name":"{name}","verified":false,"created_at":"{ucreated}","public_metrics":{{"followers_count":{followers},"following_count":12,"tweet_count":{tweets}}}}}]}}}}"#,
        text = rng.pick(COMPLAINTS),
        created = rfc3339(rng),
        rts = rng.below(10),
        likes = rng.below(50),
        handle = HANDLES[who],
        name = NAMES[who],
        ucreated = rfc3339(rng),
        followers = rng.below(5000),
        tweets = rng.below(20000),
    )
}

fn facebook(rng: &mut Rng, i: u64) -> String {
    let page = 104_000_000 + rng.below(3);
    let post = 5_000 + i;
    let who = rng.below(NAMES.len() as u64) as usize;
    let time = 1_795_000_000 + rng.below(2_000_000);
    format!(
        r#"{{"object":"page","entry":[{{"id":"{page}","time":{time},"changes":[{{"field":"feed","value":{{"item":"comment","verb":"add","from":{{"id":"{psid}","name":"{name}"}},"message":"{text}","created_time":{time},"post_id":"{page}_{post}","comment_id":"{post}_{comment}","parent_id":"{page}_{post}"}}}}]}}]}}"#,
        psid = 7_000_000_000u64 + who as u64,
        name = NAMES[who],
        text = rng.pick(COMPLAINTS),
        comment = 90_000 + i,
    )
}

fn envelope(rng: &mut Rng, i: u64) -> String {
    let who = rng.below(NAMES.len() as u64) as usize;
    let channel = rng.pick(CHANNELS);
    let handle = match channel {
        "sms" => format!("+4477009{:05}", who * 311),
        "email" | "web_form" => format!("{}@example.com", HANDLES[who]),
        _ => HANDLES[who].to_string(),
    };
    format!(
        r#"{{"id":"{channel}-{i:08}","channel":"{channel}","created_at":"{created}","author":{{"handle":"{handle}","id":"c-{cid}","name":"{name}","followers":null,"verified":null}},"text":"{text}","in_reply_to":null,"lang":"en","url":"https://care.example.com/{channel}/{i}"}}"#,
        created = rfc3339(rng),
        cid = 100_000 + who,
        name = NAMES[who],
        text = rng.pick(COMPLAINTS),
    )
}

/// Synthetic records: 100 of each format, typically 450–800 bytes.
pub fn synthetic_mentions() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5EED_5EED_1234_5678);
    let mut out = Vec::with_capacity(400);
    for i in 0..100 {
        out.push(twitter_v1(&mut rng, i).into_bytes());
        out.push(twitter_v2(&mut rng, i).into_bytes());
        out.push(facebook(&mut rng, i).into_bytes());
        out.push(envelope(&mut rng, i).into_bytes());
    }
    out
}

/// The parse-bench corpus: the 100 real statuses of the Twitter v1.1 sample
/// followed by 400 synthetic records covering the four formats. Every record
/// parses to exactly one mention.
pub fn mention_corpus() -> Vec<Vec<u8>> {
    let mut corpus = twitter_sample_statuses();
    corpus.extend(synthetic_mentions());
    corpus
}
