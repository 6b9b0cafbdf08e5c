//! The telco domain layer: what plain VADER misreads in customer-care traffic.
//!
//! It sits on top of the VADER rules rather than replacing them:
//!
//! * **words** change or remove single lexicon entries (`outage`, `rubbish`,
//!   `sorted` are missing from VADER; `help`, `please`, `support`, `like` make
//!   every care request look positive). Negation, boosters and ALL-CAPS apply
//!   to them as to any lexicon word.
//! * **emoji** give a valence to emoji that VADER's emoji lexicon describes
//!   with neutral words (😡 "pouting face", 👎 "thumbs down", 🙄, 🤬, …).
//!   Such an emoji becomes a token of its own instead of its description.
//! * **phrases** are multi-word patterns (`is down`, `no service`,
//!   `never turned up`, `still waiting`, `cut off`, `for # days`) whose valence
//!   replaces the valence of their words. The phrase is scored like a
//!   lexicon word at its first token: boosters and negations in the three
//!   tokens before it apply ("not been cut off" is not a complaint); its words
//!   no longer act as modifiers of their neighbours.
//! * **sarcasm**: when a text contains a complaint (the other tokens sum to at
//!   most `-sarcasm_min_complaint`), a praise pattern such as `thanks a lot`,
//!   `great service` or `well done` not preceded by "but" is read as sarcasm
//!   and scored `sarcasm_valence` instead of its positive valence.
//!
//! Pattern words are matched against lower-cased tokens with ASCII
//! punctuation trimmed; `*` matches any token and `#` any token starting with
//! a digit. The first word of a pattern must be a literal word. When several
//! patterns start at the same token the longest wins.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lexicon::{word, Entry, WordMap, C_INCR, F_LEX};
use super::vader::{apply_modifiers, Scratch, MAX_KEY_LEN};
use crate::error::{OperatorError, Result};

/// Configuration of the telco layer (`[sentiment.telco]` in the pipeline config).
///
/// Every field is optional in a config file; an omitted field keeps the
/// built-in value of [`TelcoRules::default`]. Loaded through the pipeline's
/// config (figment), a given list replaces the built-in list whole, while a
/// given table (`words`, …) is merged with the built-in table entry by
/// entry: listed keys are added or overridden, the others stay (a valence of
/// `0.0` is how a config removes a built-in word).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelcoRules {
    /// Single-word valence overrides, keyed by the lower-cased word as VADER
    /// tokenises it (e.g. `"outage" = -2.0`). A valence of `0.0` removes the
    /// word from the lexicon (so it neither scores nor blocks modifiers).
    pub words: BTreeMap<String, f64>,
    /// Emoji (one Unicode code point each) → valence. Listed emoji are scored
    /// as a word with this valence instead of being replaced by their VADER
    /// description.
    pub emoji: BTreeMap<String, f64>,
    /// Multi-word patterns → valence, e.g. `"never turned up" = -2.3`.
    /// Words are separated by spaces; `*` matches any token, `#` a number.
    /// A valence of `0.0` neutralises the words (e.g. `"kind regards"`).
    pub phrases: BTreeMap<String, f64>,
    /// Praise patterns that read as sarcasm in a complaint (`"thanks a lot"`).
    pub sarcasm_patterns: Vec<String>,
    /// Valence given to a sarcastic praise pattern (negative).
    pub sarcasm_valence: f64,
    /// A praise pattern is sarcastic when the valences of the text's other
    /// tokens sum to at most minus this value.
    pub sarcasm_min_complaint: f64,
    /// In a text that also complains (any token with a negative valence),
    /// positive valences are multiplied by this (0…1): polite words in a
    /// complaint ("the reps are super nice but…", "please help") do not
    /// outweigh it. `1.0` turns this off.
    pub complaint_positive_scale: f64,
}

