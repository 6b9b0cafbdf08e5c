//! Synthetic CRM snapshot: `customers.parquet` and `identities.parquet`
//! (see SPEC "CRM snapshots").
//!
//! Every attribute of customer `i` is a pure function of `(seed, i)`, so the
//! mention and contact generators can pick real customers (and write their
//! handles, e-mail addresses and phone numbers the way the CRM holds them, or
//! differently spelt) without reading the files back.
//!
//! Identity values are unique per kind across customers (after the join's
//! normalisation: case-insensitive, no leading `@`, phones in E.164), and the
//! values given to unknown authors by the mention generator never collide
//! with them.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, TimeZone, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::enc::{below, h3, unit, weighted};
use crate::error::{Result, ToolsError};

/// Settings of [`write_crm_snapshot`].
#[derive(Debug, Clone)]
pub struct CrmGenConfig {
    /// Number of customers (`customer_id(0)` … `customer_id(customers - 1)`).
    pub customers: usize,
    /// Seed; the same seed and size always give the same snapshot.
    pub seed: u64,
    /// Start of validity of the snapshot; names the version directory.
    pub valid_from: DateTime<Utc>,
}

impl Default for CrmGenConfig {
    /// 100 000 customers, seed 42, valid from 2026-11-22T00:00:00Z.
    fn default() -> Self {
        Self {
            customers: 100_000,
            seed: 42,
            valid_from: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        }
    }
}

/// Rows per Arrow record batch written to the Parquet files.
const CHUNK: usize = 64 * 1024;

// Salts: one per independent attribute.
const S_SEGMENT: u64 = 1;
const S_TIER: u64 = 2;
const S_REGION: u64 = 3;
const S_AREA: u64 = 4;
const S_DISTRICT: u64 = 5;
const S_PRODUCTS: u64 = 6;
const S_VULNERABLE: u64 = 7;
const S_STATUS: u64 = 8;
const S_FIRST: u64 = 9;
const S_LAST: u64 = 10;
const S_BUSINESS: u64 = 11;
const S_HAS: u64 = 20; // + kind index
const S_STYLE: u64 = 30; // + kind index
const S_CASE: u64 = 40; // + kind index
const S_DOMAIN: u64 = 50;
const S_OFFSET: u64 = 60;

/// Identity kinds of the `identities` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// Twitter/X screen name.
    Twitter,
    /// Facebook user (page-scoped) id.
    Facebook,
    /// E-mail address.
    Email,
    /// Phone number (UK, written in mixed styles).
    Phone,
    /// Instagram username.
    Instagram,
}

impl IdentityKind {
    /// All kinds, in the order identities are written per customer.
    pub const ALL: [IdentityKind; 5] = [
        IdentityKind::Twitter,
        IdentityKind::Facebook,
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::Instagram,
    ];

    /// The `kind` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Twitter => "twitter",
            IdentityKind::Facebook => "facebook",
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Instagram => "instagram",
        }
    }

    fn index(self) -> u64 {
        self as u64
    }

    /// Probability that a customer has this kind (before the e-mail fallback).
    fn share(self) -> f64 {
        match self {
            IdentityKind::Twitter => 0.38,
            IdentityKind::Facebook => 0.25,
            IdentityKind::Email => 0.70,
            IdentityKind::Phone => 0.55,
            IdentityKind::Instagram => 0.10,
        }
    }
}

/// A UK region with its population weight, postcode areas and a town per area.
struct Region {
    name: &'static str,
    weight: u32,
    areas: &'static [&'static str],
    towns: &'static [&'static str],
}

static REGIONS_TABLE: [Region; 12] = [
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

static FIRST_NAMES: [&str; 64] = [
    "Sarah",
    "James",
    "Emma",
    "Oliver",
    "Sophie",
    "Harry",
    "Chloe",
    "Jack",
    "Amelia",
    "George",
    "Olivia",
    "Thomas",
    "Jessica",
    "William",
    "Emily",
    "Daniel",
    "Hannah",
    "Joshua",
    "Lucy",
    "Mohammed",
    "Grace",
    "Liam",
    "Megan",
    "Ryan",
    "Charlotte",
    "Connor",
    "Ellie",
    "Aidan",
    "Zara",
    "Ravi",
    "Priya",
    "Kwame",
    "Aisha",
    "Tomasz",
    "Agnieszka",
    "Siobhan",
    "Callum",
    "Rhys",
    "Cerys",
    "Dylan",
    "Fiona",
    "Graham",
    "Karen",
    "Steve",
    "Dave",
    "Gareth",
    "Julie",
    "Paul",
    "Mark",
    "Susan",
    "Linda",
    "Ian",
    "Margaret",
    "Brian",
    "Tracey",
    "Wayne",
    "Nadia",
    "Imran",
    "Yusuf",
    "Fatima",
    "Ewan",
    "Isla",
    "Niamh",
    "Declan",
];

static LAST_NAMES: [&str; 64] = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Khan",
    "Ahmed",
    "Kowalski",
    "Nowak",
    "O'Brien",
    "MacDonald",
    "Campbell",
    "Stewart",
    "Okafor",
    "Singh",
];

