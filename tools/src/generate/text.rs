//! Message templates for synthetic UK telco care traffic and the filler
//! that expands their placeholders.
//!
//! Placeholders are `{x}` with a one-letter key:
//! `d` days, `h` hours, `t` town, `z` postcode district, `a` amount in £,
//! `w` weekday, `p` product, `r` device, `n` reference, `c` competitor,
//! `m` minutes, `e` emoji (tone of the category), `l` short link, `s` time
//! slot, `k` big round number, `x` broadband speed, `b` brand name.

use super::enc::{push_u64, Rng};

/// The fictional operator whose customers we simulate.
pub(crate) const BRAND: &str = "Albion";
/// The brand's care account (mentioned in most tweets).
pub(crate) const BRAND_HELP: &str = "AlbionHelp";
/// The brand's main account.
pub(crate) const BRAND_MAIN: &str = "AlbionTelecom";

/// Topic of a generated text (roughly the taxonomy of the SPEC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    Outage,
    BroadbandFault,
    Engineer,
    Billing,
    Account,
    Switching,
    Delivery,
    Escalation,
    Praise,
    General,
    Spam,
}

impl Topic {
    /// Regular (non-burst, non-spam) topics and their weights.
    pub(crate) const REGULAR: [Topic; 10] = [
        Topic::Outage,
        Topic::BroadbandFault,
        Topic::Engineer,
        Topic::Billing,
        Topic::Account,
        Topic::Switching,
        Topic::Delivery,
        Topic::Escalation,
        Topic::Praise,
        Topic::General,
    ];
    pub(crate) const REGULAR_WEIGHTS: [u32; 10] = [5, 22, 9, 15, 8, 9, 6, 4, 9, 13];

    fn templates(self) -> &'static [&'static str] {
        match self {
            Topic::Outage => OUTAGE,
            Topic::BroadbandFault => BROADBAND,
            Topic::Engineer => ENGINEER,
            Topic::Billing => BILLING,
            Topic::Account => ACCOUNT,
            Topic::Switching => SWITCHING,
            Topic::Delivery => DELIVERY,
            Topic::Escalation => ESCALATION,
            Topic::Praise => PRAISE,
            Topic::General => GENERAL,
            Topic::Spam => SPAM,
        }
    }

    /// Whether the topic is a complaint (angry emoji, caps, hashtags fit).
    pub(crate) fn negative(self) -> bool {
        !matches!(self, Topic::Praise | Topic::General | Topic::Spam)
    }
}

static OUTAGE: &[&str] = &[
    "Is there an outage in {t}? Broadband has been down for the last {h} hours {e}",
    "Whole street in {z} has no internet. What's going on?",
    "No signal at all in {t} since this morning. Can't even make a call {e}",
    "Internet down AGAIN in {t}. Third time this month!!",
    "Anyone else in {t} with no broadband? Router just flashing orange",
    "Mobile data not working anywhere in {z} {e} sort it out",
    "Total outage in {t} - no broadband, no landline. Working from home is impossible",
    "Your service status page says no problems but nobody in {t} has internet",
    "Down in {z} too. Any ETA on a fix?",
    "Been told there's a fault at the exchange in {t}. How long is this going to take?",
    "Still no service in {t} after {h} hours. Not good enough",
    "Lights are on, router is on, internet is not. {t} {z} #outage",
    "No 4G or 5G in {t} centre for {h} hours now, card machines in the shops are all down",
    "Is the network down? No calls or texts going through in {z}",
];

static BROADBAND: &[&str] = &[
    "My broadband has been down for {d} days now and nobody can tell me why {e}",
    "Paying for 500Mb fibre and getting {x}Mbps. Speed test here {l}",
    "Internet keeps dropping every 10 minutes. Restarted the router a dozen times already",
    "No internet for {d} days, I work from home & this is costing me money",
    "Wifi drops out every evening between 7 and 11pm. Every. Single. Night.",
    "{d} days without broadband. Been on hold for {m} minutes. Absolute joke",
    "Hub keeps rebooting itself, lights go blue then red. Help?",
    "Landline crackling and broadband dead since the storm on {w}",
    "Speed has dropped from 70 to {x}Mbps since {w}. Line test says fine <- it is NOT fine",
    "Can someone look at my connection please? Fault ref {n}",
    "Still no dial tone on my landline after {d} days. My mum is elderly and relies on it",
    "TV box says no connection, broadband light red, {d} days now {e}",
    "Still no reply to my DM. {d} days with no internet and counting",
    "My kids have exams and we've had no wifi since {w}. Please help",
    "Upload speed is {x}Mbps, can't even do a video call for work",
    "The broadband in {z} is a disgrace. Drops out whenever it rains",
];

