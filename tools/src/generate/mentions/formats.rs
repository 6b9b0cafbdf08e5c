//! The valid records: tweets (v1.1 status, v2 response), Facebook page
//! webhooks, canonical envelopes.

use crate::generate::enc::{
    mix, push_i64, push_json_str, push_rfc3339_ms, push_rfc3339_offset, push_rfc3339_s, push_u64,
};

use super::{Author, Channel, Expect, MentionGenerator, Omit, V1};
use crate::generate::crm::IdentityKind;
use crate::generate::text::Topic;

const PAGE_ID: &str = "104563829470211";

impl MentionGenerator {
    /// A tweet (v1.1 status or v2 response) into `self.buf`; returns the key.
    pub(super) fn twitter(&mut self, t: i64, v2: bool, omit: Omit) -> (Option<String>, Expect) {
        let g = &mut self.g;
        let (topic, author) = g.topic_and_author(IdentityKind::Twitter);
        let lang = g.compose(&mut self.text, topic, &author, Channel::Twitter);
        let id = g.tweet_id(t);
        let reply_to = if !author.bot && g.rng.chance(0.25) {
            let back = g.rng.range(60_000, 6 * 3_600_000) as i64;
            Some(g.tweet_id(t - back))
        } else {
            None
        };
        if v2 {
            g.write_v2(
                &mut self.buf,
                &mut self.tmp,
                t,
                id,
                &author,
                &self.text,
                lang,
                reply_to,
                omit,
            );
            (
                Some(author.handle),
                Expect::Mentions {
                    format: "twitter_v2",
                    rows: 1,
                },
            )
        } else {
            let retweet = !author.bot && omit == Omit::None && g.rng.chance(0.05);
            if retweet {
                // Retweet of another author's complaint.
                let u = g.rng.u64() % g.unknown_pool;
                let orig = g.unknown_author(IdentityKind::Twitter, u, t);
                let mut rt = String::with_capacity(self.text.len() + 24);
                rt.push_str("RT @");
                rt.push_str(&orig.handle);
                rt.push_str(": ");
                rt.push_str(&self.text);
                let orig_t = t - g.rng.range(10_000, 3_600_000) as i64;
                let orig_id = g.tweet_id(orig_t);
                let orig_text = std::mem::replace(&mut self.text, rt);
                g.write_v1(
                    &mut self.buf,
                    &mut self.tmp,
                    V1 {
                        t,
                        id,
                        author: &author,
                        text: &self.text,
                        lang,
                        reply_to: None,
                        omit,
                    },
                    Some(V1 {
                        t: orig_t,
                        id: orig_id,
                        author: &orig,
                        text: &orig_text,
                        lang,
                        reply_to: None,
                        omit,
                    }),
                );
            } else {
                g.write_v1(
                    &mut self.buf,
                    &mut self.tmp,
                    V1 {
                        t,
                        id,
                        author: &author,
                        text: &self.text,
                        lang,
                        reply_to,
                        omit,
                    },
                    None,
                );
            }
            (
                Some(author.handle),
                Expect::Mentions {
                    format: "twitter_v1",
                    rows: 1,
                },
            )
        }
    }

