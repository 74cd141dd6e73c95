//! [`DeliveryEngine`]: the hub's delivery engine as the rest of the hub sees it: one supervised
//! [`ProviderActor`] per configured provider and one [`ProviderSet`] (router, with failover) per
//! configured kind, started from the [`ProviderRegistry`] when the hub starts.
//!
//! Kinds are the configuration's: `push_fcm` and `push_apns` both run on the actor's push kind
//! (the clients differ, the actor does not) but get a router each, because an FCM token cannot
//! be sent through APNs or the reverse, so failing over between them would be wrong.
//!
//! Each actor is known by its entry's name ([`Named`]), so two accounts of one gateway keep
//! separate queues, metrics and `provider:{name}` streams. Starting an actor sets its
//! `oneclass_provider_queue_depth` and `oneclass_provider_circuit_state` gauges, so `/metrics`
//! lists every provider from the start.
//!
//! Supervision: actix's `Supervisor` restarts an actor that stops (its policy and what it
//! rebuilds are in `ProviderActor`'s doc); an `Addr` stays valid across restarts, so the routers
//! never need rebuilding. The `HubSupervisor` does not watch them: it has nothing to add to a
//! restart that needs no journal replay. The routers stop with the actix system.
//!
//! Not wired yet: nothing submits through the routers at run time; the dispatcher (`notify/`,
//! next in issue 10) will, through [`DeliveryEngine::router`].

use std::collections::BTreeMap;
use std::sync::Arc;

use oneclass_actors::delivery::{
    self, EmailProvider, Member, Named, ProviderActor, ProviderSet, PushProvider, SmsProvider,
    WhatsAppProvider,
};
use oneclass_actors::metrics::Metrics;
use oneclass_storage::Journal;

use crate::config::ProviderKind;
use crate::providers::{ConfiguredProvider, ProviderClient, ProviderRegistry};

/// The routers of a running hub, one per configured kind. Cheap to clone.
#[derive(Clone, Default)]
pub struct DeliveryEngine {
    routers: BTreeMap<ProviderKind, ProviderSet>,
}

impl std::fmt::Debug for DeliveryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.routers.iter().map(|(kind, set)| {
                let names: Vec<_> = set.members().iter().map(|m| m.name.as_str()).collect();
                (kind.as_str(), names)
            }))
            .finish()
    }
}

impl DeliveryEngine {
    /// No providers: in-app delivery only.
    pub fn none() -> Self {
        Self::default()
    }

    /// Starts one supervised actor per provider of `registry` and a router per kind, in the
    /// registry's priority order. Must run inside an actix system.
    pub fn start(
        registry: &ProviderRegistry,
        journal: Arc<dyn Journal>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut members: BTreeMap<ProviderKind, Vec<Member>> = BTreeMap::new();
        for provider in registry.all() {
            let actor = ProviderActor::new(
                actor_client(provider),
                provider.actor.clone(),
                journal.clone(),
                metrics.clone(),
            );
            members.entry(provider.kind).or_default().push(Member {
                name: provider.name.clone(),
                addr: actor.start_supervised(),
            });
        }
        let routers = members
            .into_iter()
            .map(|(kind, members)| {
                let set =
                    ProviderSet::new(actor_kind(kind), members, journal.clone(), metrics.clone());
                (kind, set)
            })
            .collect();
        Self { routers }
    }

    /// The router of `kind`, when a provider of it is configured.
    pub fn router(&self, kind: ProviderKind) -> Option<&ProviderSet> {
        self.routers.get(&kind)
    }

    /// Every router, by kind.
    pub fn routers(&self) -> impl Iterator<Item = (ProviderKind, &ProviderSet)> {
        self.routers.iter().map(|(k, s)| (*k, s))
    }
}

/// The actor's kind of a configured kind (both push services are push).
pub fn actor_kind(kind: ProviderKind) -> delivery::ProviderKind {
    match kind {
        ProviderKind::Sms => delivery::ProviderKind::Sms,
        ProviderKind::Whatsapp => delivery::ProviderKind::WhatsApp,
        ProviderKind::Email => delivery::ProviderKind::Email,
        ProviderKind::PushFcm | ProviderKind::PushApns => delivery::ProviderKind::Push,
    }
}

/// The actor's view of a registry client, under the entry's name.
fn actor_client(provider: &ConfiguredProvider) -> Arc<dyn delivery::ProviderClient> {
    let inner: Arc<dyn delivery::ProviderClient> = match &provider.client {
        ProviderClient::Sms(c) => Arc::new(SmsProvider(c.clone())),
        ProviderClient::WhatsApp(c) => Arc::new(WhatsAppProvider(c.clone())),
        ProviderClient::Email(c) => Arc::new(EmailProvider(c.clone())),
        ProviderClient::Push(c) => Arc::new(PushProvider(c.clone())),
    };
    Arc::new(Named::new(provider.name.clone(), inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_push_kinds_run_on_the_push_actor_and_the_rest_map_one_to_one() {
        assert_eq!(
            actor_kind(ProviderKind::PushFcm),
            delivery::ProviderKind::Push
        );
        assert_eq!(
            actor_kind(ProviderKind::PushApns),
            delivery::ProviderKind::Push
        );
        assert_eq!(actor_kind(ProviderKind::Sms), delivery::ProviderKind::Sms);
        assert_eq!(
            actor_kind(ProviderKind::Whatsapp),
            delivery::ProviderKind::WhatsApp
        );
        assert_eq!(
            actor_kind(ProviderKind::Email),
            delivery::ProviderKind::Email
        );
    }
}
