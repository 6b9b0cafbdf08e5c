//! Who writes: CRM customers (skewed: some post much more), unknown
//! authors, spam bots; and the regional outage bursts that pick authors
//! from one region.

use crate::generate::enc::{below, h3, mix, unit};

use super::{Author, Burst, Gen};
use crate::generate::crm::{self, IdentityKind};
use crate::generate::text::Topic;

const TWITTER_EPOCH: i64 = 1_288_834_974_657;
const SEC_YEAR_2009: i64 = 1_230_768_000_000;
// Salts for per-author attributes.
const S_FOLLOW: u64 = 100;
const S_VERIFIED: u64 = 101;
const S_STATUSES: u64 = 102;
const S_CREATED: u64 = 103;
const S_BIO: u64 = 104;
const S_UNKNOWN: u64 = 0x5EED_0F0F;
const S_BOT: u64 = 0xB07;
static BIOS: [&str; 10] = [
    "",
    "Dad of 2. Season ticket holder. Views my own",
    "Nurse \u{1F489} | coffee | dogs",
    "Small business owner",
    "Gamer. Streamer. Need good internet.",
    "Retired teacher",
    "",
    "Proud Northerner",
    "Working from home, allegedly",
    "she/her \u{2728}",
];
static BOT_WORDS: [&str; 8] = [
    "PrizeDrop",
    "FreeStuffUK",
    "WinBigNow",
    "CryptoKingz",
    "DealsDaily",
    "BestBuysUK",
    "FollowTrain",
    "VoucherHub",
];
static UNKNOWN_SUFFIX: [&str; 6] = ["_uk", "x", "_ldn", "UK", "_x", "ie"];
static UNKNOWN_DOMAINS: [&str; 4] = ["gmail.com", "hotmail.com", "yahoo.com", "outlook.com"];

impl Gen {
    /// Starts and ends regional outage bursts.
    pub(super) fn tick_burst(&mut self) {
        if let Some(b) = &mut self.burst {
            b.remaining -= 1;
            if b.remaining == 0 {
                self.burst = None;
                self.next_burst_at = self.n + self.rng.range(8_000, 30_000);
            }
        } else if let Some(k) = (0..self.cfg.spikes.len())
            .find(|&k| self.cfg.spikes[k].start_record <= self.n && !self.spikes_done.contains(&k))
        {
            let s = self.cfg.spikes[k];
            self.spikes_done.push(k);
            let region = crm::region_index(s.region)
                .unwrap_or_else(|| crm::region_by_weight(self.rng.u64()));
            self.start_burst(region, s.records.max(1), s.share);
        } else if self.cfg.random_outages && self.n >= self.next_burst_at {
            let region = crm::region_by_weight(self.rng.u64());
            let remaining = self.rng.range(400, 4_000) as u32;
            let share = 0.15 + 0.35 * self.rng.f64();
            self.start_burst(region, remaining, share);
        }
    }

    fn start_burst(&mut self, region: usize, remaining: u32, share: f64) {
        let town = self.rng.pick(crm::region_towns(region));
        self.bursts_started += 1;
        self.burst = Some(Burst {
            seq: self.bursts_started,
            region,
            town,
            remaining,
            share,
        });
    }

    pub(super) fn tweet_id(&mut self, t: i64) -> u64 {
        let ms = (t - TWITTER_EPOCH).max(0) as u64;
        (ms << 22) | (((self.n >> 12) & 0x3FF) << 12) | (self.n & 0xFFF)
    }

    /// Skewed (Zipf-like) customer pick: some customers post much more often.
    pub(super) fn zipf_customer(&mut self) -> usize {
        let u = self.rng.f64();
        self.skew.pick(u)
    }

    /// A customer with an identity of `kind` (in `region`, if given).
    pub(super) fn pick_customer(
        &mut self,
        kind: IdentityKind,
        region: Option<usize>,
    ) -> Option<usize> {
        if self.cfg.customers == 0 {
            return None;
        }
        let seed = self.cfg.seed;
        let tries = if region.is_some() { 400 } else { 64 };
        for _ in 0..tries {
            let i = if region.is_some() {
                self.rng.below(self.cfg.customers)
            } else {
                self.zipf_customer()
            };
            if let Some(r) = region {
                if crm::region_idx(seed, i) != r {
                    continue;
                }
            }
            if crm::has_identity(seed, i, kind) {
                return Some(i);
            }
        }
        None
    }

