//! The deployment state machine: its states, the moves allowed between them, and the timeline
//! entry each move appends.
//!
//! The names and moves are the ones clients of comparable systems expect:
//! Queued → Submitted | Failed | Cancelled; Submitted → Pending | Failed; Pending → Confirmed |
//! Failed; Confirmed → Indexed | Completed | Failed; Indexed → Completed | Failed; Failed →
//! Queued (a retry, as a new attempt). Anything else is refused with
//! [`IllegalTransition`], never dropped.
//!
//! What each state means here: Queued, accepted and being prepared and signed (nothing sent);
//! Submitted, the first transaction was sent; Pending, waiting for confirmations (a deployment
//! of several transaction groups sends the later ones while Pending); Confirmed, every
//! transaction is final; Indexed, the token was read back from the chain and matches the draft;
//! Completed, its ids and links are recorded.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DeploymentStatus)]
pub enum Status {
    Queued,
    Submitted,
    Pending,
    Confirmed,
    Indexed,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Queued,
        Status::Submitted,
        Status::Pending,
        Status::Confirmed,
        Status::Indexed,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Submitted => "submitted",
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Indexed => "indexed",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// The states this one may move to.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Queued => &[Status::Submitted, Status::Failed, Status::Cancelled],
            Status::Submitted => &[Status::Pending, Status::Failed],
            Status::Pending => &[Status::Confirmed, Status::Failed],
            Status::Confirmed => &[Status::Indexed, Status::Completed, Status::Failed],
            Status::Indexed => &[Status::Completed, Status::Failed],
            Status::Failed => &[Status::Queued],
            Status::Completed | Status::Cancelled => &[],
        }
    }

    pub fn can_move_to(self, to: Status) -> bool {
        self.next().contains(&to)
    }

    /// No step runs for a deployment in this state (a failed one may still be retried).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    /// Checks the move `self` → `to`.
    pub fn check_move(self, to: Status) -> Result<(), IllegalTransition> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a deployment cannot move from {from} to {to}")]
pub struct IllegalTransition {
    pub from: Status,
    pub to: Status,
}

/// One entry of a deployment's timeline: a move, when, why, and what it involved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// `None` for the first entry (the deployment was accepted).
    pub from: Option<Status>,
    pub to: Status,
    /// A stable code for why (`accepted`, `transactions_sent`, `confirmed`, ...).
    pub reason: String,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transaction_ids: Vec<String>,
    /// Time since the previous entry.
    pub since_previous_ms: u64,
    /// For a failure: its catalogued error code and whether a retry can help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moves_are_exactly_the_published_table() {
        let allowed: Vec<(Status, Status)> = Status::ALL
            .into_iter()
            .flat_map(|from| {
                Status::ALL
                    .into_iter()
                    .filter(move |&to| from.can_move_to(to))
                    .map(move |to| (from, to))
            })
            .collect();
        use Status::*;
        assert_eq!(
            allowed,
            [
                (Queued, Submitted),
                (Queued, Failed),
                (Queued, Cancelled),
                (Submitted, Pending),
                (Submitted, Failed),
                (Pending, Confirmed),
                (Pending, Failed),
                (Confirmed, Indexed),
                (Confirmed, Completed),
                (Confirmed, Failed),
                (Indexed, Completed),
                (Indexed, Failed),
                (Failed, Queued),
            ]
        );
        assert_eq!(
            Submitted.check_move(Confirmed),
            Err(IllegalTransition {
                from: Submitted,
                to: Confirmed
            })
        );
        assert_eq!(
            Completed.check_move(Failed).unwrap_err().to_string(),
            "a deployment cannot move from completed to failed"
        );
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(Status::parse("done"), None);
    }
}
