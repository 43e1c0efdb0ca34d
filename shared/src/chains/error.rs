//! What can go wrong when talking to a chain, in terms a caller can act on: a network that is
//! not configured, a node that cannot be reached or serves another chain, a transaction the
//! node refuses, funds that do not cover a transaction, and answers that are late or make no
//! sense. The API maps each to a catalogued code (`api::errors`).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// No network of the wanted family has this id in the registry.
    #[error("no {family} network {network:?} is configured")]
    NetworkNotConfigured {
        network: String,
        family: &'static str,
    },
    /// The node did not answer usefully (refused connections, resets, 5xx, rate limits),
    /// even after retries. Retrying later may succeed.
    #[error("network {network} is unreachable: {reason}")]
    NetworkUnreachable { network: String, reason: String },
    /// The node serves another chain than the one configured under this id: sending there
    /// would sign for, and spend on, the wrong network.
    #[error("network {network} is configured as {expected} but its node serves {found}")]
    NetworkMismatch {
        network: String,
        expected: String,
        found: String,
    },
    /// The node refused the transaction; `message` is the node's own reason.
    #[error("the node rejected the transaction: {message}")]
    TransactionRejected { message: String },
    /// An account holds less than a transaction would take from it. Amounts are in the
    /// chain's base unit (µAlgo, wei).
    #[error("{address} holds {held} but needs {needed}")]
    InsufficientFunds {
        address: String,
        needed: u128,
        held: u128,
    },
    /// The network's current fee per gas (base fee plus the tip it needs) is above the
    /// configured ceiling: nothing was sent. Fees change, so retrying later may succeed.
    #[error("network {network} wants {fee_per_gas} wei per gas, above the ceiling of {ceiling}")]
    FeeAboveCeiling {
        network: String,
        fee_per_gas: u128,
        ceiling: u128,
    },
    /// The node did not answer, or the transaction was not confirmed, in time. Retrying
    /// later may succeed.
    #[error("network {network}: {operation} timed out")]
    Timeout { network: String, operation: String },
    /// The node answered something this client does not understand.
    #[error("network {network} answered unexpectedly: {reason}")]
    Malformed { network: String, reason: String },
}

impl ChainError {
    /// Whether the same call may succeed later without any change.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ChainError::NetworkUnreachable { .. }
                | ChainError::Timeout { .. }
                | ChainError::FeeAboveCeiling { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachable_nodes_timeouts_and_high_fees_are_retryable() {
        let network = || "n".to_string();
        let retryable = [
            ChainError::NetworkUnreachable {
                network: network(),
                reason: "refused".into(),
            },
            ChainError::Timeout {
                network: network(),
                operation: "GET /versions".into(),
            },
            ChainError::FeeAboveCeiling {
                network: network(),
                fee_per_gas: 3,
                ceiling: 2,
            },
        ];
        let final_ = [
            ChainError::NetworkNotConfigured {
                network: network(),
                family: "Algorand",
            },
            ChainError::NetworkMismatch {
                network: network(),
                expected: "a".into(),
                found: "b".into(),
            },
            ChainError::TransactionRejected {
                message: "overspend".into(),
            },
            ChainError::InsufficientFunds {
                address: "A".into(),
                needed: 2,
                held: 1,
            },
            ChainError::Malformed {
                network: network(),
                reason: "not JSON".into(),
            },
        ];
        assert!(retryable.iter().all(ChainError::is_retryable));
        assert!(!final_.iter().any(ChainError::is_retryable));
        assert_eq!(
            final_[0].to_string(),
            "no Algorand network \"n\" is configured"
        );
    }
}
