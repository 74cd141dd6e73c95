//! [`ReportIndex`]: which delivery a provider's report is about, and where that delivery stands.
//!
//! Fed from the journal: each `delivery.attempt.finished` that carries a provider message id
//! ([`ReportIndex::attempt_finished`]) and each `delivery.report` ([`ReportIndex::reported`]), in
//! journal order, at start and then as they are written, so the index after a restart is the one
//! before it. Keys are `(provider, provider message id)`; the hub's delivery id is a second key
//! because Kannel echoes the hub's reference (`msg=`) rather than an id of its own.
//!
//! Bounded: at most `capacity` deliveries are kept (`limits.report_index_max`, 200,000 by default); the oldest *inserted* is dropped first. A
//! report for a dropped delivery is then treated as unknown (acknowledged, counted, not
//! journaled). Size the bound for the deliveries sent within the longest report delay (an SMS
//! failure receipt can come when its validity ends, up to 72 h later).

use std::collections::{HashMap, VecDeque};

use super::state::{advance, DeliveryStatus};

/// One delivery as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub delivery_id: String,
    pub school: String,
    pub provider: String,
    pub provider_message_id: Option<String>,
    pub state: DeliveryStatus,
}

/// Deliveries by provider message id and by delivery id, bounded.
#[derive(Debug)]
pub struct ReportIndex {
    capacity: usize,
    by_delivery: HashMap<String, Tracked>,
    by_message: HashMap<(String, String), String>,
    order: VecDeque<String>,
}

impl ReportIndex {
    /// An empty index keeping at most `capacity` (≥ 1) deliveries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            by_delivery: HashMap::new(),
            by_message: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_delivery.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_delivery.is_empty()
    }

    /// An attempt ended; when the provider took the message (`provider_message_id` set) the
    /// delivery is `sent` there. A later attempt of the same delivery (e.g. at another provider
    /// after failover) replaces the earlier keys.
    pub fn attempt_finished(
        &mut self,
        school: &str,
        provider: &str,
        delivery_id: &str,
        provider_message_id: Option<&str>,
    ) {
        let Some(message_id) = provider_message_id else {
            return;
        };
        if let Some(old) = self.by_delivery.get(delivery_id) {
            if let Some(old_id) = &old.provider_message_id {
                self.by_message
                    .remove(&(old.provider.clone(), old_id.clone()));
            }
        } else {
            self.order.push_back(delivery_id.to_owned());
        }
        self.by_message.insert(
            (provider.to_owned(), message_id.to_owned()),
            delivery_id.to_owned(),
        );
        self.by_delivery.insert(
            delivery_id.to_owned(),
            Tracked {
                delivery_id: delivery_id.to_owned(),
                school: school.to_owned(),
                provider: provider.to_owned(),
                provider_message_id: Some(message_id.to_owned()),
                state: DeliveryStatus::Sent,
            },
        );
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                if let Some(gone) = self.by_delivery.remove(&oldest) {
                    if let Some(id) = gone.provider_message_id {
                        self.by_message.remove(&(gone.provider, id));
                    }
                }
            }
        }
    }

    /// A journaled `delivery.report` set this delivery's state.
    pub fn reported(&mut self, delivery_id: &str, state: DeliveryStatus) {
        if let Some(t) = self.by_delivery.get_mut(delivery_id) {
            t.state = state;
        }
    }

    /// The delivery `provider` knows as `message_id`.
    pub fn by_message(&self, provider: &str, message_id: &str) -> Option<&Tracked> {
        let id = self
            .by_message
            .get(&(provider.to_owned(), message_id.to_owned()))?;
        self.by_delivery.get(id)
    }

    /// The delivery with the hub's id `delivery_id`.
    pub fn by_delivery(&self, delivery_id: &str) -> Option<&Tracked> {
        self.by_delivery.get(delivery_id)
    }

    /// What `reported` would move `tracked` to, if anything (see [`advance`]).
    pub fn would_move(tracked: &Tracked, reported: DeliveryStatus) -> Option<DeliveryStatus> {
        advance(tracked.state, reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_with_a_provider_id_is_found_by_either_key_and_starts_sent() {
        let mut index = ReportIndex::new(10);
        index.attempt_finished("s1", "kannel", "d1", Some("m1"));
        index.attempt_finished("s1", "kannel", "d2", None);
        let t = index.by_message("kannel", "m1").unwrap();
        assert_eq!(
            (t.delivery_id.as_str(), t.state),
            ("d1", DeliveryStatus::Sent)
        );
        assert_eq!(index.by_delivery("d1"), Some(t));
        assert!(index.by_message("whatsapp", "m1").is_none());
        assert!(
            index.by_delivery("d2").is_none(),
            "never reached the provider"
        );
        index.reported("d1", DeliveryStatus::Delivered);
        assert_eq!(
            index.by_delivery("d1").unwrap().state,
            DeliveryStatus::Delivered
        );
    }

    #[test]
    fn a_later_attempt_elsewhere_replaces_the_earlier_keys() {
        let mut index = ReportIndex::new(10);
        index.attempt_finished("s1", "telone", "d1", Some("t-1"));
        index.attempt_finished("s1", "econet", "d1", Some("e-1"));
        assert!(index.by_message("telone", "t-1").is_none());
        assert_eq!(
            index.by_message("econet", "e-1").unwrap().provider,
            "econet"
        );
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn past_its_capacity_the_oldest_delivery_is_dropped() {
        let mut index = ReportIndex::new(2);
        for n in 1..=3 {
            index.attempt_finished("s1", "kannel", &format!("d{n}"), Some(&format!("m{n}")));
        }
        assert_eq!(index.len(), 2);
        assert!(index.by_message("kannel", "m1").is_none());
        assert!(index.by_delivery("d1").is_none());
        assert!(index.by_message("kannel", "m3").is_some());
    }
}
