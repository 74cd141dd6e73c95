//! Opt-outs that arrive as messages (an SMS `STOP` to the hub's number), and [`ConsentLedger`],
//! the opted-out channels per address built from the journal's `consent.changed` events, which
//! is what the dispatcher hands the policy (`notify::policy`, `Recipient::opted_out`).
//!
//! Keywords: the industry set (CTIA and most carriers) `STOP`, `STOPALL`, `UNSUBSCRIBE`,
//! `CANCEL`, `END`, `QUIT` to opt out and `START`, `UNSTOP` to opt back in. The specs list no
//! Shona or Ndebele keywords and none are guessed here; add them to [`OPT_OUT_WORDS`] when the
//! schools confirm them. A keyword counts only as the whole message (trimmed, any case, trailing
//! punctuation ignored), so "please don't stop the reminders" is not an opt-out.

use std::collections::{BTreeSet, HashMap};

use crate::notify::policy::Channel;

/// Whole-message keywords that opt the sender out of SMS.
pub const OPT_OUT_WORDS: &[&str] = &["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
/// Whole-message keywords that opt the sender back in.
pub const OPT_IN_WORDS: &[&str] = &["START", "UNSTOP"];

/// What an inbound message says about consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut(&'static str),
    OptIn(&'static str),
}

/// The consent keyword `text` is, if it is one.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .to_ascii_uppercase();
    if let Some(w) = OPT_OUT_WORDS.iter().find(|w| **w == word) {
        return Some(Keyword::OptOut(w));
    }
    OPT_IN_WORDS
        .iter()
        .find(|w| **w == word)
        .map(|w| Keyword::OptIn(w))
}

/// Opted-out channels per address (E.164 number or e-mail address), in journal order.
#[derive(Debug, Default, Clone)]
pub struct ConsentLedger {
    opted_out: HashMap<String, BTreeSet<Channel>>,
}

impl ConsentLedger {
    /// Applies one `consent.changed`.
    pub fn apply(&mut self, address: &str, channel: Channel, opted_out: bool) {
        if opted_out {
            self.opted_out
                .entry(address.to_owned())
                .or_default()
                .insert(channel);
        } else if let Some(set) = self.opted_out.get_mut(address) {
            set.remove(&channel);
            if set.is_empty() {
                self.opted_out.remove(address);
            }
        }
    }

    /// The channels `address` opted out of.
    pub fn opted_out(&self, address: &str) -> BTreeSet<Channel> {
        self.opted_out.get(address).cloned().unwrap_or_default()
    }

    /// The channels a member with these addresses opted out of (a phone may serve SMS and
    /// WhatsApp, an e-mail address e-mail).
    pub fn opted_out_any<'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<Channel> {
        addresses
            .into_iter()
            .flat_map(|a| self.opted_out(a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_message_keyword_counts() {
        let table = [
            ("STOP", Some(Keyword::OptOut("STOP"))),
            ("  stop.\n", Some(Keyword::OptOut("STOP"))),
            ("Unsubscribe", Some(Keyword::OptOut("UNSUBSCRIBE"))),
            ("quit!", Some(Keyword::OptOut("QUIT"))),
            ("start", Some(Keyword::OptIn("START"))),
            ("UNSTOP", Some(Keyword::OptIn("UNSTOP"))),
            ("please don't stop", None),
            ("STOP IT", None),
            ("", None),
            ("stopp", None),
        ];
        for (text, want) in table {
            assert_eq!(keyword(text), want, "{text:?}");
        }
    }

    #[test]
    fn the_ledger_follows_opt_outs_and_opt_ins_in_order() {
        let mut ledger = ConsentLedger::default();
        ledger.apply("+263771000001", Channel::Sms, true);
        ledger.apply("+263771000001", Channel::WhatsApp, true);
        assert_eq!(
            ledger.opted_out("+263771000001"),
            BTreeSet::from([Channel::WhatsApp, Channel::Sms])
        );
        ledger.apply("+263771000001", Channel::Sms, false);
        assert_eq!(
            ledger.opted_out_any(["+263771000001", "a@b.zw"]),
            BTreeSet::from([Channel::WhatsApp])
        );
        ledger.apply("+263771000001", Channel::WhatsApp, false);
        assert!(ledger.opted_out("+263771000001").is_empty());
        assert!(ledger.opted_out("+263779999999").is_empty());
    }
}
