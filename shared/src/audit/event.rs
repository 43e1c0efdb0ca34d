//! An audit event and how its hash is computed.

use super::canonical::{CanonicalError, canonical_sha256_hex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `previous_hash` of a chain's first event (sequence 1): 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an event is about, e.g. `{kind: "deployment", id: "01J..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = AuditSubject)]
pub struct Subject {
    pub kind: String,
    pub id: String,
}

impl Subject {
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
        }
    }
}

/// One link of a tenant's audit chain, exactly as stored and exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub tenant: String,
    /// Position in the tenant's chain, from 1, without gaps.
    pub sequence: u64,
    /// Unix milliseconds when the event entered the chain; never earlier than its predecessor's.
    pub at_ms: i64,
    /// Who caused it, e.g. `user:<id>` or `system:<component>`.
    pub actor: String,
    pub event_type: String,
    pub subject: Subject,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// Structured details: JSON with integers only, and never a secret.
    pub payload: Value,
    /// The `hash` of the event before it, or [`GENESIS_HASH`] for sequence 1.
    pub previous_hash: String,
    /// Lowercase hex SHA-256 of the canonical encoding of every other field.
    pub hash: String,
}

impl AuditEvent {
    /// The hash this event should carry: SHA-256 of the canonical encoding of the event
    /// without its `hash` field.
    pub fn compute_hash(&self) -> Result<String, CanonicalError> {
        canonical_sha256_hex(&self.unhashed_value())
    }

    /// The JSON object that is hashed: every field but `hash`. Built field by field so that
    /// what is hashed cannot drift from the struct by a serde attribute.
    fn unhashed_value(&self) -> Value {
        let mut object = serde_json::Map::new();
        let mut put = |key: &str, value: Value| object.insert(key.to_owned(), value);
        put("tenant", Value::from(self.tenant.as_str()));
        put("sequence", Value::from(self.sequence));
        put("at_ms", Value::from(self.at_ms));
        put("actor", Value::from(self.actor.as_str()));
        put("event_type", Value::from(self.event_type.as_str()));
        let mut subject = serde_json::Map::new();
        subject.insert("kind".into(), Value::from(self.subject.kind.as_str()));
        subject.insert("id".into(), Value::from(self.subject.id.as_str()));
        put("subject", Value::Object(subject));
        put("request_id", Value::from(self.request_id.as_deref()));
        put(
            "correlation_id",
            Value::from(self.correlation_id.as_deref()),
        );
        put("payload", self.payload.clone());
        put("previous_hash", Value::from(self.previous_hash.as_str()));
        Value::Object(object)
    }
}

/// What a caller records; the chain adds tenant, sequence, time and hashes.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEvent {
    pub actor: String,
    pub event_type: String,
    pub subject: Subject,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub payload: Value,
}

impl NewAuditEvent {
    /// An event with no request or correlation id and an empty payload.
    pub fn new(actor: impl Into<String>, event_type: impl Into<String>, subject: Subject) -> Self {
        Self {
            actor: actor.into(),
            event_type: event_type.into(),
            subject,
            request_id: None,
            correlation_id: None,
            payload: Value::Object(serde_json::Map::new()),
        }
    }

