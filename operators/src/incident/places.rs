//! The built-in gazetteer: towns → the CRM's region names, for authors
//! without a CRM region.

use std::collections::BTreeMap;

use aho_corasick::AhoCorasick;

use crate::error::{OperatorError, Result};
use crate::text::{boundaries, is_whole_match, phrase_automaton};

/// The gazetteer of `incident.place_regions`: a place's region, and the
/// region of a town a text names.
#[derive(Debug)]
pub(super) struct Gazetteer {
    regions: BTreeMap<String, String>,
    /// Towns, in the automaton's pattern order, and their regions.
    towns: Vec<(String, String)>,
    automaton: AhoCorasick,
}

impl Gazetteer {
    pub(super) fn new(place_regions: &BTreeMap<String, String>) -> Result<Self> {
        let towns: Vec<(String, String)> = place_regions
            .iter()
            .map(|(t, r)| (t.trim().to_lowercase(), r.clone()))
            .filter(|(t, _)| !t.is_empty())
            .collect();
        let automaton = phrase_automaton(&towns.iter().map(|(t, _)| t).collect::<Vec<_>>())
            .map_err(|e| OperatorError::Config {
                key: "incident.place_regions".into(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            regions: towns.iter().cloned().collect(),
            towns,
            automaton,
        })
    }

    /// The region of a place ("Newcastle, England": its first part).
    pub(super) fn of_place(&self, place: &str) -> Option<&str> {
        let town = place.split(',').next()?.trim().to_lowercase();
        self.regions.get(&town).map(String::as_str)
    }

    /// The region of the first town the text names as a name: whole words,
    /// written with a capital ("Reading", not "reading"; "Bath", not "bath").
    pub(super) fn in_text(&self, text: &str) -> Option<&str> {
        self.automaton.find_overlapping_iter(text).find_map(|m| {
            let (town, region) = &self.towns[m.pattern().as_usize()];
            let capital = text[m.start()..]
                .chars()
                .next()
                .is_some_and(char::is_uppercase);
            (capital && is_whole_match(text, m.start(), m.end(), boundaries(town)))
                .then_some(region.as_str())
        })
    }
}

/// UK towns → the CRM's region names (the towns the synthetic generator and
/// most UK care traffic name).
pub(super) fn default_place_regions() -> BTreeMap<String, String> {
    TOWNS
        .iter()
        .flat_map(|(r, towns)| towns.iter().map(move |t| (t.to_string(), r.to_string())))
        .collect()
}

/// Region → its towns.
const TOWNS: &[(&str, &[&str])] = &[
    (
        "london",
        &[
            "london",
            "hackney",
            "islington",
            "camden",
            "lewisham",
            "brixton",
            "ealing",
            "the city",
            "holborn",
        ],
    ),
    (
        "south_east",
        &[
            "brighton",
            "guildford",
            "reading",
            "oxford",
            "southampton",
            "portsmouth",
            "maidstone",
            "milton keynes",
            "canterbury",
        ],
    ),
    (
        "south_west",
        &[
            "bristol",
            "exeter",
            "plymouth",
            "truro",
            "bath",
            "taunton",
            "gloucester",
            "bournemouth",
        ],
    ),
    (
        "east_of_england",
        &[
            "cambridge",
            "norwich",
            "ipswich",
            "colchester",
            "chelmsford",
            "luton",
            "stevenage",
            "peterborough",
        ],
    ),
    (
        "west_midlands",
        &[
            "birmingham",
            "coventry",
            "wolverhampton",
            "walsall",
            "dudley",
            "stoke-on-trent",
            "worcester",
            "hereford",
        ],
    ),
    (
        "east_midlands",
        &["nottingham", "leicester", "derby", "northampton", "lincoln"],
    ),
    (
        "north_west",
        &[
            "manchester",
            "liverpool",
            "warrington",
            "preston",
            "bolton",
            "chester",
            "blackburn",
            "carlisle",
            "oldham",
            "stockport",
            "wigan",
        ],
    ),
    (
        "north_east",
        &["newcastle", "sunderland", "durham", "middlesbrough"],
    ),
    (
        "yorkshire_humber",
        &[
            "leeds",
            "sheffield",
            "bradford",
            "hull",
            "york",
            "huddersfield",
            "halifax",
            "doncaster",
            "wakefield",
        ],
    ),
    (
        "scotland",
        &[
            "edinburgh",
            "glasgow",
            "aberdeen",
            "dundee",
            "kirkcaldy",
            "paisley",
            "inverness",
            "falkirk",
            "motherwell",
        ],
    ),
    (
        "wales",
        &[
            "cardiff",
            "swansea",
            "newport",
            "bangor",
            "llandrindod wells",
        ],
    ),
    ("northern_ireland", &["belfast"]),
];
