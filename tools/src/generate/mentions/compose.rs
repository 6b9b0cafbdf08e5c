//! What an author writes: the text of a mention, from a topic's phrases.

use super::{Author, Channel, Gen};
use crate::generate::text::{self, Slots, Topic, BRAND_HELP, BRAND_MAIN};

impl Gen {
    /// Writes the text of a mention into `out`; returns its language code.
    pub(super) fn compose(
        &mut self,
        out: &mut String,
        topic: Topic,
        a: &Author,
        ch: Channel,
    ) -> &'static str {
        out.clear();
        let district = if a.district.is_empty() {
            a.town
        } else {
            a.district.as_str()
        };
        let negative = topic.negative();
        let slots = Slots {
            town: a.town,
            district,
            product: a.product,
            negative,
        };
        let mut lang = "en";
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        if topic == Topic::Spam {
            if self.campaign_until <= self.n || self.campaign.is_empty() {
                self.campaign.clear();
                let tpl = text::template(&mut self.rng, Topic::Spam);
                let mut c = String::new();
                text::fill(&mut c, tpl, &mut self.rng, &slots);
                self.campaign = c;
                self.campaign_until = self.n + self.rng.range(2_000, 20_000);
            }
            if self.rng.chance(0.6) {
                body.push_str(&self.campaign); // the same text from many accounts
            } else {
                let tpl = text::template(&mut self.rng, Topic::Spam);
                text::fill(&mut body, tpl, &mut self.rng, &slots);
            }
            if body.starts_with("https://") {
                lang = "und";
            }
        } else if self.rng.chance(0.05) {
            let (code, tpl) = self.rng.pick(text::FOREIGN);
            lang = code;
            text::fill(&mut body, tpl, &mut self.rng, &slots);
        } else {
            let tpl = text::template(&mut self.rng, topic);
            text::fill(&mut body, tpl, &mut self.rng, &slots);
            if negative {
                if self.rng.chance(0.04) {
                    body = body.to_uppercase();
                }
                if self.rng.chance(0.08) {
                    body.push_str("!!");
                }
                if self.rng.chance(0.2) {
                    body.push(' ');
                    body.push_str(self.rng.pick(&text::ADDENDA));
                }
                if self.rng.chance(0.15) {
                    body.push(' ');
                    text::push_emoji(&mut body, &mut self.rng, true);
                }
                if ch == Channel::Twitter && self.rng.chance(0.1) {
                    body.push(' ');
                    body.push_str(self.rng.pick(&text::HASHTAGS));
                }
            } else if self.rng.chance(0.2) {
                body.push(' ');
                text::push_emoji(&mut body, &mut self.rng, false);
            }
        }
        match ch {
            Channel::Twitter => {
                let r = self.rng.f64();
                if r < 0.7 || (a.bot && r < 0.9) {
                    out.push('@');
                    out.push_str(BRAND_HELP);
                    out.push(' ');
                    out.push_str(&body);
                } else if r < 0.85 {
                    out.push_str(&body);
                    out.push_str(" @");
                    out.push_str(BRAND_HELP);
                } else if r < 0.95 {
                    out.push_str(&body);
                    out.push_str(" @");
                    out.push_str(BRAND_MAIN);
                } else {
                    out.push_str(&body);
                }
            }
            Channel::Email => {
                out.push_str(
                    ["Hello,\n\n", "Dear Sir/Madam,\r\n\r\n", "Hi\n\n"][self.rng.below(3)],
                );
                out.push_str(&body);
                out.push_str("\n\nKind regards,\n");
                out.push_str(&a.name);
                if self.rng.chance(0.3) {
                    out.push_str("\n\nSent from my iPhone");
                }
            }
            Channel::WebForm if self.rng.chance(0.3) => {
                out.push_str("Hello, ");
                out.push_str(&body);
                out.push_str("\n\nThanks");
            }
            Channel::AppChat if self.rng.chance(0.3) => out.push_str(&body.to_lowercase()),
            _ => out.push_str(&body),
        }
        self.body = body;
        lang
    }
}