static BUSINESS_SUFFIX: [&str; 12] = [
    "Plumbing Ltd",
    "& Sons",
    "Accountancy LLP",
    "Dental Practice",
    "Motors",
    "Estates Ltd",
    "Catering Ltd",
    "Joinery",
    "Solicitors",
    "Veterinary Surgery",
    "Builders Ltd",
    "Hair & Beauty",
];

static WHOLESALE_A: [&str; 8] = [
    "North", "Blue", "Swift", "Kestrel", "Harbour", "Summit", "Meridian", "Beacon",
];
static WHOLESALE_B: [&str; 6] = [
    "wave Networks Ltd",
    "link Telecom Ltd",
    "net plc",
    "fibre Ltd",
    "comms Ltd",
    "stream Broadband Ltd",
];

static EMAIL_DOMAINS: [&str; 10] = [
    "gmail.com",
    "hotmail.co.uk",
    "outlook.com",
    "yahoo.co.uk",
    "btinternet.com",
    "icloud.com",
    "albionmail.co.uk",
    "live.co.uk",
    "aol.com",
    "sky.com",
];
static EMAIL_DOMAIN_WEIGHTS: [u32; 10] = [30, 18, 12, 8, 8, 8, 6, 4, 3, 3];

/// One generated customer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `customer_id`.
    pub customer_id: String,
    /// Person or company name.
    pub name: String,
    /// `consumer`, `business` or `wholesale`.
    pub segment: &'static str,
    /// `standard`, `plus` or `premier`.
    pub tier: &'static str,
    /// One of [`REGIONS`].
    pub region: &'static str,
    /// Postcode district inside the region, e.g. `M14`.
    pub postcode_district: String,
    /// Town of the postcode area (used by mention texts).
    pub town: &'static str,
    /// Products held.
    pub products: Vec<&'static str>,
    /// Flagged vulnerable.
    pub vulnerable: bool,
    /// `active`, `in_arrears`, `suspended` or `closed`.
    pub account_status: &'static str,
}

/// The `customer_id` of customer index `i`, e.g. `C00000042`.
pub fn customer_id(i: usize) -> String {
    format!("C{i:08}")
}

fn segment_idx(seed: u64, i: usize) -> usize {
    weighted(h3(seed, i as u64, S_SEGMENT), &[85, 12, 3])
}

/// Segment of customer `i`: `consumer` (~85 %), `business` (~12 %), `wholesale` (~3 %).
pub fn customer_segment(seed: u64, i: usize) -> &'static str {
    ["consumer", "business", "wholesale"][segment_idx(seed, i)]
}

/// Tier of customer `i`.
pub fn customer_tier(seed: u64, i: usize) -> &'static str {
    let w: &[u32] = match segment_idx(seed, i) {
        0 => &[70, 22, 8],
        1 => &[50, 30, 20],
        _ => &[0, 40, 60],
    };
    ["standard", "plus", "premier"][weighted(h3(seed, i as u64, S_TIER), w)]
}

/// Index into [`REGIONS`] of customer `i`'s region.
pub(crate) fn region_idx(seed: u64, i: usize) -> usize {
    region_by_weight(h3(seed, i as u64, S_REGION))
}

/// Region of customer `i` (one of [`REGIONS`], weighted by population).
pub fn customer_region(seed: u64, i: usize) -> &'static str {
    REGIONS_TABLE[region_idx(seed, i)].name
}

fn area_idx(seed: u64, i: usize, r: usize) -> usize {
    below(h3(seed, i as u64, S_AREA), REGIONS_TABLE[r].areas.len())
}