static ENGINEER: &[&str] = &[
    "Engineer was booked for {w} {s} and never showed up. Took the day off work for nothing {e}",
    "Second missed engineer appointment this week. Nobody called to say they weren't coming",
    "Waited in all day for an engineer who didn't turn up. Ref {n}",
    "Engineer came, said it's an issue at the cabinet, left. Still no internet after {d} days",
    "Can you confirm my engineer visit on {w}? Got a text cancelling it with no reason",
    "Your engineer told me someone else would come back. That was {d} days ago",
    "Earliest engineer appointment is in {d} days?! I need internet for work",
    "Engineer turned up at 7pm, outside the {s} slot, and I'd gone out. Now I'm marked as 'missed'??",
    "Third engineer appointment cancelled on the day. I've used up all my annual leave on you",
];

static BILLING: &[&str] = &[
    "Why has my bill gone up by {a} this month? Nobody told me about a price rise",
    "I've been charged twice this month. Want my money back {e}",
    "Charged {a} for a router I returned weeks ago. Ref {n}",
    "Direct debit taken after I cancelled. Please refund {a} asap",
    "Mid-contract price rise AGAIN. {a} extra a month for the same rubbish service",
    "Billed {a} for roaming when I was in Spain and had the EU add-on",
    "Can someone explain the {a} 'admin fee' on my latest bill?",
    "Still waiting on the {a} credit I was promised {d} days ago",
    "Final bill of {a} after I left 3 months ago?? Debt collectors letter today {e}",
    "Your app says I owe {a} but the letter says something else. Which is it?",
    "Why am I paying for {p} & a line rental I don't use?",
    "Got a late payment fee of {a} when the payment went out on time. Sort it please",
];

static ACCOUNT: &[&str] = &[
    "Locked out of my account, password reset email never arrives",
    "Can't log into the app since the update. Keeps saying 'something went wrong'",
    "Verification code goes to my old number. How do I change it if I can't log in?",
    "Reset my password three times and still can't get in {e}",
    "My account shows someone else's address?? Is my data safe?",
    "Your login page just spins forever. Tried Chrome and Safari",
    "Been trying to register for My {b} for {d} days, the code never comes",
    "Account says suspended but I've paid every bill. What's going on?",
    "How do I add my partner as an authorised user on the account?",
];

static SWITCHING: &[&str] = &[
    "That's it, I'm switching to {c}. {d} days without service is the last straw",
    "How do I cancel? Been on hold for {m} minutes to do it {e}",
    "{c} offered me half the price with better speeds. Give me a reason to stay",
    "Requested my PAC code {d} days ago, still nothing",
    "Leaving when my contract ends. Worst customer service I have ever had",
    "Want to cancel my tv package & keep broadband, why is that impossible?",
    "Moving to {c} unless someone sorts this out today",
    "What are the early termination fees? Not paying {a} to leave a service that doesn't work",
    "15 years a customer and this is how you treat me. Cancelling everything",
];

static DELIVERY: &[&str] = &[
    "My new {r} was supposed to arrive {w}. Tracking hasn't moved in {d} days",
    "Courier says delivered, no {r} here. Order ref {n}",
    "Still waiting for my {r}. Broadband goes live tomorrow & no router!",
    "Received the wrong {r}. I ordered a different model",
    "Parcel with my {r} left in the rain on the doorstep {e}",
    "When will my SIM card arrive? Ordered {d} days ago",
    "Delivery slot {w} {s}, nobody came. Took the day off for this",
];

static ESCALATION: &[&str] = &[
    "I'll be taking this to Ofcom if it isn't resolved by {w}",
    "Formal complaint: {d} days, no service, no callback. Send me a deadlock letter so I can go to the ombudsman",
    "My solicitor will be in touch regarding the {a} you've charged me",
    "Reported you to Ofcom today. 8 weeks is up and still nothing",
    "Contacting the Communications Ombudsman tomorrow. Case ref {n}",
    "This is a breach of contract. Speaking to my solicitor & trading standards",
    "Small claims court is next if my {a} refund isn't processed",
    "Escalating to the ombudsman. {d} days of broken promises {e}",
];

static PRAISE: &[&str] = &[
    "Huge thanks to the engineer who came out today, sorted in 20 minutes {e}",
    "Just want to say the chat team were brilliant, problem fixed",
    "Fair play {b}, new fibre is flying. 900Mbps!",
    "Great service from Jo on the phone today, really patient with my dad {e}",
    "Router arrived next day and everything just worked. Impressed {e}",
    "Thanks for sorting my bill so quickly {e}",
    "Signal's been rock solid since the mast upgrade in {t}",
    "Credit where it's due, you fixed it the same day <3",
    "Best customer service I've had in years, thank you {e}",
];