    pub fn with_payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// The event at `sequence` after a predecessor with `previous_hash`, hashed.
    pub(crate) fn into_event(
        self,
        tenant: &str,
        sequence: u64,
        at_ms: i64,
        previous_hash: String,
    ) -> Result<AuditEvent, CanonicalError> {
        let mut event = AuditEvent {
            tenant: tenant.to_owned(),
            sequence,
            at_ms,
            actor: self.actor,
            event_type: self.event_type,
            subject: self.subject,
            request_id: self.request_id,
            correlation_id: self.correlation_id,
            payload: self.payload,
            previous_hash,
            hash: String::new(),
        };
        event.hash = event.compute_hash()?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    /// The fixed vector of docs/audit-chain.md. Its hash was computed independently, in Python:
    ///
    /// ```python
    /// import hashlib, json
    /// event = {
    ///     "tenant": "01HZX3T5Q8J9V2K7M4N6P0R1S2", "sequence": 1, "at_ms": 1717171717171,
    ///     "actor": "user:01HZX3T5Q8J9V2K7M4N6P0R1S2", "event_type": "deployment.transition",
    ///     "subject": {"kind": "deployment", "id": "dep-42"},
    ///     "request_id": "req-1", "correlation_id": None,
    ///     "payload": {"to": "submitted", "from": "queued", "amount": 18446744073709551615,
    ///                 "delta": -3, "note": "Grüße \"quoted\"\n\t\x01 €/🦀",
    ///                 "Zeta": [True, False, None, {"b": 2, "a": 1}]},
    ///     "previous_hash": "0" * 64,
    /// }
    /// data = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    /// print(hashlib.sha256(data.encode("utf-8")).hexdigest())
    /// ```
    pub(crate) fn fixed_vector() -> AuditEvent {
        NewAuditEvent {
            actor: "user:01HZX3T5Q8J9V2K7M4N6P0R1S2".into(),
            event_type: "deployment.transition".into(),
            subject: Subject::new("deployment", "dep-42"),
            request_id: Some("req-1".into()),
            correlation_id: None,
            payload: json!({
                "to": "submitted", "from": "queued", "amount": u64::MAX, "delta": -3,
                "note": "Grüße \"quoted\"\n\t\u{1} €/🦀",
                "Zeta": [true, false, null, {"b": 2, "a": 1}]
            }),
        }
        .into_event(
            "01HZX3T5Q8J9V2K7M4N6P0R1S2",
            1,
            1_717_171_717_171,
            GENESIS_HASH.into(),
        )
        .unwrap()
    }

    #[test]
    fn fixed_vector_matches_the_independent_computation() {
        let event = fixed_vector();
        let python_bytes = r#"{"actor":"user:01HZX3T5Q8J9V2K7M4N6P0R1S2","at_ms":1717171717171,"correlation_id":null,"event_type":"deployment.transition","payload":{"Zeta":[true,false,null,{"a":1,"b":2}],"amount":18446744073709551615,"delta":-3,"from":"queued","note":"Grüße \"quoted\"\n\t\u0001 €/🦀","to":"submitted"},"previous_hash":"0000000000000000000000000000000000000000000000000000000000000000","request_id":"req-1","sequence":1,"subject":{"id":"dep-42","kind":"deployment"},"tenant":"01HZX3T5Q8J9V2K7M4N6P0R1S2"}"#;
        let ours = super::super::canonical::to_canonical_bytes(&event.unhashed_value()).unwrap();
        assert_eq!(String::from_utf8(ours).unwrap(), python_bytes);
        assert_eq!(
            event.hash,
            "619ce44411b96f0ddbfc23b60eb8f5771cfaf124a1ae3a65e630bf93e30c88bb"
        );
        assert_eq!(event.compute_hash().unwrap(), event.hash);
    }

    #[test]
    fn every_field_but_the_hash_is_covered() {
        let event = fixed_vector();
        let changed: Vec<AuditEvent> = vec![
            AuditEvent {
                tenant: "other".into(),
                ..event.clone()
            },
            AuditEvent {
                sequence: 2,
                ..event.clone()
            },
            AuditEvent {
                at_ms: event.at_ms + 1,
                ..event.clone()
            },
            AuditEvent {
                actor: "user:x".into(),
                ..event.clone()
            },
            AuditEvent {
                event_type: "x".into(),
                ..event.clone()
            },
            AuditEvent {
                subject: Subject::new("draft", "dep-42"),
                ..event.clone()
            },
            AuditEvent {
                subject: Subject::new("deployment", "x"),
                ..event.clone()
            },
            AuditEvent {
                request_id: None,
                ..event.clone()
            },
            AuditEvent {
                correlation_id: Some("c".into()),
                ..event.clone()
            },
            AuditEvent {
                payload: json!({}),
                ..event.clone()
            },
            AuditEvent {
                previous_hash: "1".repeat(64),
                ..event.clone()
            },
        ];
        for other in changed {
            assert_ne!(other.compute_hash().unwrap(), event.hash, "{other:?}");
        }
        let rehashed = AuditEvent {
            hash: "x".into(),
            ..event.clone()
        };
        assert_eq!(rehashed.compute_hash().unwrap(), event.hash);
    }

    #[test]
    fn the_hashed_object_is_the_serialised_event_without_its_hash() {
        let event = fixed_vector();
        let mut serialised = serde_json::to_value(&event).unwrap();
        serialised.as_object_mut().unwrap().remove("hash");
        assert_eq!(serialised, event.unhashed_value());
        let back: AuditEvent =
            serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
        assert_eq!(back, event);
    }
}