/// Postcode district of customer `i`, consistent with its region (e.g. `M14`, `CF10`).
pub fn customer_postcode_district(seed: u64, i: usize) -> String {
    let r = region_idx(seed, i);
    let area = REGIONS_TABLE[r].areas[area_idx(seed, i, r)];
    let max = if area.len() == 2 && (area == "EC" || area == "WC") {
        4
    } else {
        20
    };
    let n = 1 + below(h3(seed, i as u64, S_DISTRICT), max);
    format!("{area}{n}")
}

/// Town of customer `i` (matches its postcode area).
pub fn customer_town(seed: u64, i: usize) -> &'static str {
    let r = region_idx(seed, i);
    REGIONS_TABLE[r].towns[area_idx(seed, i, r)]
}

fn name_parts(seed: u64, i: usize) -> (&'static str, &'static str) {
    let f = FIRST_NAMES[below(h3(seed, i as u64, S_FIRST), FIRST_NAMES.len())];
    let l = LAST_NAMES[below(h3(seed, i as u64, S_LAST), LAST_NAMES.len())];
    (f, l)
}

/// Display name of the person behind customer `i` (also for business accounts:
/// the named contact), e.g. `Sarah Jones`.
pub fn person_name(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    format!("{f} {l}")
}

/// The `name` column: a person for consumers, a company otherwise.
pub fn customer_name(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let h = h3(seed, i as u64, S_BUSINESS);
    match segment_idx(seed, i) {
        0 => format!("{f} {l}"),
        1 => format!("{l} {}", BUSINESS_SUFFIX[below(h, BUSINESS_SUFFIX.len())]),
        _ => format!(
            "{}{}",
            WHOLESALE_A[below(h, WHOLESALE_A.len())],
            WHOLESALE_B[below(h >> 20, WHOLESALE_B.len())]
        ),
    }
}

/// Products held by customer `i` (never empty).
pub fn customer_products(seed: u64, i: usize) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(4);
    push_products(seed, i, |p| out.push(p));
    out
}

/// One of customer `i`'s products, chosen by hash `h` (no allocation).
pub(crate) fn customer_product_pick(seed: u64, i: usize, h: u64) -> &'static str {
    let mut held = [""; 8];
    let mut n = 0;
    push_products(seed, i, |p| {
        held[n] = p;
        n += 1;
    });
    held[below(h, n.max(1))]
}

fn push_products(seed: u64, i: usize, mut f: impl FnMut(&'static str)) {
    let h = h3(seed, i as u64, S_PRODUCTS);
    let bit = |k: u32, pct: u64| ((h >> (k * 7)) & 0x7F) % 100 < pct;
    match segment_idx(seed, i) {
        0 => {
            // broadband: either copper `broadband` or `fibre`
            if bit(0, 80) {
                f(if bit(1, 45) { "fibre" } else { "broadband" });
            }
            if bit(2, 55) {
                f("mobile");
            }
            if bit(3, 40) {
                f("landline");
            }
            if bit(4, 25) {
                f("tv");
            }
            if !bit(0, 80) && !bit(2, 55) {
                f("mobile");
            }
        }
        1 => {
            f(if bit(1, 50) {
                "business_fibre"
            } else {
                "business_broadband"
            });
            if bit(2, 60) {
                f("mobile");
            }
            if bit(3, 50) {
                f("voip");
            }
            if bit(4, 15) {
                f("leased_line");
            }
        }
        _ => {
            f("wholesale_ethernet");
            if bit(1, 60) {
                f("wholesale_fibre");
            }
        }
    }
}

/// Whether customer `i` is flagged vulnerable (~4 % of all, consumers only).
pub fn customer_vulnerable(seed: u64, i: usize) -> bool {
    segment_idx(seed, i) == 0 && unit(h3(seed, i as u64, S_VULNERABLE)) < 0.047
}

/// Account status of customer `i` (`active` ~90 %).
pub fn customer_account_status(seed: u64, i: usize) -> &'static str {
    ["active", "in_arrears", "suspended", "closed"]
        [weighted(h3(seed, i as u64, S_STATUS), &[90, 5, 2, 3])]
}

/// The whole row of customer `i`.
pub fn customer(seed: u64, i: usize) -> Customer {
    Customer {
        customer_id: customer_id(i),
        name: customer_name(seed, i),
        segment: customer_segment(seed, i),
        tier: customer_tier(seed, i),
        region: customer_region(seed, i),
        postcode_district: customer_postcode_district(seed, i),
        town: customer_town(seed, i),
        products: customer_products(seed, i),
        vulnerable: customer_vulnerable(seed, i),
        account_status: customer_account_status(seed, i),
    }
}