    /// A Facebook page webhook with 1–3 comments/posts, sometimes with
    /// reactions, sometimes reactions only.
    pub(super) fn facebook(&mut self, t: i64) -> (Option<String>, Expect) {
        let g = &mut self.g;
        let reactions_only = g.rng.chance(0.08);
        let mentions = if reactions_only {
            0
        } else {
            [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][g.rng.below(10)]
        };
        let reactions = if reactions_only {
            g.rng.range(1, 3) as u32
        } else if g.rng.chance(0.1) {
            1
        } else {
            0
        };
        let buf = &mut self.buf;
        buf.push_str("{\"object\":\"page\",\"entry\":[{\"id\":\"");
        buf.push_str(PAGE_ID);
        buf.push_str("\",\"time\":");
        push_i64(buf, t / 1000 + g.rng.range(0, 3) as i64);
        buf.push_str(",\"changes\":[");
        let mut key = None;
        let total = mentions + reactions;
        let mut reaction_slots = reactions;
        let mut first = true;
        let mut first_author: Option<(Topic, Author)> = None;
        for k in 0..total {
            let is_reaction =
                reaction_slots > 0 && (total - k == reaction_slots || g.rng.chance(0.5));
            if is_reaction {
                reaction_slots -= 1;
            }
            if !first {
                buf.push(',');
            }
            first = false;
            let ct = t - if k == 0 {
                0
            } else {
                g.rng.range(0, 120_000) as i64
            };
            let post_num = 700_000_000_000_000
                + mix(g.cfg.seed ^ (ct as u64 / 3_600_000)) % 100_000_000_000_000;
            if is_reaction {
                let a = g.any_author(IdentityKind::Facebook, ct);
                let kind = ["like", "love", "angry", "haha", "sad"][g.rng.below(5)];
                push_fb_reaction(buf, &a, post_num, ct, kind);
                continue;
            }
            let (topic, a) = match &first_author {
                Some(x) if g.cfg.single_author_records => x.clone(),
                _ => g.topic_and_author(IdentityKind::Facebook),
            };
            if first_author.is_none() {
                first_author = Some((topic, a.clone()));
            }
            let _lang = g.compose(&mut self.text, topic, &a, Channel::Facebook);
            if key.is_none() {
                key = Some(a.handle.clone());
            }
            let visitor_post = g.rng.chance(0.2);
            let own = 100_000_000_000_000
                + mix(g.cfg.seed ^ g.n ^ ((k as u64) << 56)) % 900_000_000_000_000;
            push_fb_feed_item(buf, &a, &self.text, ct, post_num, own, visitor_post);
        }
        buf.push_str("]}]}");
        if reactions_only {
            (None, Expect::NonActionable)
        } else {
            (
                key,
                Expect::Mentions {
                    format: "facebook",
                    rows: mentions,
                },
            )
        }
    }

    /// A canonical envelope (web form, app chat, e-mail, SMS). `big_text`
    /// replaces the composed text (used for `too_large`).
    pub(super) fn envelope(
        &mut self,
        t: i64,
        omit: Omit,
        big_text: Option<&str>,
    ) -> (Option<String>, Expect) {
        let g = &mut self.g;
        let channel = [
            Channel::WebForm,
            Channel::AppChat,
            Channel::Email,
            Channel::Sms,
        ][g.rng.weighted(&[40, 30, 20, 10])];
        let kind = match channel {
            Channel::Sms => IdentityKind::Phone,
            Channel::Email => IdentityKind::Email,
            Channel::WebForm => {
                if g.rng.chance(0.7) {
                    IdentityKind::Email
                } else {
                    IdentityKind::Phone
                }
            }
            _ => {
                if g.rng.chance(0.5) {
                    IdentityKind::Email
                } else {
                    IdentityKind::Phone
                }
            }
        };
        let (topic, a) = g.topic_and_author(kind);
        let lang = g.compose(&mut self.text, topic, &a, channel);
        let text = big_text.unwrap_or(&self.text);
        let buf = &mut self.buf;
        buf.push_str("{\"id\":\"");
        buf.push_str(channel.id_prefix());
        buf.push('-');
        let h = mix(g.cfg.seed ^ mix(g.n));
        for shift in (0..64).step_by(4).rev() {
            buf.push(b"0123456789abcdef"[((h >> shift) & 0xF) as usize] as char);
        }
        buf.push_str("\",\"channel\":\"");
        buf.push_str(channel.as_str());
        buf.push('"');
        if omit != Omit::CreatedAt {
            buf.push_str(",\"created_at\":\"");
            if g.rng.chance(0.2) {
                push_rfc3339_offset(buf, t, 60);
            } else {
                push_rfc3339_ms(buf, t);
            }
            buf.push('"');
        }
        buf.push_str(",\"author\":{\"handle\":");
        push_json_str(buf, &a.handle);
        buf.push_str(",\"id\":");
        if channel == Channel::AppChat {
            buf.push_str("\"app-");
            push_u64(buf, mix(a.user_id) % 1_000_000_000);
            buf.push('"');
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"name\":");
        if g.rng.chance(0.9) {
            push_json_str(buf, &a.name);
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"followers\":null,\"verified\":false}");
        if omit != Omit::Text {
            buf.push_str(",\"text\":");
            push_json_str(buf, text);
        }
        buf.push_str(",\"in_reply_to\":");
        if channel == Channel::AppChat && g.rng.chance(0.3) {
            buf.push_str("\"chat-");
            push_u64(buf, g.rng.range(1_000_000, 9_999_999));
            buf.push('"');
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"lang\":");
        if g.rng.chance(0.85) {
            push_json_str(buf, lang);
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"url\":");
        match channel {
            Channel::WebForm => {
                buf.push_str("\"https://www.albiontelecom.co.uk/help/contact-us?form=");
                buf.push_str(["fault", "billing", "complaint", "general"][g.rng.below(4)]);
                buf.push('"');
            }
            _ => buf.push_str("null"),
        }
        buf.push('}');
        (
            Some(a.handle),
            Expect::Mentions {
                format: "envelope",
                rows: 1,
            },
        )
    }
}