static GENERAL: &[&str] = &[
    "Do you offer full fibre in {z} yet?",
    "What time does the shop in {t} close today?",
    "Can I add a second SIM to my plan?",
    "Is there a student discount on broadband?",
    "How do I set up call forwarding on my landline?",
    "When does my contract end? Can't find it in the app",
    "Does the {r} support wifi 6?",
    "Are you doing any deals for existing customers?",
    "Can I take my number with me if I move to {t}?",
    "Any plans for 5G in {t}?",
    "Is it possible to change my direct debit date?",
    "lol my {p} has better uptime than my sleep schedule",
];

static SPAM: &[&str] = &[
    "\u{1F381} GIVEAWAY \u{1F381} Win a brand new iPhone 16 Pro! RT + follow + tag 3 friends {l} #giveaway #win",
    "Earn \u{a3}{k} a week from home, no experience needed \u{1F4B0}\u{1F4B0} DM me {l}",
    "{l}",
    "{l} {l}",
    "\u{1F525} Cheap followers! 10k for \u{a3}5 \u{1F449} {l}",
    "Crypto signals, 1000% gains guaranteed \u{1F680}\u{1F680} join {l}",
    "Best broadband deals in the UK \u{2192} {l} #broadband #deals",
    "Congratulations! You've been selected for a \u{a3}{k} voucher. Claim now: {l}",
];

/// Non-English texts with their language code (about 5 % of traffic).
pub(crate) static FOREIGN: &[(&str, &str)] = &[
    (
        "cy",
        "Dim band eang ers {d} diwrnod yn {t}. Oes rhywun yn gallu helpu? {e}",
    ),
    ("cy", "Mae'r rhyngrwyd i lawr eto. Diolch am ddim byd"),
    ("cy", "Diolch yn fawr i'r peiriannydd heddiw! {e}"),
    (
        "pl",
        "Od {d} dni nie mam internetu, nikt nie odbiera telefonu. Skandal!",
    ),
    (
        "pl",
        "Dlaczego mój rachunek wzrósł o {a}? Proszę o wyjaśnienie",
    ),
    ("pl", "Czy jest awaria w {t}? Brak internetu od rana {e}"),
    (
        "es",
        "Llevo {d} días sin internet y nadie me da una solución",
    ),
    ("es", "¿Hay una avería en {t}? No tengo señal"),
    ("ro", "Nu am internet de {d} zile, vă rog ajutați-mă"),
    ("pt", "Estou sem internet há {d} dias, isto é uma vergonha"),
    (
        "fr",
        "Toujours pas d'internet après {d} jours. Inacceptable.",
    ),
    ("it", "Sono senza internet da {d} giorni, nessuno mi aiuta"),
    ("ur", "میرا انٹرنیٹ {d} دن سے بند ہے، براہ کرم مدد کریں"),
    ("ar", "الإنترنت مقطوع منذ {d} أيام ولا أحد يرد"),
    ("pa", "ਮੇਰਾ ਇੰਟਰਨੈੱਟ {d} ਦਿਨਾਂ ਤੋਂ ਬੰਦ ਹੈ"),
];

static ANGRY: [&str; 8] = [
    "\u{1F621}",
    "\u{1F644}",
    "\u{1F92C}",
    "\u{1F624}",
    "\u{1F620}",
    "\u{1F44E}",
    "\u{1F629}",
    "\u{1F62D}",
];
static HAPPY: [&str; 7] = [
    "\u{1F44D}",
    "\u{2764}\u{FE0F}",
    "\u{1F64C}",
    "\u{1F60A}",
    "\u{1F44F}",
    "\u{1F389}",
    "\u{1F64F}",
];
static WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
static DEVICES: [&str; 8] = [
    "router",
    "Smart Hub",
    "iPhone 16",
    "Galaxy S25",
    "SIM card",
    "Pixel 9",
    "TV box",
    "wifi booster",
];
static COMPETITORS: [&str; 8] = [
    "Sky",
    "Virgin Media",
    "Vodafone",
    "EE",
    "TalkTalk",
    "BT",
    "Three",
    "Plusnet",
];
static SLOTS: [&str; 4] = ["8am-1pm", "1pm-6pm", "8am-6pm", "morning"];
static PRODUCTS: [&str; 5] = ["broadband", "fibre", "mobile", "landline", "tv"];
static LINK_CHARS: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Context for filling a template.
pub(crate) struct Slots<'a> {
    pub town: &'a str,
    pub district: &'a str,
    pub product: &'a str,
    pub negative: bool,
}

/// Picks a template of `topic`.
pub(crate) fn template(rng: &mut Rng, topic: Topic) -> &'static str {
    rng.pick(topic.templates())
}