// ---------------------------------------------------------------- identities

fn raw_has(seed: u64, i: usize, kind: IdentityKind) -> bool {
    unit(h3(seed, i as u64, S_HAS + kind.index())) < kind.share()
}

/// Whether customer `i` has an identity of `kind` (about 2 per customer on
/// average; everyone has at least one: a customer with nothing else has an
/// e-mail address).
pub fn has_identity(seed: u64, i: usize, kind: IdentityKind) -> bool {
    match kind {
        IdentityKind::Email => {
            raw_has(seed, i, IdentityKind::Email)
                || !(raw_has(seed, i, IdentityKind::Twitter)
                    || raw_has(seed, i, IdentityKind::Facebook)
                    || raw_has(seed, i, IdentityKind::Phone)
                    || raw_has(seed, i, IdentityKind::Instagram))
        }
        k => raw_has(seed, i, k),
    }
}

/// The identity `value` of customer `i` for `kind`, exactly as in the
/// `identities` table (whether or not the customer has that kind).
pub fn identity_value(seed: u64, i: usize, kind: IdentityKind) -> String {
    match kind {
        IdentityKind::Twitter => twitter_handle(seed, i),
        IdentityKind::Facebook => facebook_id(seed, i),
        IdentityKind::Email => email(seed, i),
        IdentityKind::Phone => phone(seed, i),
        IdentityKind::Instagram => instagram_handle(seed, i),
    }
}

/// Number suffix that makes handles and e-mail local parts unique: the
/// customer index plus a seed-dependent offset.
fn uniq(seed: u64, i: usize) -> u64 {
    i as u64 + h3(seed, 0, S_OFFSET) % 1000
}

fn push_alpha(out: &mut String, s: &str, lower: bool) {
    for c in s.chars().filter(|c| c.is_ascii_alphabetic()) {
        out.push(if lower { c.to_ascii_lowercase() } else { c });
    }
}

/// The Twitter screen name of customer `i` as Twitter shows it (mixed case,
/// `[A-Za-z0-9_]`, at most 15 characters, always ending in digits), e.g.
/// `SarahJ1042`. Unique per customer.
pub fn twitter_screen_name(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let digits = uniq(seed, i).to_string();
    let mut p = String::with_capacity(24);
    match below(
        h3(seed, i as u64, S_STYLE + IdentityKind::Twitter.index()),
        5,
    ) {
        0 => {
            push_alpha(&mut p, f, false);
            p.push_str(&l[..1]);
        }
        1 => {
            push_alpha(&mut p, f, true);
            p.push('_');
            push_alpha(&mut p, l, true);
        }
        2 => {
            push_alpha(&mut p, f, false);
            push_alpha(&mut p, l, false);
        }
        3 => {
            push_alpha(&mut p, l, true);
            p.push('_');
            p.push_str(&f[..1].to_ascii_uppercase());
        }
        _ => {
            p.push_str("The");
            push_alpha(&mut p, f, false);
        }
    }
    p.truncate(15usize.saturating_sub(digits.len()).max(1));
    p.push_str(&digits);
    p
}

/// The Twitter handle of customer `i` as the CRM holds it: the screen name,
/// sometimes lower-cased, sometimes with a leading `@` (the join must match
/// case-insensitively and without `@`).
pub fn twitter_handle(seed: u64, i: usize) -> String {
    let name = twitter_screen_name(seed, i);
    match below(
        h3(seed, i as u64, S_CASE + IdentityKind::Twitter.index()),
        4,
    ) {
        0 => name.to_ascii_lowercase(),
        1 => format!("@{name}"),
        _ => name,
    }
}

/// Numeric Twitter user id of customer `i` (for `user.id_str` / `author_id`).
pub fn twitter_user_id(seed: u64, i: usize) -> u64 {
    // Bijective on 40 bits: unique per customer.
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4B) ^ (h3(seed, 1, S_OFFSET) & 0xFF_FFFF_FFFF);
    100_000_000 + (x & 0xFF_FFFF_FFFF)
}

