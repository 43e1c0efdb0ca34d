//! EIP-1559 transactions: what [`super::EvmClient`] prepares, how it is signed, and the fee and
//! gas arithmetic behind it (pure, so it is tested here).

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use k256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};

use crate::chains::error::ChainError;

/// Added to the node's gas estimate. The estimate is the least gas with which the call
/// succeeded on the state the node had; the state at inclusion may differ (another
/// transaction first, a storage slot no longer fresh), and a transaction that runs out of
/// gas still pays for all of it. Unused gas is refunded, so the margin costs nothing but a
/// larger funds check.
pub const GAS_MARGIN_PERCENT: u64 = 20;

/// A transaction with everything needed to sign it: nonce, gas and EIP-1559 fee caps, checked
/// against the network's fee ceiling and the sender's balance when it was prepared. The
/// pipeline stores it between steps, so it serialises (fee caps as decimal strings: JSON
/// numbers lose precision above 2^53 in many readers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedTransaction {
    /// The registry id of the network it was prepared for.
    pub network: String,
    pub chain_id: u64,
    pub from: Address,
    pub nonce: u64,
    /// `None` creates a contract from `input`.
    pub to: Option<Address>,
    pub value: U256,
    pub input: Bytes,
    pub gas_limit: u64,
    #[serde(with = "decimal_u128")]
    pub max_fee_per_gas: u128,
    #[serde(with = "decimal_u128")]
    pub max_priority_fee_per_gas: u128,
}

/// A signed transaction: its EIP-2718 bytes, as `eth_sendRawTransaction` takes them, and its
/// hash. Sending the same bytes again is the same transaction, never a second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    #[serde(with = "alloy_primitives::hex::serde")]
    pub raw: Vec<u8>,
    pub hash: B256,
}

impl PreparedTransaction {
    /// The most the transaction can cost its sender: all its gas at the fee cap, plus the
    /// value it carries.
    pub fn max_cost(&self) -> U256 {
        U256::from(self.gas_limit) * U256::from(self.max_fee_per_gas) + self.value
    }

    /// Signs with the sender's key. The key is only borrowed (it zeroizes itself when its
    /// owner drops it); a key of another account is refused, since the node would take the
    /// signature's account as the sender, with someone else's nonce.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedTransaction, ChainError> {
        let signer = Address::from_private_key(key);
        if signer != self.from {
            return Err(ChainError::Malformed {
                network: self.network.clone(),
                reason: format!(
                    "the transaction was prepared for {} but the signing key is {}'s",
                    self.from.to_checksum(None),
                    signer.to_checksum(None)
                ),
            });
        }
        let transaction = self.to_eip1559();
        let digest = transaction.signature_hash();
        let (signature, recovery_id) =
            key.sign_prehash_recoverable(digest.as_slice())
                .map_err(|error| ChainError::Malformed {
                    network: self.network.clone(),
                    reason: format!("cannot sign: {error}"),
                })?;
        let signed = transaction.into_signed(Signature::from((signature, recovery_id)));
        Ok(SignedTransaction {
            raw: signed.encoded_2718(),
            hash: *signed.hash(),
        })
    }

    fn to_eip1559(&self) -> TxEip1559 {
        TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
            to: self.to.map_or(TxKind::Create, TxKind::Call),
            value: self.value,
            access_list: Default::default(),
            input: self.input.clone(),
        }
    }
}

/// EIP-1559 fee caps per gas, in wei.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FeeCaps {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

/// The fee caps for the current `base_fee` and the node's `priority_fee`, within `ceiling`.
/// The cap allows the base fee to double before inclusion (it can rise 12.5% a block, so that
/// is six full blocks in a row), but never goes above the ceiling. When even the fee per gas
/// now (base + priority) is above the ceiling, it is returned as the error: nothing can be
/// sent within the ceiling.
pub(crate) fn fee_caps(base_fee: u128, priority_fee: u128, ceiling: u128) -> Result<FeeCaps, u128> {
    // An overflow is above any ceiling.
    let now = base_fee.checked_add(priority_fee).ok_or(u128::MAX)?;
    if now > ceiling {
        return Err(now);
    }
    let headroom = base_fee.saturating_mul(2).saturating_add(priority_fee);
    Ok(FeeCaps {
        max_fee_per_gas: headroom.min(ceiling),
        max_priority_fee_per_gas: priority_fee,
    })
}

/// The gas limit for an estimate: [`GAS_MARGIN_PERCENT`] more, but no more than a block
/// holds (when the estimate itself fits).
pub(crate) fn gas_limit_for(estimate: u64, block_gas_limit: u64) -> u64 {
    let margin = estimate.saturating_mul(GAS_MARGIN_PERCENT).div_ceil(100);
    let limit = estimate.saturating_add(margin);
    if estimate <= block_gas_limit {
        limit.min(block_gas_limit)
    } else {
        limit
    }
}

