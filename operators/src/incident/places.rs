//! The built-in gazetteer: towns → the CRM's region names, for authors
//! without a CRM region.

use std::collections::BTreeMap;

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
