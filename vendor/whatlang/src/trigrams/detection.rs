use std::sync::OnceLock;

use hashbrown::HashMap;

#[cfg(test)]
use super::LangProfile;
use super::LangProfileList;
use super::utils::{TrigramsWithPositions, get_trigrams_with_positions};
use super::{ARABIC_LANGS, CYRILLIC_LANGS, DEVANAGARI_LANGS, HEBREW_LANGS, LATIN_LANGS};
use super::{MAX_TOTAL_DISTANCE, MAX_TRIGRAM_DISTANCE, Trigram};
use crate::Lang;
use crate::core::{FilterList, Info, InternalQuery, Text, calculate_confidence};
use crate::scripts::grouping::MultiLangScript;

#[derive(Debug)]
pub struct RawOutcome {
    pub trigrams_count: usize,
    #[allow(dead_code)]
    pub raw_distances: Vec<(Lang, u32)>,
    pub scores: Vec<(Lang, f64)>,
}

#[inline]
pub fn detect(iquery: &InternalQuery) -> Option<Info> {
    let raw_outcome = raw_detect(iquery);
    let RawOutcome {
        trigrams_count,
        scores,
        ..
    } = raw_outcome;

    let mut raw_scores_iter = scores.into_iter();

    let opt_lang_score1 = raw_scores_iter.next();
    let opt_lang_score2 = raw_scores_iter.next();

    // TODO: Logic is duplicated in alphabets. Consider refactoring
    opt_lang_score1.map(|(lang1, score1)| {
        let script = iquery.multi_lang_script.to_script();
        let confidence = if let Some((_, score2)) = opt_lang_score2 {
            calculate_confidence(score1, score2, trigrams_count)
        } else {
            1.0
        };
        Info::new(script, lang1, confidence)
    })
}

#[inline]
pub fn raw_detect(iquery: &InternalQuery) -> RawOutcome {
    let lang_profile_list = script_to_lang_profile_list(iquery.multi_lang_script);
    let index = script_to_profile_index(iquery.multi_lang_script);
    calculate_scores_in_profiles(&iquery.text, iquery.filter_list, lang_profile_list, index)
}

// Switchboard patch: an inverted index of each script's profiles, so that a
// text's distance to every language of the script costs one hash lookup per
// trigram of the text instead of one per trigram of every profile (300 per
// language).
fn script_to_profile_index(script: MultiLangScript) -> &'static ProfileIndex {
    use MultiLangScript as MLS;
    static INDEXES: [OnceLock<ProfileIndex>; 5] = [const { OnceLock::new() }; 5];
    let slot = match script {
        MLS::Latin => 0,
        MLS::Cyrillic => 1,
        MLS::Arabic => 2,
        MLS::Devanagari => 3,
        MLS::Hebrew => 4,
    };
    INDEXES[slot].get_or_init(|| ProfileIndex::new(script_to_lang_profile_list(script)))
}

/// Where each trigram occurs in the profiles of one list.
struct ProfileIndex {
    /// Trigram → range of `entries`.
    ranges: HashMap<Trigram, (u32, u32)>,
    /// (index of the language in the list, position in its profile).
    entries: Vec<(u16, u16)>,
}

impl ProfileIndex {
    fn new(list: LangProfileList) -> Self {
        let mut by_trigram: HashMap<Trigram, Vec<(u16, u16)>> = HashMap::new();
        for (l, &(_, profile)) in list.iter().enumerate() {
            for (i, &trigram) in profile.iter().enumerate() {
                by_trigram
                    .entry(trigram)
                    .or_default()
                    .push((l as u16, i as u16));
            }
        }
        let mut ranges = HashMap::with_capacity(by_trigram.len());
        let mut entries = Vec::new();
        for (trigram, at) in by_trigram {
            ranges.insert(trigram, (entries.len() as u32, at.len() as u32));
            entries.extend(at);
        }
        ProfileIndex { ranges, entries }
    }
}

fn script_to_lang_profile_list(script: MultiLangScript) -> LangProfileList {
    use MultiLangScript as MLS;
    match script {
        MLS::Latin => LATIN_LANGS,
        MLS::Cyrillic => CYRILLIC_LANGS,
        MLS::Arabic => ARABIC_LANGS,
        MLS::Devanagari => DEVANAGARI_LANGS,
        MLS::Hebrew => HEBREW_LANGS,
    }
}

#[inline]
fn calculate_scores_in_profiles(
    text: &Text,
    filter_list: &FilterList,
    lang_profile_list: LangProfileList,
    index: &ProfileIndex,
) -> RawOutcome {
    let mut lang_distances: Vec<(Lang, u32)> = vec![];

    let TrigramsWithPositions {
        trigram_positions, ..
    } = get_trigrams_with_positions(&text.lowercase());
    let unique_trigrams_count = trigram_positions.len();

    // Switchboard patch: every profile trigram adds MAX_TRIGRAM_DISTANCE to
    // a language's distance unless the text has it, when it adds the
    // difference of the two positions instead. So the distance is
    // MAX_TRIGRAM_DISTANCE * (profile length) plus, for each profile entry
    // the text has, (difference - MAX_TRIGRAM_DISTANCE); the entries the
    // text has are found from the text's trigrams through the index. The
    // integers are the same as `calculate_distance`'s.
    let mut found: Vec<i64> = vec![0; lang_profile_list.len()];
    for (trigram, &n) in &trigram_positions {
        if let Some(&(start, len)) = index.ranges.get(trigram) {
            for &(l, i) in &index.entries[start as usize..(start + len) as usize] {
                found[l as usize] += (n as i64 - i as i64).abs() - MAX_TRIGRAM_DISTANCE as i64;
            }
        }
    }

    for (l, &(lang, lang_trigrams)) in lang_profile_list.iter().enumerate() {
        if !filter_list.is_allowed(lang) {
            continue;
        }
        let total = (MAX_TRIGRAM_DISTANCE as i64 * lang_trigrams.len() as i64 + found[l]) as u32;
        let dist = finish_distance(total, &trigram_positions);
        lang_distances.push(((lang), dist));
    }

    // Sort languages by distance
    lang_distances.sort_unstable_by_key(|(_, dist)| *dist);

    let max_dist = unique_trigrams_count as u32 * MAX_TRIGRAM_DISTANCE;

    let raw_scores = lang_distances
        .iter()
        .map(|&(lang, distance)| (lang, distance_to_raw_score(distance, max_dist)))
        .collect();

    RawOutcome {
        trigrams_count: unique_trigrams_count,
        scores: raw_scores,
        raw_distances: lang_distances,
    }
}

