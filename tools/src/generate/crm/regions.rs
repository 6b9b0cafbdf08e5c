//! UK regions: population weights, postcode areas, towns.

use crate::generate::enc::weighted;

/// A UK region with its population weight, postcode areas and a town per area.
pub(super) struct Region {
    pub(super) name: &'static str,
    weight: u32,
    pub(super) areas: &'static [&'static str],
    pub(super) towns: &'static [&'static str],
}

pub(super) static REGIONS_TABLE: [Region; 12] = [
    Region {
        name: "london",
        weight: 130,
        areas: &["E", "N", "NW", "SE", "SW", "W", "EC", "WC"],
        towns: &[
            "Hackney",
            "Islington",
            "Camden",
            "Lewisham",
            "Brixton",
            "Ealing",
            "the City",
            "Holborn",
        ],
    },
    Region {
        name: "south_east",
        weight: 140,
        areas: &["BN", "GU", "RG", "OX", "SO", "PO", "ME", "MK", "CT"],
        towns: &[
            "Brighton",
            "Guildford",
            "Reading",
            "Oxford",
            "Southampton",
            "Portsmouth",
            "Maidstone",
            "Milton Keynes",
            "Canterbury",
        ],
    },
    Region {
        name: "south_west",
        weight: 85,
        areas: &["BS", "EX", "PL", "TR", "BA", "TA", "GL", "BH"],
        towns: &[
            "Bristol",
            "Exeter",
            "Plymouth",
            "Truro",
            "Bath",
            "Taunton",
            "Gloucester",
            "Bournemouth",
        ],
    },
    Region {
        name: "east_of_england",
        weight: 95,
        areas: &["CB", "NR", "IP", "CO", "CM", "LU", "SG", "PE"],
        towns: &[
            "Cambridge",
            "Norwich",
            "Ipswich",
            "Colchester",
            "Chelmsford",
            "Luton",
            "Stevenage",
            "Peterborough",
        ],
    },
    Region {
        name: "west_midlands",
        weight: 90,
        areas: &["B", "CV", "WV", "WS", "DY", "ST", "WR", "HR"],
        towns: &[
            "Birmingham",
            "Coventry",
            "Wolverhampton",
            "Walsall",
            "Dudley",
            "Stoke-on-Trent",
            "Worcester",
            "Hereford",
        ],
    },
    Region {
        name: "east_midlands",
        weight: 70,
        areas: &["NG", "LE", "DE", "NN", "LN"],
        towns: &["Nottingham", "Leicester", "Derby", "Northampton", "Lincoln"],
    },
    Region {
        name: "north_west",
        weight: 110,
        areas: &[
            "M", "L", "WA", "PR", "BL", "CH", "BB", "CA", "OL", "SK", "WN",
        ],
        towns: &[
            "Manchester",
            "Liverpool",
            "Warrington",
            "Preston",
            "Bolton",
            "Chester",
            "Blackburn",
            "Carlisle",
            "Oldham",
            "Stockport",
            "Wigan",
        ],
    },
    Region {
        name: "north_east",
        weight: 40,
        areas: &["NE", "SR", "DH", "TS"],
        towns: &["Newcastle", "Sunderland", "Durham", "Middlesbrough"],
    },
    Region {
        name: "yorkshire_humber",
        weight: 80,
        areas: &["LS", "S", "BD", "HU", "YO", "HD", "HX", "DN", "WF"],
        towns: &[
            "Leeds",
            "Sheffield",
            "Bradford",
            "Hull",
            "York",
            "Huddersfield",
            "Halifax",
            "Doncaster",
            "Wakefield",
        ],
    },
    Region {
        name: "scotland",
        weight: 80,
        areas: &["EH", "G", "AB", "DD", "KY", "PA", "IV", "FK", "ML"],
        towns: &[
            "Edinburgh",
            "Glasgow",
            "Aberdeen",
            "Dundee",
            "Kirkcaldy",
            "Paisley",
            "Inverness",
            "Falkirk",
            "Motherwell",
        ],
    },
    Region {
        name: "wales",
        weight: 47,
        areas: &["CF", "SA", "NP", "LL", "LD"],
        towns: &[
            "Cardiff",
            "Swansea",
            "Newport",
            "Bangor",
            "Llandrindod Wells",
        ],
    },
    Region {
        name: "northern_ireland",
        weight: 28,
        areas: &["BT"],
        towns: &["Belfast"],
    },
];

fn region_weights() -> &'static [u32; 12] {
    static W: std::sync::OnceLock<[u32; 12]> = std::sync::OnceLock::new();
    W.get_or_init(|| std::array::from_fn(|k| REGIONS_TABLE[k].weight))
}

/// The region names used in the `region` column.
pub const REGIONS: [&str; 12] = [
    "london",
    "south_east",
    "south_west",
    "east_of_england",
    "west_midlands",
    "east_midlands",
    "north_west",
    "north_east",
    "yorkshire_humber",
    "scotland",
    "wales",
    "northern_ireland",
];

/// Index into [`REGIONS`] of a region name.
pub fn region_index(name: &str) -> Option<usize> {
    REGIONS.iter().position(|r| *r == name)
}

/// Picks a region index by population weight from a hash (used for outages).
pub(crate) fn region_by_weight(h: u64) -> usize {
    weighted(h, region_weights())
}

/// Towns of region `r` (index into [`REGIONS`]).
pub(crate) fn region_towns(r: usize) -> &'static [&'static str] {
    REGIONS_TABLE[r].towns
}
