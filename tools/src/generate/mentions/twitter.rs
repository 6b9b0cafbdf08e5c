//! Twitter's wire objects: the v1.1 status (user, entities, retweets and
//! quotes) and the v2 response.

use crate::generate::enc::{
    below, mix, push_i64, push_json_str, push_json_str_ascii, push_rfc3339_ms, push_twitter_time,
    push_u64, Rng,
};

use super::{Author, Ent, Gen, Omit, V1};
use crate::generate::crm::{self};
use crate::generate::text::{self, BRAND_HELP, BRAND_MAIN};

const BRAND_HELP_ID: u64 = 2_738_401_920;
const BRAND_MAIN_ID: u64 = 19_283_746;
static SOURCES: [&str; 4] = [
    "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
    "<a href=\"http://twitter.com/download/android\" rel=\"nofollow\">Twitter for Android</a>",
    "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
    "<a href=\"https://tweetdeck.twitter.com\" rel=\"nofollow\">TweetDeck</a>",
];
static BOT_SOURCE: &str = "<a href=\"https://ifttt.com\" rel=\"nofollow\">IFTTT</a>";

fn scan_entities(text: &str, out: &mut Vec<(Ent, usize, usize, usize, usize)>) {
    out.clear();
    let bytes = text.as_bytes();
    let mut chars = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let kind = if (b == b'@' || b == b'#') && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            Some(if b == b'@' {
                Ent::Mention
            } else {
                Ent::Hashtag
            })
        } else if bytes[i..].starts_with(b"https://t.co/") {
            Some(Ent::Url)
        } else {
            None
        };
        if let Some(kind) = kind {
            let start = i;
            let mut j = if matches!(kind, Ent::Url) {
                i + 13
            } else {
                i + 1
            };
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j > start + 1 {
                out.push((kind, chars, chars + (j - start), start, j));
                chars += j - start;
                i = j;
                continue;
            }
        }
        if (b & 0xC0) != 0x80 {
            chars += 1;
        }
        i += 1;
    }
}

impl Gen {
    /// Writes the `user` object of a v1.1 status.
    pub(super) fn write_v1_user(&mut self, buf: &mut String, a: &Author, ascii: bool) {
        let s = |buf: &mut String, v: &str| {
            if ascii {
                push_json_str_ascii(buf, v)
            } else {
                push_json_str(buf, v)
            }
        };
        buf.push_str("{\"id\":");
        push_u64(buf, a.user_id);
        buf.push_str(",\"id_str\":\"");
        push_u64(buf, a.user_id);
        buf.push_str("\",\"name\":");
        s(buf, &a.name);
        buf.push_str(",\"screen_name\":");
        s(buf, &a.handle);
        buf.push_str(",\"location\":");
        if a.bot || self.rng.chance(0.3) {
            buf.push_str("\"\"");
        } else {
            buf.push('"');
            buf.push_str(a.town);
            buf.push_str(", UK\"");
        }
        buf.push_str(",\"description\":");
        s(buf, a.bio);
        buf.push_str(",\"followers_count\":");
        push_u64(buf, a.followers);
        buf.push_str(",\"friends_count\":");
        push_u64(buf, a.friends);
        buf.push_str(",\"created_at\":\"");
        push_twitter_time(buf, a.created_ms);
        buf.push_str("\",\"favourites_count\":");
        push_u64(buf, a.statuses / 3);
        buf.push_str(",\"verified\":");
        buf.push_str(if a.verified { "true" } else { "false" });
        buf.push_str(",\"statuses_count\":");
        push_u64(buf, a.statuses);
        buf.push_str(",\"default_profile_image\":");
        buf.push_str(if a.bot { "true" } else { "false" });
        buf.push('}');
    }