/// Facebook (page-scoped) user id of customer `i`: 15 digits starting `100`,
/// unique per customer.
pub fn facebook_id(seed: u64, i: usize) -> String {
    let x = (i as u64).wrapping_mul(0x2545_F491_4F6D) ^ (h3(seed, 2, S_OFFSET) & 0xFF_FFFF_FFFF);
    (100_000_000_000_000 + (x & 0xFF_FFFF_FFFF)).to_string()
}

/// The e-mail address of customer `i` in lower case (how people type it).
pub fn email_address(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let n = uniq(seed, i);
    let hi = h3(seed, i as u64, S_STYLE + IdentityKind::Email.index());
    let mut s = String::with_capacity(40);
    match below(hi, 4) {
        0 => {
            push_alpha(&mut s, f, true);
            s.push('.');
            push_alpha(&mut s, l, true);
        }
        1 => {
            push_alpha(&mut s, &f[..1], true);
            push_alpha(&mut s, l, true);
        }
        2 => push_alpha(&mut s, f, true),
        _ => {
            push_alpha(&mut s, f, true);
            s.push('_');
            push_alpha(&mut s, l, true);
        }
    }
    s.push_str(&n.to_string());
    s.push('@');
    if segment_idx(seed, i) == 0 {
        s.push_str(EMAIL_DOMAINS[weighted(h3(seed, i as u64, S_DOMAIN), &EMAIL_DOMAIN_WEIGHTS)]);
    } else {
        push_alpha(&mut s, l, true);
        s.push_str(["-ltd.co.uk", ".co.uk", "group.com"][below(hi >> 8, 3)]);
    }
    s
}

/// The e-mail address of customer `i` as the CRM holds it: mostly lower
/// case, sometimes capitalised (`Sarah.Jones42@Gmail.com`) or upper case.
pub fn email(seed: u64, i: usize) -> String {
    let s = email_address(seed, i);
    match weighted(
        h3(seed, i as u64, S_CASE + IdentityKind::Email.index()),
        &[70, 20, 10],
    ) {
        0 => s,
        1 => {
            let mut out = String::with_capacity(s.len());
            let mut up = true;
            for c in s.chars() {
                out.push(if up { c.to_ascii_uppercase() } else { c });
                up = matches!(c, '.' | '_' | '@');
            }
            out
        }
        _ => s.to_ascii_uppercase(),
    }
}

/// National significant number (10 digits, `7…`) of customer `i`'s mobile:
/// in 07700 000000 – 07999 999999, unique per customer (< 300 M customers).
pub(crate) fn phone_nsn(seed: u64, i: usize) -> u64 {
    const SPAN: u64 = 300_000_000;
    let off = h3(seed, 3, S_OFFSET) % SPAN;
    7_700_000_000 + ((i as u64 % SPAN) * 1_000_003 + off) % SPAN
}

/// Customer `i`'s mobile number in E.164, e.g. `+447700900123`.
pub fn phone_e164(seed: u64, i: usize) -> String {
    format!("+44{}", phone_nsn(seed, i))
}

/// Number of phone writing styles understood by [`format_phone`].
pub(crate) const PHONE_STYLES: usize = 7;

/// Writes a UK mobile NSN (`7700900123`) in one of several human styles.
pub(crate) fn format_phone(nsn: u64, style: usize) -> String {
    let d = nsn.to_string(); // 10 digits
    let (a, b) = d.split_at(4); // "7700", "900123"
    match style % PHONE_STYLES {
        0 => format!("0{a} {b}"),
        1 => format!("+44 {a} {b}"),
        2 => format!("+44{d}"),
        3 => format!("0{d}"),
        4 => format!("(0{a}) {} {}", &b[..3], &b[3..]),
        5 => format!("0044 {a} {b}"),
        _ => format!("0{a}-{}-{}", &b[..3], &b[3..]),
    }
}

/// Customer `i`'s mobile number as the CRM holds it, in mixed styles such as
/// `07700 900123`, `+44 7700 900123`, `(07700) 900 123`.
pub fn phone(seed: u64, i: usize) -> String {
    let style = below(
        h3(seed, i as u64, S_STYLE + IdentityKind::Phone.index()),
        PHONE_STYLES,
    );
    format_phone(phone_nsn(seed, i), style)
}

/// Instagram username of customer `i` (lower case, unique).
pub fn instagram_handle(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let mut s = String::with_capacity(32);
    push_alpha(&mut s, f, true);
    s.push(
        ['.', '_'][below(
            h3(seed, i as u64, S_STYLE + IdentityKind::Instagram.index()),
            2,
        )],
    );
    push_alpha(&mut s, l, true);
    s.push('.');
    s.push_str(&uniq(seed, i).to_string());
    s
}

