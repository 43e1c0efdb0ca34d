//! Who and what an audit event comes from, and the catalogue of event types.

use super::event::{NewAuditEvent, Subject};
use serde_json::Value;

/// Every event type the system records. Filters and exports use these names; they are
/// part of the API, so a type is never renamed (a new one is added instead).
pub mod types {
    pub const USER_REGISTERED: &str = "user.registered";
    pub const LOGIN_SUCCEEDED: &str = "user.login_succeeded";
    /// A wrong password, or any attempt while locked (payload `locked: true`).
    pub const LOGIN_FAILED: &str = "user.login_failed";
    pub const LOCKED_OUT: &str = "user.locked_out";
    pub const PASSWORD_CHANGED: &str = "user.password_changed";
    pub const LOGGED_OUT: &str = "user.logged_out";
    pub const KEY_EXPORTED: &str = "key.exported";
    pub const KEY_DECRYPTED_FOR_SIGNING: &str = "key.decrypted_for_signing";
    pub const DRAFT_CREATED: &str = "draft.created";
    pub const DRAFT_CHANGED: &str = "draft.changed";
    pub const DRAFT_DELETED: &str = "draft.deleted";
    pub const DRAFT_VALIDATED: &str = "draft.validated";
    pub const COMPLIANCE_REPORT: &str = "compliance.report";
    pub const DEPLOYMENT_TRANSITION: &str = "deployment.transition";
    pub const WEBHOOK_SUBSCRIBED: &str = "webhook.subscribed";
    pub const WEBHOOK_UNSUBSCRIBED: &str = "webhook.unsubscribed";
    pub const WEBHOOK_DELIVERED: &str = "webhook.delivered";
    pub const WEBHOOK_DELIVERY_FAILED: &str = "webhook.delivery_failed";
    pub const EXPORT_REQUESTED: &str = "audit.export_requested";
    pub const EXPORT_COMPLETED: &str = "audit.export_completed";
    pub const EXPORT_FAILED: &str = "audit.export_failed";

    pub const ALL: &[&str] = &[
        USER_REGISTERED,
        LOGIN_SUCCEEDED,
        LOGIN_FAILED,
        LOCKED_OUT,
        PASSWORD_CHANGED,
        LOGGED_OUT,
        KEY_EXPORTED,
        KEY_DECRYPTED_FOR_SIGNING,
        DRAFT_CREATED,
        DRAFT_CHANGED,
        DRAFT_DELETED,
        DRAFT_VALIDATED,
        COMPLIANCE_REPORT,
        DEPLOYMENT_TRANSITION,
        WEBHOOK_SUBSCRIBED,
        WEBHOOK_UNSUBSCRIBED,
        WEBHOOK_DELIVERED,
        WEBHOOK_DELIVERY_FAILED,
        EXPORT_REQUESTED,
        EXPORT_COMPLETED,
        EXPORT_FAILED,
    ];
}

/// The actor of an event and the request and operation it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub actor: String,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
}

impl Origin {
    /// A signed-in user (or one being registered or signing in).
    pub fn user(user_id: &str) -> Self {
        Self::actor(format!("user:{user_id}"))
    }

    /// Someone not signed in (yet): registration and sign-in requests before the user is
    /// known; their events name the user with [`Origin::as_actor`].
    pub fn anonymous() -> Self {
        Self::actor("anonymous".to_owned())
    }

    /// A part of the system acting on its own, e.g. `pipeline`, `sweep`, `webhooks`.
    pub fn system(component: &str) -> Self {
        Self::actor(format!("system:{component}"))
    }

    fn actor(actor: String) -> Self {
        Self {
            actor,
            request_id: None,
            correlation_id: None,
        }
    }

    /// The HTTP request the event comes from.
    pub fn in_request(mut self, request_id: &str, correlation_id: &str) -> Self {
        self.request_id = non_empty(request_id);
        self.correlation_id = non_empty(correlation_id);
        self
    }

    /// The operation a later step carries on (a deployment's, kept since its request).
    pub fn correlated(mut self, correlation_id: Option<&str>) -> Self {
        self.correlation_id = correlation_id.and_then(non_empty);
        self
    }

    /// The same actor and ids as someone else (e.g. a user acting): for events another
    /// actor causes within the same request.
    pub fn as_actor(&self, actor: Origin) -> Self {
        Self {
            actor: actor.actor,
            request_id: self.request_id.clone(),
            correlation_id: self.correlation_id.clone(),
        }
    }

    pub fn event(&self, event_type: &str, subject: Subject, payload: Value) -> NewAuditEvent {
        NewAuditEvent {
            actor: self.actor.clone(),
            event_type: event_type.to_owned(),
            subject,
            request_id: self.request_id.clone(),
            correlation_id: self.correlation_id.clone(),
            payload,
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_origin() {
        let origin = Origin::user("u1").in_request("req-1", "corr-1");
        let event = origin.event(
            types::DRAFT_CREATED,
            Subject::new("draft", "d1"),
            serde_json::json!({"valid": true}),
        );
        assert_eq!(event.actor, "user:u1");
        assert_eq!(event.request_id.as_deref(), Some("req-1"));
        assert_eq!(event.correlation_id.as_deref(), Some("corr-1"));
        let system = Origin::system("pipeline").correlated(Some(""));
        assert_eq!(system.actor, "system:pipeline");
        assert_eq!(system.correlation_id, None);
    }

    #[test]
    fn event_types_are_unique() {
        let mut seen = std::collections::HashSet::new();
        assert!(types::ALL.iter().all(|name| seen.insert(*name)));
    }
}
