//! The shape of a text in one pass: links, hashtags, @handles, words and
//! the hash of its normalised words (the repetition rule's key).

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub(super) fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn is_link(tok: &str) -> bool {
    let t = tok.trim_start_matches(|c: char| !c.is_alphanumeric());
    let lower_starts =
        |p: &str| t.len() >= p.len() && t.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    lower_starts("http://")
        || lower_starts("https://")
        || lower_starts("www.")
        || lower_starts("bit.ly/")
        || lower_starts("t.co/")
        || lower_starts("tinyurl.com/")
}

/// Counts of the text's shape, computed in one pass without allocating.
#[derive(Debug, Default)]
pub(super) struct Shape {
    pub(super) links: usize,
    pub(super) hashtags: usize,
    pub(super) mentions: usize,
    /// Words other than links, hashtags and handles.
    pub(super) words: usize,
    /// Hash of the normalised words (lower-case alphanumerics, no `rt`).
    pub(super) hash: u64,
}

pub(super) fn shape(text: &str) -> Shape {
    let mut s = Shape {
        hash: FNV_OFFSET,
        ..Shape::default()
    };
    for tok in text.split_whitespace() {
        if is_link(tok) {
            s.links += 1;
            continue;
        }
        if tok.starts_with('#') && tok.len() > 1 {
            s.hashtags += 1;
            continue;
        }
        if tok.starts_with('@') && tok.len() > 1 {
            s.mentions += 1;
            continue;
        }
        if tok.eq_ignore_ascii_case("rt") || !tok.chars().any(|c| c.is_alphanumeric()) {
            continue;
        }
        s.words += 1;
        if s.words > 1 {
            s.hash = fnv(s.hash, b" ");
        }
        let mut tmp = [0u8; 4];
        for c in tok.chars() {
            // ASCII first (same result as the Unicode path, without the
            // case-mapping tables).
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() {
                    s.hash = fnv(s.hash, &[c.to_ascii_lowercase() as u8]);
                }
                continue;
            }
            if !c.is_alphanumeric() {
                continue;
            }
            for lc in c.to_lowercase() {
                s.hash = fnv(s.hash, lc.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    s
}