// ------------------------------------------------------------------- writing

/// Arrow schema of `customers.parquet`.
pub fn customers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("tier", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("postcode_district", DataType::Utf8, false),
        Field::new(
            "products",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("vulnerable", DataType::Boolean, false),
        Field::new("account_status", DataType::Utf8, false),
    ]))
}

/// Arrow schema of `identities.parquet`.
pub fn identities_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

/// Name of the version directory for a validity start, e.g. `2026-11-22T00-00-00Z`.
pub fn version_dir_name(valid_from: DateTime<Utc>) -> String {
    valid_from.format("%Y-%m-%dT%H-%M-%SZ").to_string()
}

fn build_customers(seed: u64, range: std::ops::Range<usize>) -> Result<RecordBatch> {
    let n = range.len();
    let mut id = StringBuilder::with_capacity(n, n * 9);
    let mut name = StringBuilder::with_capacity(n, n * 16);
    let mut segment = StringBuilder::with_capacity(n, n * 8);
    let mut tier = StringBuilder::with_capacity(n, n * 8);
    let mut region = StringBuilder::with_capacity(n, n * 10);
    let mut district = StringBuilder::with_capacity(n, n * 4);
    let mut products = ListBuilder::new(StringBuilder::with_capacity(n * 2, n * 14));
    let mut vulnerable = BooleanBuilder::with_capacity(n);
    let mut status = StringBuilder::with_capacity(n, n * 7);
    for i in range {
        id.append_value(customer_id(i));
        name.append_value(customer_name(seed, i));
        segment.append_value(customer_segment(seed, i));
        tier.append_value(customer_tier(seed, i));
        region.append_value(customer_region(seed, i));
        district.append_value(customer_postcode_district(seed, i));
        push_products(seed, i, |p| products.values().append_value(p));
        products.append(true);
        vulnerable.append_value(customer_vulnerable(seed, i));
        status.append_value(customer_account_status(seed, i));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(segment.finish()),
        Arc::new(tier.finish()),
        Arc::new(region.finish()),
        Arc::new(district.finish()),
        Arc::new(products.finish()),
        Arc::new(vulnerable.finish()),
        Arc::new(status.finish()),
    ];
    Ok(RecordBatch::try_new(customers_schema(), cols)?)
}

fn build_identities(seed: u64, range: std::ops::Range<usize>) -> Result<RecordBatch> {
    let n = range.len() * 2 + 16;
    let mut id = StringBuilder::with_capacity(n, n * 9);
    let mut kind = StringBuilder::with_capacity(n, n * 6);
    let mut value = StringBuilder::with_capacity(n, n * 18);
    for i in range {
        let cid = customer_id(i);
        for k in IdentityKind::ALL {
            if has_identity(seed, i, k) {
                id.append_value(&cid);
                kind.append_value(k.as_str());
                value.append_value(identity_value(seed, i, k));
            }
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(kind.finish()),
        Arc::new(value.finish()),
    ];
    Ok(RecordBatch::try_new(identities_schema(), cols)?)
}

fn open_writer(path: &Path, schema: SchemaRef) -> Result<ArrowWriter<BufWriter<File>>> {
    let file = File::create(path).map_err(|e| ToolsError::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    Ok(ArrowWriter::try_new(
        BufWriter::with_capacity(1 << 20, file),
        schema,
        Some(props),
    )?)
}

/// Writes one CRM snapshot version: `out_dir/<valid-from>/customers.parquet`
/// and `identities.parquet` (Snappy), streaming 64 Ki rows per batch, and
/// returns the version directory.
///
/// The files are written into a hidden temporary directory next to the
/// version directory and moved into place at the end, so a pipeline
/// watching `out_dir` never sees a half-written snapshot. An existing
/// version with the same name has its two files replaced.
pub fn write_crm_snapshot(out_dir: &Path, cfg: &CrmGenConfig) -> Result<PathBuf> {
    let name = version_dir_name(cfg.valid_from);
    let final_dir = out_dir.join(&name);
    let tmp_dir = out_dir.join(format!(".tmp-{name}-{}", std::process::id()));
    fs::create_dir_all(&tmp_dir).map_err(|e| ToolsError::io(&tmp_dir, e))?;
    let result = write_files(&tmp_dir, cfg);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp_dir);
        return Err(e);
    }
    if final_dir.exists() {
        for f in ["customers.parquet", "identities.parquet"] {
            let (from, to) = (tmp_dir.join(f), final_dir.join(f));
            fs::rename(&from, &to).map_err(|e| ToolsError::io(&to, e))?;
        }
        fs::remove_dir_all(&tmp_dir).map_err(|e| ToolsError::io(&tmp_dir, e))?;
    } else {
        fs::rename(&tmp_dir, &final_dir).map_err(|e| ToolsError::io(&final_dir, e))?;
    }
    Ok(final_dir)
}