    pub(super) fn write_v1_entities(&mut self, buf: &mut String, text: &str) {
        let mut ents = std::mem::take(&mut self.ents);
        scan_entities(text, &mut ents);
        let group = |buf: &mut String, name: &str, want: fn(&Ent) -> bool, rng: &mut Rng| {
            buf.push('"');
            buf.push_str(name);
            buf.push_str("\":[");
            let mut first = true;
            for (k, cs, ce, bs, be) in ents.iter().filter(|e| want(&e.0)) {
                if !first {
                    buf.push(',');
                }
                first = false;
                let tok = &text[*bs..*be];
                match k {
                    Ent::Mention => {
                        let sn = &tok[1..];
                        buf.push_str("{\"screen_name\":");
                        push_json_str(buf, sn);
                        buf.push_str(",\"name\":");
                        push_json_str(buf, sn);
                        let id = if sn == BRAND_HELP {
                            BRAND_HELP_ID
                        } else if sn == BRAND_MAIN {
                            BRAND_MAIN_ID
                        } else {
                            mix(sn.len() as u64 ^ sn.as_bytes()[0] as u64) % 4_000_000_000
                        };
                        buf.push_str(",\"id\":");
                        push_u64(buf, id);
                        buf.push_str(",\"id_str\":\"");
                        push_u64(buf, id);
                        buf.push('"');
                    }
                    Ent::Hashtag => {
                        buf.push_str("{\"text\":");
                        push_json_str(buf, &tok[1..]);
                    }
                    Ent::Url => {
                        buf.push_str("{\"url\":");
                        push_json_str(buf, tok);
                        buf.push_str(",\"expanded_url\":\"https://bit.ly/");
                        push_u64(buf, rng.u64() % 1_000_000_000);
                        buf.push_str("\",\"display_url\":\"bit.ly/\u{2026}\"");
                    }
                }
                buf.push_str(",\"indices\":[");
                push_u64(buf, *cs as u64);
                buf.push(',');
                push_u64(buf, *ce as u64);
                buf.push_str("]}");
            }
            buf.push(']');
        };
        buf.push('{');
        group(
            buf,
            "hashtags",
            |e| matches!(e, Ent::Hashtag),
            &mut self.rng,
        );
        buf.push_str(",\"symbols\":[],");
        group(
            buf,
            "user_mentions",
            |e| matches!(e, Ent::Mention),
            &mut self.rng,
        );
        buf.push(',');
        group(buf, "urls", |e| matches!(e, Ent::Url), &mut self.rng);
        buf.push('}');
        self.ents = ents;
    }

    /// Writes a v1.1 status (optionally retweeting `orig`).
    pub(super) fn write_v1(
        &mut self,
        buf: &mut String,
        tmp: &mut String,
        s: V1<'_>,
        orig: Option<V1<'_>>,
    ) {
        let ascii = self.rng.chance(0.4);
        self.write_v1_status(buf, tmp, &s, orig.as_ref(), ascii);
    }

