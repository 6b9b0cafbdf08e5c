//! VADER's lexicons and word lists, embedded at compile time and parsed once.
//!
//! The two lexicon files are shipped verbatim from the PyPI package
//! `vaderSentiment` 3.3.2 (MIT, licence in `operators/data/vader/LICENSE`).
//! They are parsed exactly as `SentimentIntensityAnalyzer.make_lex_dict` and
//! `make_emoji_dict` do, including their quirks (a later duplicate line wins;
//! keys keep their case, so `:D` can never match a lower-cased token; emoji
//! keys longer than one code point can never match).
//!
//! Every word the scorer needs to know something about (lexicon valence,
//! booster scalar, negation, the handful of words the rules compare against)
//! is folded into one [`Entry`] so that each token costs one hash lookup.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// `vader_lexicon.txt` from vaderSentiment 3.3.2.
pub const VADER_LEXICON: &str = include_str!("../../data/vader/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt` from vaderSentiment 3.3.2.
pub const EMOJI_LEXICON: &str = include_str!("../../data/vader/emoji_utf8_lexicon.txt");

/// Empirically derived mean sentiment intensity increase for booster words.
pub const B_INCR: f64 = 0.293;
/// Empirically derived mean sentiment intensity decrease for dampener words.
pub const B_DECR: f64 = -0.293;
/// Increase for an ALL-CAPS word among mixed-case words.
pub const C_INCR: f64 = 0.733;
/// Scalar applied to a negated valence.
pub const N_SCALAR: f64 = -0.74;

/// VADER's `NEGATE` list.
pub const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// VADER's `BOOSTER_DICT` (boosters and dampeners, "degree adverbs").
pub const BOOSTER_DICT: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// VADER's `SPECIAL_CASES` idioms (they replace the valence of a lexicon word).
pub const SPECIAL_CASES: &[(&[&str], f64)] = &[
    (&["the", "shit"], 3.0),
    (&["the", "bomb"], 3.0),
    (&["bad", "ass"], 1.5),
    (&["badass"], 1.5),
    (&["bus", "stop"], 0.0),
    (&["yeah", "right"], -2.0),
    (&["kiss", "of", "death"], -1.5),
    (&["to", "die", "for"], 3.0),
    (&["beating", "heart"], 3.5),
];

/// Codes for the words VADER's rules compare tokens against.
pub mod word {
    /// Not one of the words below.
    #[allow(dead_code)]
    pub const NONE: u8 = 0;
    pub const NO: u8 = 1;
    pub const OR: u8 = 2;
    pub const NOR: u8 = 3;
    pub const NEVER: u8 = 4;
    pub const SO: u8 = 5;
    pub const THIS: u8 = 6;
    pub const WITHOUT: u8 = 7;
    pub const DOUBT: u8 = 8;
    pub const LEAST: u8 = 9;
    pub const AT: u8 = 10;
    pub const VERY: u8 = 11;
    pub const KIND: u8 = 12;
    pub const OF: u8 = 13;
    pub const BUT: u8 = 14;
}

const WORD_CODES: &[(&str, u8)] = &[
    ("no", word::NO),
    ("or", word::OR),
    ("nor", word::NOR),
    ("never", word::NEVER),
    ("so", word::SO),
    ("this", word::THIS),
    ("without", word::WITHOUT),
    ("doubt", word::DOUBT),
    ("least", word::LEAST),
    ("at", word::AT),
    ("very", word::VERY),
    ("kind", word::KIND),
    ("of", word::OF),
    ("but", word::BUT),
];

/// The token is a key of the (effective) lexicon.
pub const F_LEX: u8 = 1;
/// The token is in VADER's `NEGATE` list.
pub const F_NEGATE: u8 = 2;

/// Words of `SPECIAL_CASES` and of the multi-word boosters; `Entry::idiom`
/// is 1 + the index of the word here (0: none), so that the idiom check
/// compares small integers instead of strings.
const IDIOM_WORDS: &[&str] = &[
    "the", "shit", "bomb", "bad", "ass", "badass", "bus", "stop", "yeah", "right", "kiss", "of",
    "death", "to", "die", "for", "beating", "heart", "just", "enough", "kind", "sort",
];

fn idiom_id(w: &str) -> u8 {
    IDIOM_WORDS
        .iter()
        .position(|&x| x == w)
        .map(|i| i as u8 + 1)
        .expect("idiom word listed in IDIOM_WORDS")
}

/// `SPECIAL_CASES` and the two-word boosters as idiom-id sequences.
pub struct Idioms {
    /// (ids, valence) for each `SPECIAL_CASES` entry.
    pub special: Vec<(Vec<u8>, f64)>,
    /// ([id, id], scalar) for each two-word `BOOSTER_DICT` entry.
    pub bigrams: Vec<([u8; 2], f64)>,
}

/// The idiom tables, built once.
pub fn idioms() -> &'static Idioms {
    static I: OnceLock<Idioms> = OnceLock::new();
    I.get_or_init(|| Idioms {
        special: SPECIAL_CASES
            .iter()
            .map(|(words, v)| (words.iter().map(|w| idiom_id(w)).collect(), *v))
            .collect(),
        bigrams: BOOSTER_DICT
            .iter()
            .filter_map(|&(k, v)| {
                let (a, b) = k.split_once(' ')?;
                Some(([idiom_id(a), idiom_id(b)], v))
            })
            .collect(),
    })
}

