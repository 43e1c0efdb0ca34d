//! Verification of a run of consecutive events: needs nothing but the events themselves.

use super::event::{AuditEvent, GENESIS_HASH};

/// Why the chain breaks at an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BreakReason {
    #[error("sequence {found} where {expected} was expected")]
    SequenceGap { expected: u64, found: u64 },
    #[error("sequence {found} after {previous}: sequences must increase")]
    SequenceNotIncreasing { previous: u64, found: u64 },
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

/// Which events a [`ChainChecker`] expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// Consecutive sequences starting anywhere: the first event's link is taken on trust.
    Run,
    /// Consecutive sequences from 1: the whole chain.
    FromGenesis,
    /// Increasing sequences with gaps (a filtered selection): links are checked only between
    /// events whose sequences are consecutive.
    Sparse,
}

/// Checks events one at a time in file or slice order, remembering only the last one, so
/// that a chain of any length can be streamed through it.
#[derive(Clone, Debug)]
pub struct ChainChecker {
    continuity: Continuity,
    previous: Option<Link>,
}

/// What the next event is checked against.
#[derive(Clone, Debug)]
struct Link {
    tenant: String,
    sequence: u64,
    at_ms: i64,
    hash: String,
}

impl ChainChecker {
    pub fn new(continuity: Continuity) -> Self {
        Self {
            continuity,
            previous: None,
        }
    }

    /// Checks `event` after those already checked: its `hash` is recomputed from its content;
    /// a first event has sequence ≥ 1 (exactly 1 for [`Continuity::FromGenesis`]) and the zero
    /// hash before sequence 1; later ones continue the sequence as the continuity says, keep
    /// the tenant, never go back in time, and link to the previous hash where the sequences
    /// are consecutive. Only an event that passes becomes the one the next is checked against.
    pub fn check(&mut self, event: &AuditEvent) -> Result<(), BreakReason> {
        let computed = event
            .compute_hash()
            .map_err(|e| BreakReason::Unencodable(e.to_string()))?;
        if computed != event.hash {
            return Err(BreakReason::HashMismatch {
                stored: event.hash.clone(),
                computed,
            });
        }
        match &self.previous {
            None => {
                if event.sequence == 0 {
                    return Err(BreakReason::SequenceZero);
                }
                if self.continuity == Continuity::FromGenesis && event.sequence != 1 {
                    return Err(BreakReason::SequenceGap {
                        expected: 1,
                        found: event.sequence,
                    });
                }
                if event.sequence == 1 && event.previous_hash != GENESIS_HASH {
                    return Err(BreakReason::BadGenesis);
                }
            }
            Some(before) => {
                let next = before.sequence.checked_add(1);
                let consecutive = next == Some(event.sequence);
                let in_order = if self.continuity == Continuity::Sparse {
                    event.sequence > before.sequence
                } else {
                    consecutive
                };
                if !in_order {
                    return Err(match next {
                        Some(expected) if self.continuity != Continuity::Sparse => {
                            BreakReason::SequenceGap {
                                expected,
                                found: event.sequence,
                            }
                        }
                        _ => BreakReason::SequenceNotIncreasing {
                            previous: before.sequence,
                            found: event.sequence,
                        },
                    });
                }
                if event.tenant != before.tenant {
                    return Err(BreakReason::TenantChanged {
                        expected: before.tenant.clone(),
                        found: event.tenant.clone(),
                    });
                }
                if consecutive && event.previous_hash != before.hash {
                    return Err(BreakReason::BrokenLink);
                }
                // Times never go backwards along a chain, so this holds across gaps too.
                if event.at_ms < before.at_ms {
                    return Err(BreakReason::TimeWentBackwards {
                        previous: before.at_ms,
                        found: event.at_ms,
                    });
                }
            }
        }
        self.previous = Some(Link {
            tenant: event.tenant.clone(),
            sequence: event.sequence,
            at_ms: event.at_ms,
            hash: event.hash.clone(),
        });
        Ok(())
    }
}