    /// Chooses what the next mention is about and who wrote it.
    pub(super) fn topic_and_author(&mut self, kind: IdentityKind) -> (Topic, Author) {
        let (topic, a) = self.pick_topic_and_author(kind);
        if self.record_author.is_none() {
            self.record_author = Some(a.customer);
            self.record_outage = self.picked_burst;
        }
        (topic, a)
    }

    pub(super) fn pick_topic_and_author(&mut self, kind: IdentityKind) -> (Topic, Author) {
        let t = self.clock_ms as i64;
        let known = !self.rng.chance(self.cfg.unknown_author_ratio);
        self.picked_burst = None;
        if let Some(b) = &self.burst {
            if self.rng.f64() < b.share {
                let (region, town) = (b.region, b.town);
                self.picked_burst = Some(b.seq);
                let c = if known {
                    self.pick_customer(kind, Some(region))
                } else {
                    None
                };
                let mut a = match c {
                    Some(i) => self.customer_author(kind, i),
                    None => {
                        let u = self.rng.u64() % self.unknown_pool;
                        self.unknown_author(kind, u, t)
                    }
                };
                if a.customer.is_none() || self.rng.chance(0.3) {
                    a.town = town;
                }
                a.region = region;
                return (Topic::Outage, a);
            }
        }
        if !known {
            if self.rng.chance(0.3) {
                let bot = self.rng.u64() % 5_000;
                return (Topic::Spam, self.bot_author(kind, bot, t));
            }
            let u = self.rng.u64() % self.unknown_pool;
            let topic = Topic::REGULAR[self.rng.weighted(&Topic::REGULAR_WEIGHTS)];
            return (topic, self.unknown_author(kind, u, t));
        }
        let topic = Topic::REGULAR[self.rng.weighted(&Topic::REGULAR_WEIGHTS)];
        let a = match self.pick_customer(kind, None) {
            Some(i) => self.customer_author(kind, i),
            None => {
                let u = self.rng.u64() % self.unknown_pool;
                self.unknown_author(kind, u, t)
            }
        };
        (topic, a)
    }

    /// Any author (used for reactions).
    pub(super) fn any_author(&mut self, kind: IdentityKind, t: i64) -> Author {
        match self.pick_customer(kind, None) {
            Some(i) if self.rng.chance(0.8) => self.customer_author(kind, i),
            _ => {
                let u = self.rng.u64() % self.unknown_pool;
                self.unknown_author(kind, u, t)
            }
        }
    }

    pub(super) fn customer_author(&mut self, kind: IdentityKind, i: usize) -> Author {
        let seed = self.cfg.seed;
        let handle = match kind {
            IdentityKind::Twitter => crm::twitter_screen_name(seed, i),
            IdentityKind::Facebook => crm::facebook_id(seed, i),
            IdentityKind::Email => {
                if self.rng.chance(0.6) {
                    crm::email_address(seed, i)
                } else {
                    crm::email(seed, i)
                }
            }
            IdentityKind::Phone => {
                crm::format_phone(crm::phone_nsn(seed, i), self.rng.below(crm::PHONE_STYLES))
            }
            IdentityKind::Instagram => crm::instagram_handle(seed, i),
        };
        let verified = unit(h3(seed, i as u64, S_VERIFIED)) < 0.003;
        let followers = if verified {
            20_000 + h3(seed, i as u64, S_FOLLOW) % 400_000
        } else {
            (5.0 * (1000f64).powf(unit(h3(seed, i as u64, S_FOLLOW)))) as u64
        };
        let product = crm::customer_product_pick(seed, i, self.rng.u64());
        let region = crm::region_idx(seed, i);
        Author {
            customer: Some(i),
            bot: false,
            handle,
            user_id: crm::twitter_user_id(seed, i),
            name: crm::person_name(seed, i),
            followers,
            friends: 20 + h3(seed, i as u64, S_FOLLOW + 1) % 900,
            statuses: 20 + h3(seed, i as u64, S_STATUSES) % 60_000,
            verified,
            created_ms: SEC_YEAR_2009 + (h3(seed, i as u64, S_CREATED) % 500_000_000_000) as i64,
            bio: BIOS[below(h3(seed, i as u64, S_BIO), BIOS.len())],
            region,
            town: crm::customer_town(seed, i),
            district: crm::customer_postcode_district(seed, i),
            product,
        }
    }