/// Everything the scorer knows about one lower-cased token.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Entry {
    /// Lexicon valence (meaningful when `flags & F_LEX`).
    pub valence: f64,
    /// Booster/dampener scalar, `0.0` when the word is not in `BOOSTER_DICT`.
    pub booster: f64,
    /// One of the [`word`] codes.
    pub word: u8,
    /// `F_*` bits.
    pub flags: u8,
    /// 1 + index in the idiom word list, 0 if the word is in no idiom.
    pub idiom: u8,
    /// Telco layer: 1 + index of the phrase list starting with this word, 0 if none.
    pub phrases: u16,
}

impl Entry {
    /// True when the word is a lexicon key.
    #[inline]
    pub fn in_lex(&self) -> bool {
        self.flags & F_LEX != 0
    }
}

/// A small, fast, non-cryptographic hasher (the FxHash mixing step) for short keys.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while bytes.len() >= 8 {
            self.add(u64::from_le_bytes(bytes[..8].try_into().unwrap()));
            bytes = &bytes[8..];
        }
        if bytes.len() >= 4 {
            self.add(u32::from_le_bytes(bytes[..4].try_into().unwrap()) as u64);
            bytes = &bytes[4..];
        }
        for &b in bytes {
            self.add(b as u64);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Hash-builder for [`FxHasher`].
pub type FxBuild = BuildHasherDefault<FxHasher>;
/// Word table: lower-cased token → [`Entry`].
pub type WordMap = HashMap<Cow<'static, str>, Entry, FxBuild>;

/// The word table compiled for lookup: keys of up to 16 bytes (all but a
/// handful) live in an open-addressing table of 32-byte slots holding the key
/// as two `u64`s and the entry itself, so a lookup is one multiply, usually
/// one cache line and no `memcmp`.
#[derive(Debug, Clone)]
pub struct WordTable {
    slots: Vec<Slot>,
    mask: usize,
    long: HashMap<Box<str>, Entry, FxBuild>,
}

#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Slot {
    k0: u64,
    k1: u64,
    valence: f64,
    /// Key length in bytes; `u8::MAX` marks an empty slot.
    len: u8,
    /// -1, 0, +1: `B_DECR`, none, `B_INCR`.
    booster: i8,
    word: u8,
    flags: u8,
    idiom: u8,
    phrases: u16,
}

const EMPTY: Slot = Slot {
    k0: 0,
    k1: 0,
    valence: 0.0,
    len: u8::MAX,
    booster: 0,
    word: 0,
    flags: 0,
    idiom: 0,
    phrases: 0,
};

#[inline]
fn short_key(b: &[u8]) -> (u64, u64) {
    let mut buf = [0u8; 16];
    buf[..b.len()].copy_from_slice(b);
    (
        u64::from_le_bytes(buf[..8].try_into().unwrap()),
        u64::from_le_bytes(buf[8..].try_into().unwrap()),
    )
}

#[inline]
fn slot_hash(k0: u64, k1: u64, len: usize) -> usize {
    let h = (k0 ^ k1.rotate_left(31) ^ (len as u64).rotate_left(59)).wrapping_mul(SEED);
    (h ^ (h >> 29)) as usize
}

impl WordTable {
    /// Compiles `map` for lookup.
    pub fn new(map: &WordMap) -> Self {
        let short = map.keys().filter(|k| k.len() <= 16).count();
        let cap = (short * 2 + 16).next_power_of_two();
        let mut t = WordTable {
            slots: vec![EMPTY; cap],
            mask: cap - 1,
            long: HashMap::default(),
        };
        for (k, e) in map {
            let b = k.as_bytes();
            if b.len() > 16 {
                t.long.insert(k.as_ref().into(), *e);
                continue;
            }
            let booster = if e.booster == B_INCR {
                1
            } else if e.booster == B_DECR {
                -1
            } else {
                assert_eq!(e.booster, 0.0, "boosters are B_INCR or B_DECR");
                0
            };
            let (k0, k1) = short_key(b);
            let mut i = slot_hash(k0, k1, b.len()) & t.mask;
            while t.slots[i].len != u8::MAX {
                i = (i + 1) & t.mask;
            }
            t.slots[i] = Slot {
                k0,
                k1,
                valence: e.valence,
                len: b.len() as u8,
                booster,
                word: e.word,
                flags: e.flags,
                idiom: e.idiom,
                phrases: e.phrases,
            };
        }
        t
    }