// The published crate's distance, kept to check the indexed one against.
#[cfg(test)]
fn calculate_distance(lang_trigrams: LangProfile, text_trigrams: &HashMap<Trigram, u32>) -> u32 {
    let mut total_dist = 0u32;

    for (i, &trigram) in lang_trigrams.iter().enumerate() {
        let dist = match text_trigrams.get(&trigram) {
            Some(&n) => (n as i32 - i as i32).unsigned_abs(),
            None => MAX_TRIGRAM_DISTANCE,
        };
        total_dist += dist;
    }

    finish_distance(total_dist, text_trigrams)
}

// The published crate's end of `calculate_distance`, unchanged.
#[inline]
fn finish_distance(mut total_dist: u32, text_trigrams: &HashMap<Trigram, u32>) -> u32 {
    let count = text_trigrams.len() as u32;

    if MAX_TRIGRAM_DISTANCE > count {
        let delta = MAX_TRIGRAM_DISTANCE - count;
        total_dist -= delta * MAX_TRIGRAM_DISTANCE;
    }

    total_dist.clamp(0, MAX_TOTAL_DISTANCE)
}

#[inline]
fn distance_to_raw_score(distance: u32, max_distance: u32) -> f64 {
    let similarity = max_distance - distance;
    similarity as f64 / max_distance as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    // Switchboard patch: the indexed distances are the published ones.
    #[test]
    fn indexed_distances_are_the_published_distances() {
        // Over 600 distinct trigrams: text positions past the profiles' 300.
        let mut x = 12345u32;
        let long: String = (0..4000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b"etaoinshrdlucmfwyp  "[(x >> 16) as usize % 20] as char
            })
            .collect::<String>()
            + " the broadband is down again and nobody can tell me why";
        let long_positions = get_trigrams_with_positions(&Text::new(&long).lowercase());
        assert!(long_positions.trigram_positions.len() >= 600);
        let texts = [
            "Die Ordnung muss für immer in diesem Codebase bleiben",
            "my broadband has been down for 3 days and nobody can tell me why",
            "Od 3 dni nie mam internetu, nikt nie odbiera telefonu. Skandal!",
            "Dim band eang ers 4 diwrnod yn Caerdydd",
            "нет интернета уже три дня",
            "الإنترنت مقطوع منذ أيام ولا أحد يرد",
            "मेरा इंटरनेट तीन दिन से बंद है, कृपया मदद करें",
            "मेरा इंटरनेट बंद है",
            "אין לי אינטרנט כבר שלושה ימים",
            "מיר האָבן נישט קיין אינטערנעט",
            "a",
            "",
            "zzzz qqqq xxxx",
            &long,
        ];
        let scripts = [
            MultiLangScript::Latin,
            MultiLangScript::Cyrillic,
            MultiLangScript::Arabic,
            MultiLangScript::Devanagari,
            MultiLangScript::Hebrew,
        ];
        for text in texts {
            let positions =
                get_trigrams_with_positions(&Text::new(text).lowercase()).trigram_positions;
            for script in scripts {
                let list = script_to_lang_profile_list(script);
                let iq = InternalQuery {
                    text: Text::new(text),
                    filter_list: &FilterList::default(),
                    multi_lang_script: script,
                };
                let indexed = raw_detect(&iq).raw_distances;
                let mut published: Vec<(Lang, u32)> = list
                    .iter()
                    .map(|&(lang, profile)| (lang, calculate_distance(profile, &positions)))
                    .collect();
                published.sort_unstable_by_key(|(_, dist)| *dist);
                assert_eq!(indexed, published, "{text:?} in {script:?}");
            }
        }
    }

    #[test]
    fn test_when_german_is_given() {
        let text = "Die Ordnung muss für immer in diesem Codebase bleiben";
        let iq = InternalQuery {
            text: Text::new(text),
            filter_list: &FilterList::default(),
            multi_lang_script: MultiLangScript::Latin,
        };
        let raw_outcome = raw_detect(&iq);

        assert_eq!(raw_outcome.trigrams_count, 50);

        let &(first_lang, first_score) = raw_outcome.scores.first().unwrap();
        let &(_last_lang, last_score) = raw_outcome.scores.last().unwrap();

        assert_eq!(first_lang, Lang::Deu);

        assert!(first_score >= 0.0);
        assert!(first_score <= 1.0);

        assert!(last_score >= 0.0);
        assert!(last_score <= 1.0);
    }
}