    pub(super) fn unknown_author(&mut self, kind: IdentityKind, u: u64, _t: i64) -> Author {
        let seed = self.cfg.seed ^ S_UNKNOWN;
        let h = h3(seed, u, 1);
        let first = crm::person_name(seed, u as usize);
        let (f, l) = first.split_once(' ').unwrap_or((&first, ""));
        let mut letters = String::new();
        let mut x = u;
        loop {
            letters.push((b'a' + (x % 26) as u8) as char);
            x /= 26;
            if x == 0 {
                break;
            }
        }
        let alpha = |s: &str| {
            s.chars()
                .filter(|c| c.is_ascii_alphabetic())
                .collect::<String>()
        };
        let handle = match kind {
            IdentityKind::Twitter | IdentityKind::Instagram => {
                let mut s = alpha(f);
                s.push_str(&alpha(l)[..1.min(l.len())]);
                let suffix = UNKNOWN_SUFFIX[below(h, UNKNOWN_SUFFIX.len())];
                s.truncate(15 - letters.len().min(5) - suffix.len().min(4) - 1);
                s.push('_');
                s.push_str(&letters[..letters.len().min(5)]);
                s.push_str(suffix);
                s
            }
            IdentityKind::Facebook => {
                (102_000_000_000_000 + mix(h) % 1_000_000_000_000).to_string()
            }
            IdentityKind::Email => format!(
                "{}.{}.{}@{}",
                alpha(f).to_ascii_lowercase(),
                alpha(l).to_ascii_lowercase(),
                letters,
                UNKNOWN_DOMAINS[below(h >> 7, UNKNOWN_DOMAINS.len())]
            ),
            IdentityKind::Phone => crm::format_phone(
                7_100_000_000 + mix(h) % 500_000_000,
                self.rng.below(crm::PHONE_STYLES),
            ),
        };
        let region = crm::region_by_weight(h3(seed, u, 2));
        let towns = crm::region_towns(region);
        let town = towns[below(h3(seed, u, 3), towns.len())];
        Author {
            customer: None,
            bot: false,
            handle,
            user_id: 2_000_000_000_000 + h3(seed, u, 4) % 1_000_000_000_000,
            name: first.clone(),
            followers: (3.0 * (2000f64).powf(unit(h3(seed, u, 5)))) as u64,
            friends: 10 + h3(seed, u, 6) % 2_000,
            statuses: 5 + h3(seed, u, 7) % 40_000,
            verified: false,
            created_ms: SEC_YEAR_2009 + (h3(seed, u, 8) % 500_000_000_000) as i64,
            bio: BIOS[below(h3(seed, u, 9), BIOS.len())],
            region,
            town,
            district: String::new(),
            product: "broadband",
        }
    }

    pub(super) fn bot_author(&mut self, kind: IdentityKind, b: u64, t: i64) -> Author {
        let seed = self.cfg.seed ^ S_BOT;
        let word = BOT_WORDS[below(h3(seed, b, 1), BOT_WORDS.len())];
        let num = h3(seed, b, 2) % 100_000;
        let handle = match kind {
            IdentityKind::Twitter | IdentityKind::Instagram => format!("{word}{num}"),
            IdentityKind::Facebook => {
                (103_000_000_000_000 + mix(h3(seed, b, 3)) % 1_000_000_000_000).to_string()
            }
            IdentityKind::Email => format!("{}{num}@mail-promo.biz", word.to_ascii_lowercase()),
            IdentityKind::Phone => format!("+4476{:08}", num * 997 % 100_000_000),
        };
        let region = crm::region_by_weight(h3(seed, b, 4));
        Author {
            customer: None,
            bot: true,
            handle,
            user_id: 1_500_000_000_000_000_000 + h3(seed, b, 5) % 100_000_000_000_000_000,
            name: word.to_string(),
            followers: h3(seed, b, 6) % 13,
            friends: 1_000 + h3(seed, b, 7) % 4_000,
            statuses: 5_000 + h3(seed, b, 8) % 90_000,
            verified: false,
            created_ms: t - (h3(seed, b, 9) % (30 * 86_400_000)) as i64,
            bio: "Follow for daily giveaways!! \u{1F381}\u{1F381}",
            region,
            town: crm::region_towns(region)[0],
            district: String::new(),
            product: "broadband",
        }
    }
}
