//! The built-in rule set for UK telco care traffic (mobile, broadband, TV).
//!
//! Weights: specific fault phrases 1.0–2.0, generic topic words 0.5–0.8,
//! praise and enquiry wording lower so that any concrete problem in the same
//! text wins the primary category ("thanks, but still no internet").

use super::taxonomy::{Category, PhraseRule};

pub(super) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn rule(category: Category, weight: f32, phrases: &[&str]) -> PhraseRule {
    PhraseRule {
        category,
        phrases: strings(phrases),
        weight,
    }
}

/// Phrases that deny the topic that follows them (see the module docs for
/// why bare `no` and `never` are not here).
pub(super) const NEGATORS: &[&str] = &[
    "not",
    "isn't",
    "isnt",
    "aren't",
    "wasn't",
    "weren't",
    "ain't",
    "it's not",
    "nothing to do with",
    "unrelated to",
    "no issue with",
    "no issues with",
    "no problem with",
    "no problems with",
    "no complaints about",
    "no complaints with",
    "never had a problem with",
    "never had an issue with",
    "never had any problems with",
    "no need for",
    "no need to",
    "don't need",
    "dont need",
    "doesn't need",
    "don't want to",
    "dont want to",
    "not looking to",
    "not planning to",
    "rather than",
    "instead of",
];

/// Tokens that may stand between a negator and the phrase it negates.
pub(super) const FILLERS: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "our",
    "your",
    "this",
    "that",
    "it",
    "its",
    "it's",
    "is",
    "was",
    "be",
    "about",
    "regarding",
    "re",
    "with",
    "any",
    "really",
    "actually",
    "even",
    "just",
    "to",
    "for",
    "of",
    "me",
    "going",
    "planning",
    "trying",
    "asking",
    "complaining",
    "writing",
    "here",
    "question",
    "questions",
    "issue",
    "at",
    "all",
    "yet",
    "another",
    "new",
    "send",
    "book",
    "sending",
    "booking",
    "i",
    "i'm",
    "im",
    "am",
    "want",
    "looking",
    "more",
];

/// Phrases that only shield shorter phrases inside them.
pub(super) const IGNORE: &[&str] = &[
    "leaving me",
    "left me",
    "thanks for nothing",
    "thank you for nothing",
    "no thanks",
    "no thanks to",
    "thanks a lot for nothing",
    "cancel out",
    "cancelled out",
    "order of",
    "in order to",
    "bill gates",
    "a charge of",
    "signal boost",
    "delivery of service",
    "free delivery",
    // "deliver" as a verb of service, not a parcel (issue 26).
    "fail to deliver",
    "fails to deliver",
    "failed to deliver",
    "failing to deliver",
    "deliver through",
    "deliver on",
    "deliver what",
    "deliver a decent",
    "deliver a good",
    "deliver the service",
    "deliver service",
    "deliver good",
    // "love" that is not praise.
    "for the love of god",
    "for the love of",
    "gotta love",
    "got to love",
    "love that",
    "love how",
    "love when",
    "love it when",
    "thank goodness",
    "thank god",
    "pay attention",
    "will post",
    "post results",
    "screw ups",
];

pub(super) fn default_rules() -> Vec<PhraseRule> {
    all_rules().map(|&(c, w, p)| rule(c, w, p)).collect()
}

/// The built-in rules: (category, weight per match, phrases), in two parts.
fn all_rules() -> impl Iterator<Item = &'static (Category, f32, &'static [&'static str])> {
    super::rules_service::RULES
        .iter()
        .chain(super::rules_account::RULES.iter())
}