/// A u128 as a decimal string.
pub(super) mod decimal_u128 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(in crate::chains::evm) fn serialize<S: Serializer>(
        value: &u128,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(in crate::chains::evm) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("{text:?} is not a whole number of wei")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::TxEnvelope;
    use alloy_eips::eip2718::Decodable2718;
    use alloy_primitives::{address, hex};

    #[test]
    fn fees_leave_room_for_the_base_fee_to_double_within_the_ceiling() {
        let gwei = 1_000_000_000u128;
        assert_eq!(
            fee_caps(10 * gwei, gwei, 100 * gwei),
            Ok(FeeCaps {
                max_fee_per_gas: 21 * gwei,
                max_priority_fee_per_gas: gwei
            })
        );
        // The ceiling caps the headroom, not what is needed now.
        assert_eq!(
            fee_caps(10 * gwei, gwei, 15 * gwei),
            Ok(FeeCaps {
                max_fee_per_gas: 15 * gwei,
                max_priority_fee_per_gas: gwei
            })
        );
        assert_eq!(
            fee_caps(10 * gwei, gwei, 11 * gwei)
                .unwrap()
                .max_fee_per_gas,
            11 * gwei
        );
        assert_eq!(fee_caps(10 * gwei, gwei, 11 * gwei - 1), Err(11 * gwei));
        assert_eq!(fee_caps(7, 0, 1), Err(7));
        assert_eq!(fee_caps(u128::MAX, 1, u128::MAX), Err(u128::MAX));
        assert_eq!(
            fee_caps(0, 0, 5),
            Ok(FeeCaps {
                max_fee_per_gas: 0,
                max_priority_fee_per_gas: 0
            })
        );
    }

    #[test]
    fn gas_limits_add_the_margin_up_to_the_block_limit() {
        assert_eq!(gas_limit_for(100_000, 30_000_000), 120_000);
        assert_eq!(gas_limit_for(21_001, 30_000_000), 25_202);
        assert_eq!(gas_limit_for(29_000_000, 30_000_000), 30_000_000);
        assert_eq!(gas_limit_for(31_000_000, 30_000_000), 37_200_000);
        assert_eq!(gas_limit_for(u64::MAX, u64::MAX), u64::MAX);
    }

    fn prepared(key: &SigningKey) -> PreparedTransaction {
        PreparedTransaction {
            network: "evm-devnet".into(),
            chain_id: 31337,
            from: Address::from_private_key(key),
            nonce: 7,
            to: None,
            value: U256::ZERO,
            input: Bytes::from(vec![0x60, 0x00]),
            gas_limit: 60_000,
            max_fee_per_gas: 3_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        }
    }

    #[test]
    fn signing_makes_an_eip1559_envelope_that_recovers_to_the_sender() {
        let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
        let transaction = prepared(&key);
        let signed = transaction.sign(&key).unwrap();
        assert_eq!(signed.raw[0], 0x02, "EIP-1559 type byte");
        assert_eq!(alloy_primitives::keccak256(&signed.raw), signed.hash);
        let TxEnvelope::Eip1559(decoded) =
            TxEnvelope::decode_2718(&mut signed.raw.as_slice()).unwrap()
        else {
            panic!("not an EIP-1559 envelope");
        };
        assert_eq!(decoded.tx(), &transaction.to_eip1559());
        let sender = decoded
            .signature()
            .recover_address_from_prehash(&decoded.signature_hash())
            .unwrap();
        assert_eq!(sender, transaction.from);
        // Deterministic (RFC 6979): signing again gives the same bytes.
        assert_eq!(transaction.sign(&key).unwrap(), signed);
    }

    #[test]
    fn a_key_of_another_account_is_refused() {
        let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
        let other = SigningKey::from_slice(&[0x43; 32]).unwrap();
        let error = prepared(&key).sign(&other).unwrap_err();
        assert!(
            matches!(&error, ChainError::Malformed { reason, .. } if reason.contains("signing key")),
            "{error}"
        );
    }

    #[test]
    fn max_cost_is_all_the_gas_at_the_cap_plus_the_value() {
        let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
        let mut transaction = prepared(&key);
        assert_eq!(
            transaction.max_cost(),
            U256::from(60_000u64 * 3_000_000_000u64)
        );
        transaction.value = U256::from(5u64);
        assert_eq!(
            transaction.max_cost(),
            U256::from(60_000u64 * 3_000_000_000u64 + 5)
        );
    }

    #[test]
    fn prepared_and_signed_transactions_round_trip_through_json() {
        let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
        let mut transaction = prepared(&key);
        transaction.to = Some(address!("0x1111111111111111111111111111111111111111"));
        transaction.max_fee_per_gas = u128::from(u64::MAX) * 1000;
        let json = serde_json::to_value(&transaction).unwrap();
        assert_eq!(json["max_fee_per_gas"], "18446744073709551615000");
        assert_eq!(json["max_priority_fee_per_gas"], "1000000000");
        assert_eq!(json["input"], "0x6000");
        let back: PreparedTransaction = serde_json::from_value(json).unwrap();
        assert_eq!(back, transaction);

        let signed = transaction.sign(&key).unwrap();
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(json["raw"], format!("0x{}", hex::encode(&signed.raw)));
        let back: SignedTransaction = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);

        let mut bad = serde_json::to_value(&transaction).unwrap();
        bad["max_fee_per_gas"] = "12.5".into();
        assert!(serde_json::from_value::<PreparedTransaction>(bad).is_err());
    }
}