    pub(super) fn write_v1_status(
        &mut self,
        buf: &mut String,
        tmp: &mut String,
        s: &V1<'_>,
        orig: Option<&V1<'_>>,
        ascii: bool,
    ) {
        let a = s.author;
        tmp.clear();
        text::push_html_escaped(tmp, s.text);
        buf.push('{');
        if s.omit != Omit::CreatedAt {
            buf.push_str("\"created_at\":\"");
            push_twitter_time(buf, s.t);
            buf.push_str("\",");
        }
        buf.push_str("\"id\":");
        push_u64(buf, s.id);
        buf.push_str(",\"id_str\":\"");
        push_u64(buf, s.id);
        buf.push('"');
        self.write_v1_text(buf, tmp, s, orig.is_none(), ascii);
        buf.push_str(",\"source\":");
        push_json_str(
            buf,
            if a.bot {
                BOT_SOURCE
            } else {
                SOURCES[below(a.user_id, SOURCES.len())]
            },
        );
        push_v1_reply(buf, s.reply_to);
        buf.push_str(",\"user\":");
        self.write_v1_user(buf, a, ascii);
        buf.push_str(",\"geo\":null,\"coordinates\":null,\"place\":");
        self.write_v1_place(buf, a);
        if let Some(o) = orig {
            buf.push_str(",\"retweeted_status\":");
            let mut inner_tmp = String::with_capacity(256);
            self.write_v1_status(buf, &mut inner_tmp, o, None, ascii);
        }
        buf.push_str(",\"retweet_count\":");
        let rts = if orig.is_some() {
            self.rng.range(1, 400)
        } else if self.rng.chance(0.1) {
            self.rng.range(1, 50)
        } else {
            0
        };
        push_u64(buf, rts);
        buf.push_str(",\"favorite_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.2) {
                self.rng.range(1, 80)
            } else {
                0
            },
        );
        buf.push_str(",\"entities\":");
        self.write_v1_entities(buf, s.text);
        buf.push_str(",\"favorited\":false,\"retweeted\":false,\"lang\":\"");
        buf.push_str(s.lang);
        if s.omit == Omit::CreatedAt {
            buf.push_str("\"}");
        } else {
            buf.push_str("\",\"timestamp_ms\":\"");
            push_i64(buf, s.t);
            buf.push_str("\"}");
        }
    }

    /// The text fields of a v1.1 status: `text` (a 140-character cut with
    /// `extended_tweet` for long texts, half of the time), `full_text`
    /// (`tweet_mode=extended`) or none (`omit`). `standalone`: not a
    /// retweet. `tmp` holds the HTML-escaped text.
    fn write_v1_text(
        &mut self,
        buf: &mut String,
        tmp: &str,
        s: &V1<'_>,
        standalone: bool,
        ascii: bool,
    ) {
        let jstr = |buf: &mut String, v: &str| {
            if ascii {
                push_json_str_ascii(buf, v)
            } else {
                push_json_str(buf, v)
            }
        };
        let chars = s.text.chars().count();
        let mode = self.rng.below(100);
        if s.omit != Omit::Text {
            if chars > 140 && mode < 50 && standalone {
                // classic 140-char payload with the full text in extended_tweet
                let cut = s
                    .text
                    .char_indices()
                    .nth(113)
                    .map(|(b, _)| b)
                    .unwrap_or(s.text.len());
                let mut short = String::with_capacity(cut + 40);
                text::push_html_escaped(&mut short, &s.text[..cut]);
                short.push_str("\u{2026} ");
                text::push_link(&mut short, &mut self.rng);
                buf.push_str(",\"text\":");
                jstr(buf, &short);
                buf.push_str(",\"truncated\":true,\"extended_tweet\":{\"full_text\":");
                jstr(buf, tmp);
                buf.push_str(",\"display_text_range\":[0,");
                push_u64(buf, chars as u64);
                buf.push_str("],\"entities\":");
                self.write_v1_entities(buf, s.text);
                buf.push('}');
            } else if mode < 15 && standalone {
                // tweet_mode=extended
                buf.push_str(",\"full_text\":");
                jstr(buf, tmp);
                buf.push_str(",\"truncated\":false,\"display_text_range\":[0,");
                push_u64(buf, chars as u64);
                buf.push(']');
            } else {
                buf.push_str(",\"text\":");
                jstr(buf, tmp);
                buf.push_str(",\"truncated\":false");
            }
        } else {
            buf.push_str(",\"truncated\":false");
        }
    }

    /// The `place` of a v1.1 status: the author's town for some of them.
    fn write_v1_place(&mut self, buf: &mut String, a: &Author) {
        if !a.bot && self.rng.chance(0.12) {
            let pid =
                mix(a.town.len() as u64 ^ ((a.town.as_bytes()[0] as u64) * 131) ^ a.region as u64);
            buf.push_str("{\"id\":\"");
            for shift in (0..64).step_by(4).rev() {
                buf.push(b"0123456789abcdef"[((pid >> shift) & 0xF) as usize] as char);
            }
            buf.push_str("\",\"place_type\":\"city\",\"name\":");
            push_json_str(buf, a.town);
            buf.push_str(",\"full_name\":\"");
            buf.push_str(a.town);
            buf.push_str(", ");
            buf.push_str(match crm::REGIONS[a.region] {
                "scotland" => "Scotland",
                "wales" => "Wales",
                "northern_ireland" => "Northern Ireland",
                "london" => "London",
                _ => "England",
            });
            buf.push_str("\",\"country_code\":\"GB\",\"country\":\"United Kingdom\"}");
        } else {
            buf.push_str("null");
        }
    }

    /// The `entities` of a v2 tweet: mentions, hashtags, urls.
    fn write_v2_entities(&mut self, buf: &mut String, text: &str) {
        let mut ents = std::mem::take(&mut self.ents);
        scan_entities(text, &mut ents);
        let mut first_group = true;
        for (name, want) in [("mentions", 0u8), ("hashtags", 1), ("urls", 2)] {
            let items: Vec<_> = ents
                .iter()
                .filter(|e| {
                    matches!(
                        (want, e.0),
                        (0, Ent::Mention) | (1, Ent::Hashtag) | (2, Ent::Url)
                    )
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            if !first_group {
                buf.push(',');
            }
            first_group = false;
            buf.push('"');
            buf.push_str(name);
            buf.push_str("\":[");
            for (k, e) in items.iter().enumerate() {
                if k > 0 {
                    buf.push(',');
                }
                buf.push_str("{\"start\":");
                push_u64(buf, e.1 as u64);
                buf.push_str(",\"end\":");
                push_u64(buf, e.2 as u64);
                let tok = &text[e.3..e.4];
                match e.0 {
                    Ent::Mention => {
                        buf.push_str(",\"username\":");
                        push_json_str(buf, &tok[1..]);
                    }
                    Ent::Hashtag => {
                        buf.push_str(",\"tag\":");
                        push_json_str(buf, &tok[1..]);
                    }
                    Ent::Url => {
                        buf.push_str(",\"url\":");
                        push_json_str(buf, tok);
                    }
                }
                buf.push('}');
            }
            buf.push(']');
        }
        self.ents = ents;
    }

    /// Writes a v2 filtered-stream response.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_v2(
        &mut self,
        buf: &mut String,
        tmp: &mut String,
        t: i64,
        id: u64,
        a: &Author,
        text: &str,
        lang: &str,
        reply_to: Option<u64>,
        omit: Omit,
    ) {
        tmp.clear();
        text::push_html_escaped(tmp, text);
        buf.push_str("{\"data\":{\"id\":\"");
        push_u64(buf, id);
        buf.push('"');
        if omit != Omit::Text {
            buf.push_str(",\"text\":");
            push_json_str(buf, tmp);
        }
        buf.push_str(",\"author_id\":\"");
        push_u64(buf, a.user_id);
        buf.push('"');
        if omit != Omit::CreatedAt {
            buf.push_str(",\"created_at\":\"");
            push_rfc3339_ms(buf, t);
            buf.push('"');
        }
        buf.push_str(",\"lang\":\"");
        buf.push_str(lang);
        buf.push_str("\",\"conversation_id\":\"");
        push_u64(buf, reply_to.unwrap_or(id));
        buf.push('"');
        if let Some(r) = reply_to {
            buf.push_str(",\"in_reply_to_user_id\":\"");
            push_u64(buf, BRAND_HELP_ID);
            buf.push_str("\",\"referenced_tweets\":[{\"type\":\"replied_to\",\"id\":\"");
            push_u64(buf, r);
            buf.push_str("\"}]");
        }
        buf.push_str(",\"edit_history_tweet_ids\":[\"");
        push_u64(buf, id);
        buf.push_str("\"],\"public_metrics\":{\"retweet_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.1) {
                self.rng.range(1, 40)
            } else {
                0
            },
        );
        buf.push_str(",\"reply_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.2) {
                self.rng.range(1, 10)
            } else {
                0
            },
        );
        buf.push_str(",\"like_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.3) {
                self.rng.range(1, 90)
            } else {
                0
            },
        );
        buf.push_str(",\"quote_count\":0,\"bookmark_count\":0,\"impression_count\":");
        push_u64(buf, self.rng.range(3, 5_000));
        buf.push_str("},\"entities\":{");
        self.write_v2_entities(buf, text);
        buf.push_str("}},\"includes\":{\"users\":[{\"id\":\"");
        push_u64(buf, a.user_id);
        buf.push_str("\",\"name\":");
        push_json_str(buf, &a.name);
        buf.push_str(",\"username\":");
        push_json_str(buf, &a.handle);
        buf.push_str(",\"created_at\":\"");
        push_rfc3339_ms(buf, a.created_ms);
        buf.push_str("\",\"verified\":");
        buf.push_str(if a.verified { "true" } else { "false" });
        buf.push_str(",\"public_metrics\":{\"followers_count\":");
        push_u64(buf, a.followers);
        buf.push_str(",\"following_count\":");
        push_u64(buf, a.friends);
        buf.push_str(",\"tweet_count\":");
        push_u64(buf, a.statuses);
        buf.push_str(",\"listed_count\":0}}]},\"matching_rules\":[{\"id\":\"1720000000000000001\",\"tag\":\"brand-mentions\"}]}");
    }
}

/// The reply fields of a v1.1 status: to the brand's help account, or null.
fn push_v1_reply(buf: &mut String, reply_to: Option<u64>) {
    match reply_to {
        Some(r) => {
            buf.push_str(",\"in_reply_to_status_id\":");
            push_u64(buf, r);
            buf.push_str(",\"in_reply_to_status_id_str\":\"");
            push_u64(buf, r);
            buf.push_str("\",\"in_reply_to_user_id\":");
            push_u64(buf, BRAND_HELP_ID);
            buf.push_str(",\"in_reply_to_user_id_str\":\"");
            push_u64(buf, BRAND_HELP_ID);
            buf.push_str("\",\"in_reply_to_screen_name\":\"");
            buf.push_str(BRAND_HELP);
            buf.push('"');
        }
        None => buf.push_str(
            ",\"in_reply_to_status_id\":null,\"in_reply_to_status_id_str\":null,\"in_reply_to_user_id\":null,\"in_reply_to_user_id_str\":null,\"in_reply_to_screen_name\":null",
        ),
    }
}