/// Pushes a random `https://t.co/…` link.
pub(crate) fn push_link(out: &mut String, rng: &mut Rng) {
    out.push_str("https://t.co/");
    for _ in 0..10 {
        out.push(rng.pick(LINK_CHARS) as char);
    }
}

/// Expands `tpl` into `out`.
pub(crate) fn fill(out: &mut String, tpl: &str, rng: &mut Rng, s: &Slots<'_>) {
    let mut rest = tpl;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let key = rest.as_bytes().get(open + 1).copied().unwrap_or(b'?');
        rest = &rest[(open + 3).min(rest.len())..];
        match key {
            b'd' => push_u64(out, rng.range(2, 14)),
            b'h' => push_u64(out, rng.range(2, 36)),
            b't' => out.push_str(s.town),
            b'z' => out.push_str(s.district),
            b'a' => {
                out.push('\u{a3}');
                push_u64(out, rng.range(3, 240));
                if rng.chance(0.6) {
                    out.push('.');
                    let p = rng.range(0, 99);
                    if p < 10 {
                        out.push('0');
                    }
                    push_u64(out, p);
                }
            }
            b'w' => out.push_str(rng.pick(&WEEKDAYS)),
            b'p' => out.push_str(if rng.chance(0.7) {
                s.product
            } else {
                rng.pick(&PRODUCTS)
            }),
            b'r' => out.push_str(rng.pick(&DEVICES)),
            b'n' => {
                out.push_str(if rng.chance(0.5) { "CASE-" } else { "" });
                push_u64(out, rng.range(10_000_000, 99_999_999));
            }
            b'c' => out.push_str(rng.pick(&COMPETITORS)),
            b'm' => push_u64(out, rng.range(25, 190)),
            b'e' => {
                let set: &[&str] = if s.negative { &ANGRY } else { &HAPPY };
                let n = if rng.chance(0.25) { 3 } else { 1 };
                let e = rng.pick(set);
                for _ in 0..n {
                    out.push_str(e);
                }
            }
            b'l' => push_link(out, rng),
            b's' => out.push_str(rng.pick(&SLOTS)),
            b'k' => push_u64(out, rng.range(1, 20) * 250),
            b'x' => {
                push_u64(out, rng.range(0, 9));
                out.push('.');
                push_u64(out, rng.range(1, 9));
            }
            b'b' => out.push_str(BRAND),
            _ => {}
        }
    }
    out.push_str(rest);
}

/// Appends a random emoji of the given tone.
pub(crate) fn push_emoji(out: &mut String, rng: &mut Rng, negative: bool) {
    out.push_str(if negative {
        rng.pick(&ANGRY)
    } else {
        rng.pick(&HAPPY)
    });
}

/// Second sentences appended to some complaints (they push tweets past
/// 140 characters, so the v1.1 `extended_tweet` path gets exercised).
pub(crate) static ADDENDA: [&str; 8] = [
    "I've called four times and been promised a callback every single time, nobody ever rings back.",
    "This is the third week in a row and I'm paying full price for it.",
    "Sent you a DM with my account details, please get back to me today.",
    "I work from home and this is costing me money every day it goes on.",
    "Your chatbot just keeps sending me links to the same help page.",
    "My elderly mum lives with us and relies on the landline for her alarm.",
    "Every time I call I'm told it'll be fixed in 24 hours. It never is.",
    "Absolutely fed up of being passed from one department to another.",
];

/// Complaint hashtags.
pub(crate) static HASHTAGS: [&str; 5] = [
    "#AlbionFail",
    "#customerservice",
    "#fail",
    "#broadband",
    "#ripoff",
];

/// Appends `s` with Twitter's HTML-entity encoding of `&`, `<` and `>`.
pub(crate) fn push_html_escaped(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(rep);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_fills_without_leftover_braces() {
        let mut rng = Rng::new(5);
        let s = Slots {
            town: "Leeds",
            district: "LS6",
            product: "fibre",
            negative: true,
        };
        let all = Topic::REGULAR.iter().chain([Topic::Spam].iter());
        for topic in all {
            for tpl in topic.templates() {
                let mut out = String::new();
                fill(&mut out, tpl, &mut rng, &s);
                assert!(!out.contains('{') && !out.contains('}'), "{out}");
                assert!(!out.is_empty());
            }
        }
        for (_, tpl) in FOREIGN {
            let mut out = String::new();
            fill(&mut out, tpl, &mut rng, &s);
            assert!(!out.contains('{'), "{out}");
        }
        let mut out = String::new();
        push_html_escaped(&mut out, "a & b <3 ->");
        assert_eq!(out, "a &amp; b &lt;3 -&gt;");
    }
}
