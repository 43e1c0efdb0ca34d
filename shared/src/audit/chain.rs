//! Verification of a run of consecutive events: needs nothing but the events themselves.

use super::event::{AuditEvent, GENESIS_HASH};

/// Why the chain breaks at an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BreakReason {
    #[error("sequence {found} where {expected} was expected")]
    SequenceGap { expected: u64, found: u64 },
    #[error("sequence 0: chains start at 1")]
    SequenceZero,
    #[error("the first event's previous hash is not 64 zeros")]
    BadGenesis,
    #[error("event of tenant {found:?} in the chain of tenant {expected:?}")]
    TenantChanged { expected: String, found: String },
    #[error("previous hash does not match the hash of the event before it")]
    BrokenLink,
    #[error("stored hash {stored} but the content hashes to {computed}")]
    HashMismatch { stored: String, computed: String },
    #[error("event time {found} is earlier than its predecessor's {previous}")]
    TimeWentBackwards { previous: i64, found: i64 },
    #[error("content cannot be encoded canonically: {0}")]
    Unencodable(String),
}

/// The first event (by index into the verified slice) where the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit chain breaks at index {index}: {reason}")]
pub struct ChainBreak {
    pub index: usize,
    pub reason: BreakReason,
}

/// Checks that `events` is an unbroken run of one tenant's chain: sequences continue by one
/// from the first event's, each `previous_hash` is its predecessor's `hash` (64 zeros for
/// sequence 1), times never go backwards, and each `hash` is recomputed from the content.
/// A run may start mid-chain; its first link is then taken on trust.
pub fn verify(events: &[AuditEvent]) -> Result<(), ChainBreak> {
    let mut previous: Option<&AuditEvent> = None;
    for (index, event) in events.iter().enumerate() {
        let at = |reason| ChainBreak { index, reason };
        let computed = event
            .compute_hash()
            .map_err(|e| at(BreakReason::Unencodable(e.to_string())))?;
        if computed != event.hash {
            return Err(at(BreakReason::HashMismatch {
                stored: event.hash.clone(),
                computed,
            }));
        }
        match previous {
            None if event.sequence == 0 => return Err(at(BreakReason::SequenceZero)),
            None if event.sequence == 1 && event.previous_hash != GENESIS_HASH => {
                return Err(at(BreakReason::BadGenesis));
            }
            None => {}
            Some(before) => {
                let expected = before.sequence.saturating_add(1);
                if event.sequence != expected {
                    return Err(at(BreakReason::SequenceGap {
                        expected,
                        found: event.sequence,
                    }));
                }
                if event.tenant != before.tenant {
                    return Err(at(BreakReason::TenantChanged {
                        expected: before.tenant.clone(),
                        found: event.tenant.clone(),
                    }));
                }
                if event.previous_hash != before.hash {
                    return Err(at(BreakReason::BrokenLink));
                }
                if event.at_ms < before.at_ms {
                    return Err(at(BreakReason::TimeWentBackwards {
                        previous: before.at_ms,
                        found: event.at_ms,
                    }));
                }
            }
        }
        previous = Some(event);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::audit::event::{NewAuditEvent, Subject};
    use serde_json::json;

    fn chain(length: u64) -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = Vec::new();
        for sequence in 1..=length {
            let previous = events
                .last()
                .map_or_else(|| GENESIS_HASH.to_owned(), |e| e.hash.clone());
            let event = NewAuditEvent::new("user:u", "draft.changed", Subject::new("draft", "d"))
                .with_payload(json!({ "n": sequence }))
                .into_event(
                    "t",
                    sequence,
                    1000 + i64::try_from(sequence).unwrap(),
                    previous,
                )
                .unwrap();
            events.push(event);
        }
        events
    }

    fn broken_at(events: &[AuditEvent]) -> (usize, BreakReason) {
        let ChainBreak { index, reason } = verify(events).unwrap_err();
        (index, reason)
    }

    #[test]
    fn an_intact_chain_and_any_run_of_it_verify() {
        let events = chain(5);
        assert_eq!(verify(&events), Ok(()));
        assert_eq!(verify(&events[2..]), Ok(()));
        assert_eq!(verify(&[]), Ok(()));
    }

    #[test]
    fn changed_content_is_named_at_its_index() {
        let mut events = chain(5);
        events[3].payload = json!({ "n": 99 });
        assert!(matches!(
            broken_at(&events),
            (3, BreakReason::HashMismatch { .. })
        ));
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].payload = json!({ "n": 99 });
        events[2].hash = events[2].compute_hash().unwrap();
        assert_eq!(broken_at(&events), (3, BreakReason::BrokenLink));
    }

    #[test]
    fn removed_and_reordered_events_are_gaps() {
        let mut events = chain(5);
        events.remove(2);
        assert_eq!(
            broken_at(&events),
            (
                2,
                BreakReason::SequenceGap {
                    expected: 3,
                    found: 4
                }
            )
        );
        let mut events = chain(5);
        events.swap(1, 2);
        assert_eq!(
            broken_at(&events),
            (
                1,
                BreakReason::SequenceGap {
                    expected: 2,
                    found: 3
                }
            )
        );
    }

    #[test]
    fn the_first_event_needs_the_zero_hash() {
        let mut events = chain(2);
        events[0].previous_hash = "1".repeat(64);
        events[0].hash = events[0].compute_hash().unwrap();
        assert_eq!(broken_at(&events), (0, BreakReason::BadGenesis));
    }

    #[test]
    fn floats_smuggled_into_a_stored_event_are_unencodable() {
        let mut events = chain(2);
        events[1].payload = json!({ "n": 1.5 });
        assert!(matches!(
            broken_at(&events),
            (1, BreakReason::Unencodable(_))
        ));
    }

    #[test]
    fn time_going_backwards_is_a_break() {
        let mut events = chain(2);
        let previous = events[0].hash.clone();
        events[1] = NewAuditEvent::new("user:u", "x", Subject::new("draft", "d"))
            .into_event("t", 2, 0, previous)
            .unwrap();
        assert_eq!(
            broken_at(&events),
            (
                1,
                BreakReason::TimeWentBackwards {
                    previous: 1001,
                    found: 0
                }
            )
        );
    }

    #[test]
    fn another_tenants_event_is_a_break() {
        let mut events = chain(2);
        let previous = events[0].hash.clone();
        events[1] = NewAuditEvent::new("user:u", "x", Subject::new("draft", "d"))
            .into_event("other", 2, 2000, previous)
            .unwrap();
        assert!(matches!(
            broken_at(&events),
            (1, BreakReason::TenantChanged { .. })
        ));
    }
}