/// Checks that `events` is an unbroken run of one tenant's chain: sequences continue by one
/// from the first event's, each `previous_hash` is its predecessor's `hash` (64 zeros for
/// sequence 1), times never go backwards, and each `hash` is recomputed from the content.
/// A run may start mid-chain; its first link is then taken on trust.
pub fn verify(events: &[AuditEvent]) -> Result<(), ChainBreak> {
    let mut checker = ChainChecker::new(Continuity::Run);
    for (index, event) in events.iter().enumerate() {
        checker
            .check(event)
            .map_err(|reason| ChainBreak { index, reason })?;
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

    fn check_all(
        continuity: Continuity,
        events: &[&AuditEvent],
    ) -> Result<(), (usize, BreakReason)> {
        let mut checker = ChainChecker::new(continuity);
        for (index, event) in events.iter().enumerate() {
            checker.check(event).map_err(|reason| (index, reason))?;
        }
        Ok(())
    }

    #[test]
    fn a_whole_chain_must_start_at_one() {
        let events = chain(4);
        let all: Vec<&AuditEvent> = events.iter().collect();
        assert_eq!(check_all(Continuity::FromGenesis, &all), Ok(()));
        assert_eq!(check_all(Continuity::Run, &all[1..]), Ok(()));
        assert_eq!(
            check_all(Continuity::FromGenesis, &all[1..]),
            Err((
                0,
                BreakReason::SequenceGap {
                    expected: 1,
                    found: 2
                }
            ))
        );
    }

    #[test]
    fn a_sparse_selection_links_only_its_consecutive_events() {
        let mut events = chain(6);
        let sparse = |events: &[AuditEvent]| {
            let picked = [&events[0], &events[2], &events[3], &events[5]];
            check_all(Continuity::Sparse, &picked)
        };
        assert_eq!(sparse(&events), Ok(()));
        assert!(matches!(
            check_all(Continuity::Run, &[&events[0], &events[2]]),
            Err((1, BreakReason::SequenceGap { .. }))
        ));
        assert_eq!(
            check_all(Continuity::Sparse, &[&events[0], &events[3], &events[2]]),
            Err((
                2,
                BreakReason::SequenceNotIncreasing {
                    previous: 4,
                    found: 3
                }
            ))
        );
        assert_eq!(
            check_all(Continuity::Sparse, &[&events[2], &events[2]]),
            Err((
                1,
                BreakReason::SequenceNotIncreasing {
                    previous: 3,
                    found: 3
                }
            ))
        );
        // A forged event 3, rehashed: its successor 4 is in the selection and catches it.
        events[2].payload = json!({ "n": 99 });
        events[2].hash = events[2].compute_hash().unwrap();
        assert_eq!(sparse(&events), Err((2, BreakReason::BrokenLink)));
        // Time cannot go back across a gap either.
        let mut events = chain(3);
        events[2] = NewAuditEvent::new("user:u", "x", Subject::new("draft", "d"))
            .into_event("t", 3, 0, events[1].hash.clone())
            .unwrap();
        assert_eq!(
            check_all(Continuity::Sparse, &[&events[0], &events[2]]),
            Err((
                1,
                BreakReason::TimeWentBackwards {
                    previous: 1001,
                    found: 0
                }
            ))
        );
    }

    #[test]
    fn nothing_follows_the_last_possible_sequence() {
        let last = NewAuditEvent::new("user:u", "x", Subject::new("draft", "d"))
            .into_event("t", u64::MAX, 5, "1".repeat(64))
            .unwrap();
        assert_eq!(
            check_all(Continuity::Run, &[&last, &last]),
            Err((
                1,
                BreakReason::SequenceNotIncreasing {
                    previous: u64::MAX,
                    found: u64::MAX
                }
            ))
        );
    }
}