fn map(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

impl Default for TelcoRules {
    /// The built-in rule set for UK telco customer care.
    fn default() -> Self {
        TelcoRules {
            words: map(WORDS),
            emoji: map(EMOJI),
            phrases: map(PHRASES),
            sarcasm_patterns: SARCASM.iter().map(|s| s.to_string()).collect(),
            sarcasm_valence: -1.8,
            sarcasm_min_complaint: 1.0,
            complaint_positive_scale: 0.25,
        }
    }
}

/// Built-in single-word valences.
const WORDS: &[(&str, f64)] = &[
    // Service failures and complaint vocabulary missing from VADER.
    ("outage", -2.0),
    ("outages", -2.0),
    ("downtime", -1.5),
    ("buffering", -1.3),
    ("disconnected", -1.3),
    ("disconnecting", -1.5),
    ("disconnects", -1.5),
    ("dropouts", -1.5),
    ("unusable", -2.2),
    ("unreliable", -1.8),
    ("intermittent", -1.0),
    ("patchy", -1.0),
    ("laggy", -1.3),
    ("glitchy", -1.3),
    ("slow", -1.2),
    ("slower", -1.0),
    ("slowest", -1.5),
    ("sluggish", -1.3),
    ("rubbish", -2.0),
    ("shambles", -2.3),
    ("shambolic", -2.3),
    ("nightmare", -2.2),
    ("disgraceful", -2.5),
    ("diabolical", -2.5),
    ("atrocious", -2.5),
    ("overcharged", -2.0),
    ("extortionate", -2.0),
    ("ripoff", -2.0),
    ("rip-off", -2.0),
    ("gutted", -1.8),
    ("unhelpful", -1.8),
    ("hassle", -1.2),
    ("farce", -2.0),
    ("joke", -1.5),
    ("no-show", -2.0),
    ("seething", -2.5),
    // Care-traffic complaint words (issue 26, telco dev set).
    ("smh", -1.5),
    ("wtf", -2.0),
    ("bs", -1.5),
    ("issue", -0.8),
    ("issues", -0.8),
    ("error", -1.2),
    ("frozen", -1.0),
    ("freezes", -1.2),
    ("unable", -1.0),
    ("runaround", -1.8),
    ("outtakes", -1.5),
    ("shitty", -2.2),
    ("crappy", -2.0),
    ("lying", -2.0),
    ("lied", -2.0),
    ("lie", -1.8),
    ("slowest", -1.5),
    ("#fail", -2.0),
    ("trippin", -1.2),
    ("trippen", -1.2),
    ("irritating", -2.0),
    // Complaint cues: in care traffic these words mostly open or carry a
    // complaint ("why is my…", "still nothing", "down again").
    ("why", -0.8),
    ("still", -0.6),
    ("again", -0.8),
    ("anymore", -0.6),
    // Thread answers and chatter that VADER reads as praise.
    ("yes", 0.0),
    ("yep", 0.0),
    ("yeah", 0.0),
    ("ok", 0.0),
    ("okay", 0.0),
    ("lol", 0.0),
    ("chance", 0.0),
    ("luck", 0.0),
    ("welcome", 0.0),
    // Care-request words that VADER reads as praise.
    ("help", 0.0),
    ("please", 0.0),
    ("pls", 0.0),
    ("plz", 0.0),
    ("support", 0.0),
    ("care", 0.0),
    ("like", 0.0),
    ("pretty", 0.0),
    ("credit", 0.0),
    // Resolution and praise vocabulary missing from VADER.
    ("sorted", 1.8),
    ("fixed", 1.5),
    ("resolved", 1.6),
    ("reliable", 1.5),
    ("seamless", 1.5),
    ("speedy", 1.5),
    ("superfast", 1.5),
    ("legend", 2.2),
    ("legends", 2.2),
    ("lifesaver", 2.5),
    ("chuffed", 2.2),
    ("brill", 2.3),
    ("ta", 1.2),
];

/// Built-in emoji valences.
const EMOJI: &[(&str, f64)] = &[
    ("😡", -2.5),
    ("🤬", -3.0),
    ("😤", -2.0),
    ("🙄", -1.5),
    ("😒", -1.5),
    ("😑", -0.8),
    ("😖", -1.5),
    ("😣", -1.2),
    ("😩", -1.8),
    ("😫", -1.8),
    ("👎", -2.0),
    ("🤦", -1.8),
    ("💩", -1.8),
    ("🤡", -1.5),
    ("🖕", -2.5),
    ("🐌", -1.0),
    ("❌", -1.0),
    ("👍", 1.5),
    ("✅", 1.0),
];

/// Built-in multi-word patterns.
const PHRASES: &[(&str, f64)] = &[
    // Something is down / not working.
    ("is down", -1.8),
    ("are down", -1.8),
    ("was down", -1.5),
    ("been down", -2.0),
    ("still down", -2.0),
    ("down again", -2.0),
    ("went down", -1.5),
    ("gone down", -1.5),
    ("goes down", -1.5),
    ("keeps going down", -2.0),
    ("not working", -2.0),
    ("isn't working", -2.0),
    ("aren't working", -2.0),
    ("stopped working", -2.0),
    ("still not working", -2.3),
    ("not connecting", -1.8),
    ("won't connect", -1.8),
    ("can't connect", -1.8),
    ("cannot connect", -1.8),
    ("keeps dropping", -2.0),
    ("keeps disconnecting", -2.0),
    ("keeps cutting out", -2.0),
    ("cutting out", -1.8),
    ("cuts out", -1.8),
    ("dropping out", -1.8),
    ("drops out", -1.8),
    ("dropped calls", -1.8),
    ("cut off", -2.0),
    ("went out", -1.8),
    ("been out", -1.8),
    ("out since", -1.8),
    ("get my * working", -1.5),
    ("can't get", -1.0),
    ("can't even", -1.2),
    ("won't let", -1.5),
    ("doesn't work", -1.8),
    ("didn't work", -1.8),
    ("does not work", -1.8),
    ("did not work", -1.8),
    ("not even", -0.8),
    ("no option", -1.5),
    ("how many times", -1.5),
    ("what happened", -1.0),
    ("goes out", -1.8),
    ("is out", -1.5),
    ("internet out", -2.0),
    ("down for", -1.5),
    ("keeps resetting", -2.0),
    ("still no", -1.8),
    ("still don't", -1.5),
    ("still not", -1.5),
    ("run around", -1.8),
    ("paying for", -1.0),
    ("i pay for", -1.0),
    ("pay for", -0.8),
    ("no network", -2.0),
    ("poor network", -2.0),
    ("fix the", -0.8),
    ("hold music", -0.5),
    ("for the love of", -0.5),
    // No service.
    ("no service", -2.0),
    ("no signal", -2.0),
    ("no internet", -2.0),
    ("no broadband", -2.0),
    ("no wifi", -2.0),
    ("no wi-fi", -2.0),
    ("no connection", -2.0),
    ("no dial tone", -2.0),
    ("no landline", -2.0),
    ("no phone", -1.8),
    ("no tv", -1.8),
    ("no data", -1.8),
    ("no 4g", -1.8),
    ("no 5g", -1.8),
    ("no coverage", -2.0),
    ("no reception", -2.0),
    ("without internet", -2.0),
    ("without broadband", -2.0),
    ("without wifi", -2.0),
    ("without service", -2.0),
    ("without a phone", -1.8),
    ("for # days", -1.0),
    ("for # weeks", -1.3),
    ("for # hours", -0.8),
    // Nobody came, nobody answered.
    ("never turned up", -2.3),
    ("never showed up", -2.3),
    ("never showed", -2.0),
    ("never arrived", -2.0),
    ("never came", -2.0),
    ("never called", -2.0),
    ("never called back", -2.3),
    ("never rang", -2.0),
    ("never got back", -2.0),
    ("didn't turn up", -2.3),
    ("didn't show up", -2.3),
    ("didn't show", -2.0),
    ("didn't arrive", -2.0),
    ("didn't call", -1.8),
    ("hasn't arrived", -1.8),
    ("hasn't turned up", -2.0),
    ("no show", -2.0),
    ("no response", -1.8),
    ("no reply", -1.8),
    ("no answer", -1.5),
    ("no update", -1.5),
    ("no updates", -1.5),
    ("no one", -1.0),
    ("still waiting", -2.0),
    ("been waiting", -1.8),
    ("on hold", -1.5),
    ("hours on hold", -2.0),
    ("hung up", -1.8),
    ("passed around", -1.5),
    ("pillar to post", -1.8),
    ("waste of time", -2.0),
    // Unresolved, billing, churn.
    ("not fixed", -2.0),
    ("not resolved", -2.0),
    ("not sorted", -1.8),
    ("still not fixed", -2.3),
    ("be fixed", -0.8),
    ("get it fixed", -1.0),
    ("get this fixed", -1.0),
    ("fix it", -0.8),
    ("fix this", -1.0),
    ("fix my", -0.8),
    ("sort it out", -1.0),
    ("sort this out", -1.2),
    ("charged twice", -2.0),
    ("double charged", -2.0),
    ("price rise", -1.2),
    ("price hike", -1.5),
    ("price increase", -1.0),
    ("mid contract", -1.0),
    ("thinking of leaving", -2.0),
    ("cancel my contract", -1.8),
    ("taking my business elsewhere", -2.0),
    ("thanks for nothing", -2.5),
    ("cheers for nothing", -2.5),
    ("what a joke", -2.0),
    ("absolute joke", -2.2),
    // Resolution.
    ("back up", 1.5),
    ("back online", 1.8),
    ("working again", 2.0),
    ("up and running", 2.0),
    ("all sorted", 2.0),
    ("spot on", 2.0),
    ("top notch", 2.5),
    ("above and beyond", 2.5),
    ("no issues", 1.0),
    ("no more buffering", 1.5),
    // Neutral in care traffic.
    ("looks like", 0.0),
    ("seems like", 0.0),
    ("feels like", 0.0),
    ("would like", 0.0),
    ("i'd like", 0.0),
    ("like to", 0.0),
    ("kind regards", 0.0),
    ("best way", 0.0),
    ("top up", 0.0),
    ("as well", 0.0),
];

/// Built-in praise patterns that read as sarcasm in a complaint.
const SARCASM: &[&str] = &[
    "thank goodness",
    "thank god",
    "thanks for making",
    "gotta love",
    "got to love",
    "love when",
    "killer",
    "reassuring",
    "super cool",
    "excellent assistance",
    "good job",
    "nice",
    "thanks a lot",
    "thanks a bunch",
    "thanks very much",
    "thanks so much",
    "thanks",
    "thank you",
    "cheers for that",
    "cheers",
    "great service",
    "brilliant service",
    "excellent service",
    "fantastic service",
    "amazing service",
    "superb service",
    "great job",
    "great",
    "brilliant",
    "fantastic",
    "well done",
    "nice one",
    "love it",
    "love that",
    "love how",
    "so helpful",
    "really helpful",
    "very helpful",
    "helpful",
];

#[derive(Debug, Clone, PartialEq)]
enum PWord {
    Lit(Box<str>),
    Any,
    Number,
}

#[derive(Debug, Clone)]
struct Pattern {
    words: Vec<PWord>,
    valence: f64,
    sarcasm: bool,
}

/// [`TelcoRules`] compiled against the word table.
#[derive(Debug, Clone)]
pub(crate) struct CompiledTelco {
    patterns: Vec<Pattern>,
    /// Pattern indices by head word, longest first; `Entry::phrases` - 1 indexes this.
    heads: Vec<Vec<u32>>,
    /// Emoji scored as tokens of their own, sorted.
    emoji: Vec<char>,
    sarcasm_valence: f64,
    sarcasm_min_complaint: f64,
    complaint_positive_scale: f64,
}

fn config_err(key: &str, reason: String) -> OperatorError {
    OperatorError::Config {
        key: format!("sentiment.telco.{key}"),
        reason,
    }
}

fn check_valence(key: &str, name: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v.abs() > 10.0 {
        return Err(config_err(
            key,
            format!("valence of `{name}` must be finite and within ±10, got {v}"),
        ));
    }
    Ok(())
}

fn parse_pattern(key: &str, p: &str) -> Result<Vec<PWord>> {
    let words: Vec<PWord> = p
        .split_whitespace()
        .map(|w| match w {
            "*" => PWord::Any,
            "#" => PWord::Number,
            w => PWord::Lit(w.to_lowercase().into()),
        })
        .collect();
    match words.first() {
        None => Err(config_err(key, "empty pattern".into())),
        Some(PWord::Lit(h)) if h.len() > MAX_KEY_LEN => {
            Err(config_err(key, format!("`{p}`: first word too long")))
        }
        Some(PWord::Lit(_)) if words.len() <= 8 => Ok(words),
        Some(PWord::Lit(_)) => Err(config_err(key, format!("`{p}`: at most 8 words"))),
        Some(_) => Err(config_err(
            key,
            format!("`{p}`: the first word must be a literal word"),
        )),
    }
}

impl CompiledTelco {
    /// Validates `rules`, folds word and emoji valences and pattern heads
    /// into `words`, and compiles the patterns.
    pub(crate) fn compile(rules: &TelcoRules, words: &mut WordMap) -> Result<Self> {
        for (w, &v) in &rules.words {
            check_valence("words", w, v)?;
            if w.is_empty() || w.chars().any(char::is_whitespace) {
                return Err(config_err("words", format!("`{w}` must be one word")));
            }
            if w.len() > MAX_KEY_LEN {
                return Err(config_err("words", format!("`{w}` is too long")));
            }
            let e = words.entry(Cow::Owned(w.to_lowercase())).or_default();
            e.valence = v;
            if v == 0.0 {
                e.flags &= !F_LEX;
            } else {
                e.flags |= F_LEX;
            }
        }
        let mut emoji = Vec::new();
        for (k, &v) in &rules.emoji {
            check_valence("emoji", k, v)?;
            let mut chars = k.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(config_err(
                    "emoji",
                    format!("`{k}` must be a single code point"),
                ));
            };
            if c.is_ascii() || super::lexicon::is_py_space(c) {
                return Err(config_err("emoji", format!("`{k}` is not an emoji")));
            }
            emoji.push(c);
            let e = words.entry(Cow::Owned(k.clone())).or_default();
            e.valence = v;
            if v == 0.0 {
                e.flags &= !F_LEX;
            } else {
                e.flags |= F_LEX;
            }
        }
        emoji.sort_unstable();

        let mut patterns = Vec::new();
        for (p, &v) in &rules.phrases {
            check_valence("phrases", p, v)?;
            patterns.push(Pattern {
                words: parse_pattern("phrases", p)?,
                valence: v,
                sarcasm: false,
            });
        }
        check_valence("sarcasm_valence", "sarcasm_valence", rules.sarcasm_valence)?;
        if !(rules.sarcasm_min_complaint.is_finite() && rules.sarcasm_min_complaint >= 0.0) {
            return Err(config_err(
                "sarcasm_min_complaint",
                "must be a finite number ≥ 0".into(),
            ));
        }
        if !(0.0..=1.0).contains(&rules.complaint_positive_scale) {
            return Err(config_err(
                "complaint_positive_scale",
                "must be a number from 0 to 1".into(),
            ));
        }
        for p in &rules.sarcasm_patterns {
            patterns.push(Pattern {
                words: parse_pattern("sarcasm_patterns", p)?,
                valence: rules.sarcasm_valence,
                sarcasm: true,
            });
        }

        let mut heads: Vec<Vec<u32>> = Vec::new();
        for (idx, p) in patterns.iter().enumerate() {
            let PWord::Lit(head) = &p.words[0] else {
                unreachable!("checked by parse_pattern")
            };
            let e = words.entry(Cow::Owned(head.to_string())).or_default();
            if e.phrases == 0 {
                heads.push(Vec::new());
                e.phrases = u16::try_from(heads.len())
                    .map_err(|_| config_err("phrases", "too many pattern heads".into()))?;
            }
            heads[e.phrases as usize - 1].push(idx as u32);
        }
        for list in &mut heads {
            list.sort_by_key(|&i| std::cmp::Reverse(patterns[i as usize].words.len()));
        }
        Ok(CompiledTelco {
            patterns,
            heads,
            emoji,
            sarcasm_valence: rules.sarcasm_valence,
            sarcasm_min_complaint: rules.sarcasm_min_complaint,
            complaint_positive_scale: rules.complaint_positive_scale,
        })
    }

    /// True when `c` is an emoji this layer scores itself.
    #[inline]
    pub(crate) fn is_emoji_token(&self, c: char) -> bool {
        !c.is_ascii() && self.emoji.binary_search(&c).is_ok()
    }

    fn matches(&self, p: &Pattern, s: &Scratch, i: usize) -> bool {
        if i + p.words.len() > s.toks.len() {
            return false;
        }
        p.words.iter().enumerate().skip(1).all(|(k, w)| {
            let tok = s.lw(i + k).trim_matches(|c: char| c.is_ascii_punctuation());
            match w {
                PWord::Lit(l) => tok == &**l,
                PWord::Any => true,
                PWord::Number => tok.as_bytes().first().is_some_and(u8::is_ascii_digit),
            }
        })
    }

    /// Finds pattern matches, neutralises phrase words and fixes phrase valences.
    pub(crate) fn prepare(&self, s: &mut Scratch, is_cap_diff: bool) {
        s.sarcasm.clear();
        s.phrases.clear();
        let n = s.toks.len();
        let mut i = 0;
        while i < n {
            let h = s.toks[i].e.phrases;
            if h != 0 {
                let hit = self.heads[h as usize - 1]
                    .iter()
                    .map(|&pi| &self.patterns[pi as usize])
                    .find(|p| self.matches(p, s, i));
                if let Some(p) = hit {
                    let b = i + p.words.len() - 1;
                    if p.sarcasm {
                        s.sarcasm.push((i as u32, b as u32));
                    } else {
                        s.phrases.push((i as u32, b as u32, p.valence));
                        for t in &mut s.toks[i..=b] {
                            t.e = Entry::default();
                            t.neg = false;
                        }
                    }
                    i = b + 1;
                    continue;
                }
            }
            i += 1;
        }
        for k in 0..s.phrases.len() {
            let (a, b, base) = s.phrases[k];
            let (a, b) = (a as usize, b as usize);
            let mut v = base;
            if base != 0.0 {
                if is_cap_diff && s.toks[a..=b].iter().all(|t| t.upper) {
                    v += if v > 0.0 { C_INCR } else { -C_INCR };
                }
                v = apply_modifiers(v, s, a, is_cap_diff, false);
            }
            s.toks[b].fixed = Some(v);
        }
    }

    /// Re-scores praise patterns as sarcasm when the rest of the text complains.
    pub(crate) fn apply_sarcasm(&self, s: &Scratch, sent: &mut [f64]) {
        if s.sarcasm.is_empty() {
            return;
        }
        let in_pattern = |k: usize| {
            s.sarcasm
                .iter()
                .any(|&(a, b)| (a as usize..=b as usize).contains(&k))
        };
        let rest: f64 = (0..sent.len())
            .filter(|&k| !in_pattern(k))
            .map(|k| sent[k])
            .sum();
        if rest > -self.sarcasm_min_complaint {
            return;
        }
        let but = s.toks.iter().position(|t| t.e.word == word::BUT);
        for &(a, b) in &s.sarcasm {
            let (a, b) = (a as usize, b as usize);
            if but.is_some_and(|bi| bi < a) {
                continue;
            }
            sent[a..=b].fill(0.0);
            sent[b] = self.sarcasm_valence;
        }
    }

    /// Damps positive valences in a text that also complains (see
    /// [`TelcoRules::complaint_positive_scale`]).
    /// A complaint that turns into thanks after "but" ("it was down all day
    /// but thanks for fixing it") is a resolution: not damped.
    pub(crate) fn apply_complaint_prior(&self, s: &Scratch, sent: &mut [f64]) {
        if self.complaint_positive_scale >= 1.0 || !sent.iter().any(|&v| v < 0.0) {
            return;
        }
        if let Some(but) = s.toks.iter().rposition(|t| t.e.word == word::BUT) {
            if sent[but..].iter().all(|&v| v >= 0.0) {
                return;
            }
        }
        for v in sent.iter_mut().filter(|v| **v > 0.0) {
            *v *= self.complaint_positive_scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_telco_rules_deserialize_and_validate() {
        let rules: TelcoRules = serde_json::from_str(
            r#"{"phrases": {"router on fire": -3.0}, "sarcasm_valence": -2.0}"#,
        )
        .unwrap();
        assert_eq!(rules.phrases.len(), 1);
        assert_eq!(rules.words, TelcoRules::default().words);
        assert!(serde_json::from_str::<TelcoRules>(r#"{"bogus": 1}"#).is_err());

        let mut words = super::super::lexicon::vader_words().clone();
        let bad = TelcoRules {
            phrases: map(&[("* is down", -1.0)]),
            ..TelcoRules::default()
        };
        assert!(CompiledTelco::compile(&bad, &mut words).is_err());
        let bad = TelcoRules {
            emoji: map(&[("ab", -1.0)]),
            ..TelcoRules::default()
        };
        assert!(CompiledTelco::compile(&bad, &mut words).is_err());
        let mut words = super::super::lexicon::vader_words().clone();
        assert!(CompiledTelco::compile(&TelcoRules::default(), &mut words).is_ok());
    }
}
