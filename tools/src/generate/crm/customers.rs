//! Customer attributes: id, name, segment, tier, region and postcode
//! district, products, vulnerability, account status.

use super::regions::*;
use super::salts::*;
use crate::generate::enc::{below, h3, unit, weighted};

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

pub(super) fn segment_idx(seed: u64, i: usize) -> usize {
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

pub(super) fn name_parts(seed: u64, i: usize) -> (&'static str, &'static str) {
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

pub(super) fn push_products(seed: u64, i: usize, mut f: impl FnMut(&'static str)) {
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
