//! Malformed records, one per DLQ reason.

use crate::generate::enc::{push_i64, push_u64};

use super::{Expect, GeneratedRecord, MentionGenerator, Omit};

/// Malformed reasons in [`Expect::Malformed`], with their shares.
pub(super) const MALFORMED: [&str; 5] = [
    "invalid_json",
    "unknown_format",
    "missing_field",
    "too_large",
    "invalid_utf8",
];
const MALFORMED_WEIGHTS: [u32; 5] = [30, 20, 25, 10, 15];

impl MentionGenerator {
    pub(super) fn malformed(&mut self, t: i64) -> GeneratedRecord {
        let reason = self.g.rng.weighted(&MALFORMED_WEIGHTS);
        let expect = Expect::Malformed(MALFORMED[reason]);
        let (key, payload): (Option<String>, Vec<u8>) = match reason {
            0 => {
                // invalid_json
                match self.g.rng.below(5) {
                    0..=2 => {
                        let (key, _) = if self.g.rng.chance(0.5) {
                            self.twitter(t, false, Omit::None)
                        } else {
                            self.envelope(t, Omit::None, None)
                        };
                        // truncated at a char boundary strictly inside the document
                        let len = self.buf.len();
                        let mut cut = len / 4 + self.g.rng.below(len - len / 4 - 1);
                        while !self.buf.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        (key, self.buf.as_bytes()[..cut].to_vec())
                    }
                    3 => (
                        None,
                        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>".to_vec(),
                    ),
                    _ => {
                        let (key, _) = self.envelope(t, Omit::None, None);
                        // trailing comma before the closing brace
                        self.buf.insert(self.buf.len() - 1, ',');
                        (key, self.buf.as_bytes().to_vec())
                    }
                }
            }
            1 => {
                // unknown_format: valid JSON of a shape no parser knows
                let b = &mut self.buf;
                match self.g.rng.below(4) {
                    0 => {
                        b.push_str("{\"event\":\"page_view\",\"page\":\"/broadband/deals\",\"session\":\"s-");
                        push_u64(b, self.g.rng.u64() >> 20);
                        b.push_str("\",\"ts\":");
                        push_i64(b, t);
                        b.push('}');
                    }
                    1 => {
                        b.push_str("{\"type\":\"heartbeat\",\"source\":\"bridge-02\",\"ts\":");
                        push_i64(b, t);
                        b.push('}');
                    }
                    2 => {
                        b.push_str("{\"kind\":\"youtube#commentThread\",\"etag\":\"x9Fq\",\"snippet\":{\"videoId\":\"dQw4w9WgXcQ\",\"topLevelComment\":{\"snippet\":{\"textDisplay\":\"why is my broadband so slow\",\"authorDisplayName\":\"someone\"}}}}");
                    }
                    _ => {
                        b.push_str("[{\"metric\":\"queue_depth\",\"value\":");
                        push_u64(b, self.g.rng.range(0, 500));
                        b.push_str("},{\"metric\":\"agents_online\",\"value\":");
                        push_u64(b, self.g.rng.range(0, 80));
                        b.push_str("}]");
                    }
                }
                (None, self.buf.as_bytes().to_vec())
            }
            2 => {
                // missing_field: a known format without its text or time
                let omit = if self.g.rng.chance(0.5) {
                    Omit::Text
                } else {
                    Omit::CreatedAt
                };
                let (key, _) = match self.g.rng.below(3) {
                    0 => self.twitter(t, false, omit),
                    1 => self.twitter(t, true, omit),
                    _ => self.envelope(t, omit, None),
                };
                (key, self.buf.as_bytes().to_vec())
            }
            3 => {
                // too_large: an e-mail bridge envelope with a pasted router log
                let mut big = String::from(
                    "Hi, my broadband keeps failing, here is the log from my router:\n",
                );
                let target = 66_000 + self.g.rng.below(30_000);
                let mut k = 0u64;
                while big.len() < target {
                    big.push_str("2026-11-22 03:1");
                    push_u64(&mut big, k % 10);
                    big.push_str(":0");
                    push_u64(&mut big, k % 7);
                    big.push_str(
                        " WAN ERROR PPPoE authentication failed (code 691), retrying in 30s\n",
                    );
                    k += 1;
                }
                let (key, _) = self.envelope(t, Omit::None, Some(&big));
                (key, self.buf.as_bytes().to_vec())
            }
            _ => {
                // invalid_utf8: a valid record with Latin-1 or broken bytes in its text
                let (key, _) = if self.g.rng.chance(0.5) {
                    self.envelope(t, Omit::None, None)
                } else {
                    self.twitter(t, false, Omit::None)
                };
                let mut bytes = self.buf.as_bytes().to_vec();
                // inside a string value, so the record is otherwise valid JSON
                let at = [&b"\"text\":\""[..], b"\"full_text\":\"", b"\"name\":\""]
                    .iter()
                    .find_map(|pat| find(&bytes, pat).map(|p| p + pat.len()))
                    .expect("a string field");
                let bad: &[u8] = [&b"\xA3"[..], b"caf\xE9 ", b"\xC3", b"\xFF\xFE", b"\xE2\x82"]
                    [self.g.rng.below(5)];
                bytes.splice(at..at, bad.iter().copied());
                (key, bytes)
            }
        };
        self.finish(key, payload, expect, t)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