    /// The entry of a lower-cased token.
    #[inline]
    pub fn get(&self, key: &str) -> Option<Entry> {
        let b = key.as_bytes();
        if b.len() > 16 {
            return self.long.get(key).copied();
        }
        let (k0, k1) = short_key(b);
        let mut i = slot_hash(k0, k1, b.len()) & self.mask;
        loop {
            let s = &self.slots[i];
            if s.len == u8::MAX {
                return None;
            }
            if s.k0 == k0 && s.k1 == k1 && s.len as usize == b.len() {
                return Some(Entry {
                    valence: s.valence,
                    booster: match s.booster {
                        1 => B_INCR,
                        -1 => B_DECR,
                        _ => 0.0,
                    },
                    word: s.word,
                    flags: s.flags,
                    idiom: s.idiom,
                    phrases: s.phrases,
                });
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// The built-in word table (plain VADER), compiled once.
#[cfg(test)]
pub fn vader_table() -> &'static WordTable {
    static T: OnceLock<WordTable> = OnceLock::new();
    T.get_or_init(|| WordTable::new(vader_words()))
}

/// Python's `str.isspace()` (what `str.split()` and `str.strip()` use).
#[inline]
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The lexicon as `make_lex_dict` builds it: `word → valence`, later lines win.
pub fn parse_lexicon(src: &'static str) -> Vec<(&'static str, f64)> {
    let mut out: Vec<(&'static str, f64)> = Vec::with_capacity(8000);
    let mut seen: HashMap<&'static str, usize, FxBuild> = HashMap::default();
    for line in src.trim_end_matches('\n').split('\n') {
        if line.is_empty() {
            continue;
        }
        let mut fields = line.trim_matches(is_py_space).split('\t');
        let (Some(word), Some(measure)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(v) = measure.parse::<f64>() else {
            continue;
        };
        match seen.get(word) {
            Some(&i) => out[i].1 = v,
            None => {
                seen.insert(word, out.len());
                out.push((word, v));
            }
        }
    }
    out
}

/// The built-in word table (plain VADER), built once.
pub fn vader_words() -> &'static WordMap {
    static MAP: OnceLock<WordMap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: WordMap = HashMap::with_capacity_and_hasher(8192, FxBuild::default());
        for (w, v) in parse_lexicon(VADER_LEXICON) {
            let e = map.entry(Cow::Borrowed(w)).or_default();
            e.valence = v;
            e.flags |= F_LEX;
        }
        for &(w, v) in BOOSTER_DICT {
            if !w.contains(' ') {
                map.entry(Cow::Borrowed(w)).or_default().booster = v;
            }
        }
        for &w in NEGATE {
            map.entry(Cow::Borrowed(w)).or_default().flags |= F_NEGATE;
        }
        for &(w, code) in WORD_CODES {
            map.entry(Cow::Borrowed(w)).or_default().word = code;
        }
        for &w in IDIOM_WORDS {
            map.entry(Cow::Borrowed(w)).or_default().idiom = idiom_id(w);
        }
        map
    })
}

/// The emoji table as `make_emoji_dict` builds it, restricted to the keys that
/// can match (`polarity_scores` looks up one code point at a time).
pub struct EmojiTable {
    map: HashMap<char, &'static str, FxBuild>,
    /// Smallest code point that is a key (everything below is skipped fast).
    pub min: char,
}

impl EmojiTable {
    /// Description of a single-code-point emoji.
    #[inline]
    pub fn get(&self, c: char) -> Option<&'static str> {
        if c < self.min {
            return None;
        }
        self.map.get(&c).copied()
    }
}

/// The emoji lexicon, built once.
pub fn emoji_table() -> &'static EmojiTable {
    static T: OnceLock<EmojiTable> = OnceLock::new();
    T.get_or_init(|| {
        let mut map = HashMap::with_capacity_and_hasher(2048, FxBuild::default());
        for line in EMOJI_LEXICON.trim_end_matches('\n').split('\n') {
            let mut fields = line.trim_matches(is_py_space).split('\t');
            let (Some(key), Some(desc)) = (fields.next(), fields.next()) else {
                continue;
            };
            let mut chars = key.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                map.insert(c, desc);
            }
        }
        let min = map.keys().copied().min().unwrap_or(char::MAX);
        EmojiTable { map, min }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_lexicon_parses_like_python() {
        let lex = parse_lexicon(VADER_LEXICON);
        assert_eq!(lex.len(), 7506);
        let words = vader_words();
        assert_eq!(words.get("great").unwrap().valence, 3.1);
        assert!(words.get("great").unwrap().in_lex());
        // Keys keep their case: ":Þ" is stored as is, and ":þ" is not a key.
        assert!(words.get(":Þ").is_some());
        assert!(words.get(":þ").is_none());
        assert_eq!(words.get("very").unwrap().booster, B_INCR);
        assert!(words.get("never").unwrap().flags & F_NEGATE != 0);
        let table = vader_table();
        for (k, e) in words {
            assert_eq!(table.get(k), Some(*e), "{k}");
        }
        assert_eq!(table.get("zzzzqqq"), None);
        assert_eq!(table.get("great\0"), None);
        let emoji = emoji_table();
        assert_eq!(emoji.get('😁'), Some("beaming face with smiling eyes"));
        assert_eq!(emoji.get('a'), None);
    }
}