fn write_files(dir: &Path, cfg: &CrmGenConfig) -> Result<()> {
    let mut customers = open_writer(&dir.join("customers.parquet"), customers_schema())?;
    let mut identities = open_writer(&dir.join("identities.parquet"), identities_schema())?;
    let seed = cfg.seed;
    let mut start = 0;
    while start < cfg.customers {
        let end = (start + CHUNK).min(cfg.customers);
        // Build the two batches of the chunk on two threads.
        let (c, i) = std::thread::scope(|s| {
            let ids = s.spawn(|| build_identities(seed, start..end));
            let c = build_customers(seed, start..end);
            (
                c,
                ids.join().unwrap_or_else(|_| {
                    Err(ToolsError::Runtime("identity builder panicked".into()))
                }),
            )
        });
        customers.write(&c?)?;
        identities.write(&i?)?;
        start = end;
    }
    for (w, file) in [
        (customers, "customers.parquet"),
        (identities, "identities.parquet"),
    ] {
        let mut inner = w.into_inner()?;
        std::io::Write::flush(&mut inner).map_err(|e| ToolsError::io(dir.join(file), e))?;
        inner
            .get_ref()
            .sync_all()
            .map_err(|e| ToolsError::io(dir.join(file), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::collections::HashSet;

    fn read_all(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
        let f = File::open(path).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let schema = b.schema().clone();
        let batches = b
            .build()
            .unwrap()
            .collect::<std::result::Result<Vec<_>, _>>()
            .unwrap();
        (schema, batches)
    }

    fn cfg(n: usize, seed: u64) -> CrmGenConfig {
        CrmGenConfig {
            customers: n,
            seed,
            valid_from: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn snapshot_round_trips_with_schema_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let n = 70_000; // more than one chunk
        let c = cfg(n, 7);
        let v = write_crm_snapshot(dir.path(), &c).unwrap();
        assert_eq!(v, dir.path().join("2026-11-22T00-00-00Z"));
        // no temp directory left behind
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        let (schema, batches) = read_all(&v.join("customers.parquet"));
        assert_eq!(schema.fields(), customers_schema().fields());
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), n);
        let first = &batches[0];
        let ids = first.column(0).as_string::<i32>();
        assert_eq!(ids.value(0), "C00000000");
        assert_eq!(ids.value(41), customer_id(41));
        let seg = first.column(2).as_string::<i32>();
        let region = first.column(4).as_string::<i32>();
        let district = first.column(5).as_string::<i32>();
        let mut seg_counts = [0usize; 3];
        let mut vulnerable = 0;
        let vul = first.column(7).as_boolean();
        for r in 0..first.num_rows() {
            seg_counts[["consumer", "business", "wholesale"]
                .iter()
                .position(|s| *s == seg.value(r))
                .unwrap()] += 1;
            let c = customer(7, r);
            assert_eq!(region.value(r), c.region);
            assert_eq!(district.value(r), c.postcode_district);
            assert!(REGIONS.contains(&region.value(r)));
            vulnerable += vul.value(r) as usize;
        }
        let rows = first.num_rows() as f64;
        assert!(
            (seg_counts[0] as f64 / rows - 0.85).abs() < 0.02,
            "{seg_counts:?}"
        );
        assert!(
            (seg_counts[1] as f64 / rows - 0.12).abs() < 0.02,
            "{seg_counts:?}"
        );
        assert!(
            (vulnerable as f64 / rows - 0.04).abs() < 0.01,
            "{vulnerable}"
        );
        let products = first.column(6).as_list::<i32>();
        assert!(!products.value(0).is_empty());

        let (ischema, ibatches) = read_all(&v.join("identities.parquet"));
        assert_eq!(ischema.fields(), identities_schema().fields());
        let total: usize = ibatches.iter().map(|b| b.num_rows()).sum();
        let expected: usize = (0..n)
            .map(|i| {
                IdentityKind::ALL
                    .iter()
                    .filter(|k| has_identity(7, i, **k))
                    .count()
            })
            .sum();
        assert_eq!(total, expected);
        let per_customer = total as f64 / n as f64;
        assert!((1.8..2.3).contains(&per_customer), "{per_customer}");

        // Identity functions agree with the file, values unique per kind after normalisation.
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for b in &ibatches {
            let (cid, kind, value) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_string::<i32>(),
                b.column(2).as_string::<i32>(),
            );
            for r in 0..b.num_rows() {
                let i: usize = cid.value(r)[1..].parse().unwrap();
                let k = *IdentityKind::ALL
                    .iter()
                    .find(|k| k.as_str() == kind.value(r))
                    .unwrap();
                assert!(has_identity(7, i, k));
                assert_eq!(value.value(r), identity_value(7, i, k));
                let norm = match k {
                    IdentityKind::Phone => {
                        let digits: String = value
                            .value(r)
                            .chars()
                            .filter(|c| c.is_ascii_digit())
                            .collect();
                        let nsn = if let Some(d) = digits.strip_prefix("0044") {
                            d.to_string()
                        } else if value.value(r).starts_with("+44") {
                            digits[2..].to_string()
                        } else {
                            digits.strip_prefix('0').unwrap().to_string()
                        };
                        assert_eq!(format!("+44{nsn}"), phone_e164(7, i));
                        nsn
                    }
                    _ => value.value(r).trim_start_matches('@').to_ascii_lowercase(),
                };
                assert!(
                    seen.insert((kind.value(r).to_string(), norm)),
                    "duplicate identity {}",
                    value.value(r)
                );
            }
        }
    }

    #[test]
    fn region_table_matches_region_names() {
        for (k, r) in REGIONS_TABLE.iter().enumerate() {
            assert_eq!(r.name, REGIONS[k]);
            assert_eq!(r.areas.len(), r.towns.len(), "{}", r.name);
        }
    }

    #[test]
    fn identity_values_are_well_formed_and_seeded() {
        for i in [0usize, 1, 99, 12_345, 9_999_999] {
            let s = twitter_screen_name(1, i);
            assert!(
                s.len() <= 15 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{s}"
            );
            assert!(s.ends_with(|c: char| c.is_ascii_digit()));
            assert_eq!(
                twitter_handle(1, i)
                    .trim_start_matches('@')
                    .to_ascii_lowercase(),
                s.to_ascii_lowercase()
            );
            assert_eq!(email(1, i).to_ascii_lowercase(), email_address(1, i));
            assert_eq!(facebook_id(1, i).len(), 15);
            assert!(
                phone_e164(1, i).starts_with("+4477")
                    || phone_e164(1, i).starts_with("+4478")
                    || phone_e164(1, i).starts_with("+4479")
            );
            for style in 0..PHONE_STYLES {
                let p = format_phone(phone_nsn(1, i), style);
                let digits: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
                assert!(digits.ends_with(&phone_nsn(1, i).to_string()), "{p}");
            }
        }
        let a: Vec<String> = (0..50)
            .map(|i| identity_value(1, i, IdentityKind::Email))
            .collect();
        let b: Vec<String> = (0..50)
            .map(|i| identity_value(2, i, IdentityKind::Email))
            .collect();
        assert_ne!(a, b);
        assert_eq!(
            a,
            (0..50)
                .map(|i| identity_value(1, i, IdentityKind::Email))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn same_seed_same_bytes() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let v1 = write_crm_snapshot(d1.path(), &cfg(2_000, 3)).unwrap();
        let v2 = write_crm_snapshot(d2.path(), &cfg(2_000, 3)).unwrap();
        for f in ["customers.parquet", "identities.parquet"] {
            assert_eq!(fs::read(v1.join(f)).unwrap(), fs::read(v2.join(f)).unwrap());
        }
        // Re-writing an existing version replaces its files.
        let v3 = write_crm_snapshot(d1.path(), &cfg(1_000, 4)).unwrap();
        assert_eq!(v3, v1);
        let (_, b) = read_all(&v3.join("customers.parquet"));
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1_000);
        assert_ne!(
            fs::read(v3.join("customers.parquet")).unwrap(),
            fs::read(v2.join("customers.parquet")).unwrap()
        );
    }
}