/// One reaction entry of a Facebook webhook (a non-actionable change).
fn push_fb_reaction(buf: &mut String, a: &Author, post_num: u64, ct: i64, kind: &str) {
    buf.push_str("{\"field\":\"feed\",\"value\":{\"from\":{\"id\":");
    push_json_str(buf, &a.handle);
    buf.push_str(",\"name\":");
    push_json_str(buf, &a.name);
    buf.push_str("},\"post_id\":\"");
    buf.push_str(PAGE_ID);
    buf.push('_');
    push_u64(buf, post_num);
    buf.push_str("\",\"created_time\":");
    push_i64(buf, ct / 1000);
    buf.push_str(",\"item\":\"reaction\",\"parent_id\":\"");
    buf.push_str(PAGE_ID);
    buf.push('_');
    push_u64(buf, post_num);
    buf.push_str("\",\"reaction_type\":\"");
    buf.push_str(kind);
    buf.push_str("\",\"verb\":\"add\"}}");
}

/// One post or comment entry of a Facebook webhook: a visitor's post on
/// the page (`own` post id) or a comment on the page's post `post_num`.
fn push_fb_feed_item(
    buf: &mut String,
    a: &Author,
    text: &str,
    ct: i64,
    post_num: u64,
    own: u64,
    visitor_post: bool,
) {
    buf.push_str("{\"field\":\"feed\",\"value\":{\"from\":{\"id\":");
    push_json_str(buf, &a.handle);
    buf.push_str(",\"name\":");
    push_json_str(buf, &a.name);
    buf.push_str("},\"post\":{\"status_type\":\"");
    buf.push_str(if visitor_post {
        "mobile_status_update"
    } else {
        "added_photos"
    });
    buf.push_str("\",\"is_published\":true,\"updated_time\":\"");
    push_rfc3339_s(buf, ct);
    buf.truncate(buf.len() - 1);
    buf.push_str("+0000\",\"permalink_url\":\"https://www.facebook.com/AlbionTelecom/posts/pfbid0");
    push_u64(buf, if visitor_post { own } else { post_num });
    buf.push_str("\",\"promotion_status\":\"inactive\",\"id\":\"");
    buf.push_str(PAGE_ID);
    buf.push('_');
    push_u64(buf, if visitor_post { own } else { post_num });
    buf.push_str("\"},\"message\":");
    push_json_str(buf, text);
    buf.push_str(",\"post_id\":\"");
    buf.push_str(PAGE_ID);
    buf.push('_');
    push_u64(buf, if visitor_post { own } else { post_num });
    if !visitor_post {
        buf.push_str("\",\"comment_id\":\"");
        push_u64(buf, post_num);
        buf.push('_');
        push_u64(buf, own);
    }
    buf.push_str("\",\"created_time\":");
    push_i64(buf, ct / 1000);
    if visitor_post {
        buf.push_str(",\"item\":\"post\",\"verb\":\"add\"}}");
    } else {
        buf.push_str(",\"item\":\"comment\",\"parent_id\":\"");
        buf.push_str(PAGE_ID);
        buf.push('_');
        push_u64(buf, post_num);
        buf.push_str("\",\"verb\":\"add\"}}");
    }
}
