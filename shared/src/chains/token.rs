//! What a valid draft puts on chain: its resolved parameters (defaults applied, amounts in
//! base units, addresses filled in) turned into the chain family's own description of the
//! token. The validator has already checked every value against the standard's limits, so a
//! failure here means the draft and this code disagree: it is reported, never guessed around.

use alloy_primitives::U256;
use base64::Engine;
use serde_json::Value;

use super::algorand::deploy::{AlgorandToken, Arc200Spec, SecurityTokenSpec};
use super::algorand::transaction::{Address as AlgorandAddress, AssetParams};
use super::evm::contracts::{Erc20Kind, Erc20Spec};
use crate::drafts::standards::Standard;

/// The token a draft describes, for its chain family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSpec {
    Algorand(AlgorandToken),
    Evm(Erc20Spec),
}

/// The deployer's own accounts: who pays, and who owns or controls what is created unless
/// the draft names someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployer {
    pub algorand: AlgorandAddress,
    pub evm: alloy_primitives::Address,
}

/// A resolved parameter that is missing or not what the standard defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resolved parameter {field}: {reason}")]
pub struct SpecError {
    pub field: String,
    pub reason: String,
}

impl TokenSpec {
    /// The token of `standard` with the validator's `resolved` parameters, deployed by
    /// `deployer`.
    pub fn from_resolved(
        standard: &Standard,
        resolved: &Value,
        deployer: &Deployer,
    ) -> Result<Self, SpecError> {
        let params = Params(resolved);
        let spec = match standard.id {
            "asa-ft" | "asa-nft" | "asa-fnft" | "arc3-ft" | "arc3-nft" | "arc3-fnft" => {
                TokenSpec::Algorand(AlgorandToken::Asset(AssetParams {
                    total: params.u64_units("total")?,
                    decimals: u32::from(params.decimals()?),
                    default_frozen: params.flag("default_frozen")?,
                    unit_name: params.text("unit_name")?,
                    asset_name: params.text("asset_name")?,
                    url: params.optional_text("url")?.unwrap_or_default(),
                    metadata_hash: params.optional_hash("metadata_hash")?,
                    manager: params.optional_algorand("manager")?,
                    reserve: params.optional_algorand("reserve")?,
                    freeze: params.optional_algorand("freeze")?,
                    clawback: params.optional_algorand("clawback")?,
                }))
            }
            "arc200-mintable" | "arc200-preminted" => {
                let preminted = standard.id == "arc200-preminted";
                TokenSpec::Algorand(AlgorandToken::Arc200(Arc200Spec {
                    name: params.text("name")?,
                    symbol: params.text("symbol")?,
                    decimals: params.decimals()?,
                    initial_supply: params.supply(preminted)?,
                    receiver: params.algorand("receiver")?,
                    // Mintable without a cap: the contract's cap 0 would mean "preminted".
                    mint_cap: if preminted {
                        None
                    } else {
                        Some(params.optional_u256_units("cap")?.unwrap_or(U256::MAX))
                    },
                }))
            }
            "security-token" => {
                TokenSpec::Algorand(AlgorandToken::SecurityToken(SecurityTokenSpec {
                    name: params.text("name")?,
                    symbol: params.text("symbol")?,
                    decimals: params.decimals()?,
                    initial_supply: params.u256_units("initial_supply")?,
                    receiver: params.algorand("receiver")?,
                    cap: params.optional_u256_units("cap")?.unwrap_or(U256::MAX),
                    controller: params.algorand("controller")?,
                    whitelist_only: params.flag("whitelist_only")?,
                }))
            }
            "erc20-mintable" | "erc20-preminted" => {
                let preminted = standard.id == "erc20-preminted";
                TokenSpec::Evm(Erc20Spec {
                    kind: if preminted {
                        Erc20Kind::Preminted
                    } else {
                        Erc20Kind::Mintable
                    },
                    name: params.text("name")?,
                    symbol: params.text("symbol")?,
                    decimals: params.decimals()?,
                    initial_supply: params.supply(preminted)?,
                    cap: if preminted {
                        None
                    } else {
                        params.optional_u256_units("cap")?
                    },
                    receiver: params.evm("receiver")?,
                    owner: deployer.evm,
                })
            }
            other => {
                return Err(SpecError {
                    field: "standard".into(),
                    reason: format!("{other} has no deployment"),
                });
            }
        };
        Ok(spec)
    }
}

/// Typed access to the resolved parameters.
struct Params<'a>(&'a Value);

impl Params<'_> {
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|value| !value.is_null())
    }

    fn error(field: &str, reason: impl Into<String>) -> SpecError {
        SpecError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    fn required(&self, field: &str) -> Result<&Value, SpecError> {
        self.get(field).ok_or_else(|| Self::error(field, "missing"))
    }

    fn optional_text(&self, field: &str) -> Result<Option<String>, SpecError> {
        self.get(field)
            .map(|value| {
                value
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Self::error(field, "not text"))
            })
            .transpose()
    }

    fn text(&self, field: &str) -> Result<String, SpecError> {
        self.optional_text(field)?
            .ok_or_else(|| Self::error(field, "missing"))
    }

    fn flag(&self, field: &str) -> Result<bool, SpecError> {
        self.required(field)?
            .as_bool()
            .ok_or_else(|| Self::error(field, "not a boolean"))
    }

    fn decimals(&self) -> Result<u8, SpecError> {
        self.required("decimals")?
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| Self::error("decimals", "not a small integer"))
    }

    /// An amount's base units, which the validator writes beside it as a decimal string.
    fn optional_u256_units(&self, field: &str) -> Result<Option<U256>, SpecError> {
        let name = format!("{field}_base_units");
        self.get(&name)
            .map(|value| {
                value
                    .as_str()
                    .and_then(|text| U256::from_str_radix(text, 10).ok())
                    .ok_or_else(|| Self::error(&name, "not a decimal integer"))
            })
            .transpose()
    }

    fn u256_units(&self, field: &str) -> Result<U256, SpecError> {
        self.optional_u256_units(field)?
            .ok_or_else(|| Self::error(&format!("{field}_base_units"), "missing"))
    }

    fn u64_units(&self, field: &str) -> Result<u64, SpecError> {
        u64::try_from(self.u256_units(field)?)
            .map_err(|_| Self::error(&format!("{field}_base_units"), "above 2^64 - 1"))
    }

    /// The supply minted at deployment: `total_supply` of a preminted token, else
    /// `initial_supply`.
    fn supply(&self, preminted: bool) -> Result<U256, SpecError> {
        self.u256_units(if preminted {
            "total_supply"
        } else {
            "initial_supply"
        })
    }

    fn optional_algorand(&self, field: &str) -> Result<Option<AlgorandAddress>, SpecError> {
        self.optional_text(field)?
            .map(|text| {
                text.parse()
                    .map_err(|_| Self::error(field, "not an Algorand address"))
            })
            .transpose()
    }

    fn algorand(&self, field: &str) -> Result<AlgorandAddress, SpecError> {
        self.optional_algorand(field)?
            .ok_or_else(|| Self::error(field, "missing"))
    }

    fn evm(&self, field: &str) -> Result<alloy_primitives::Address, SpecError> {
        self.text(field)?
            .parse()
            .map_err(|_| Self::error(field, "not an EVM address"))
    }

    fn optional_hash(&self, field: &str) -> Result<Option<[u8; 32]>, SpecError> {
        self.optional_text(field)?
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| Self::error(field, "not base64 of 32 bytes"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drafts::standards;
    use crate::drafts::validate::{Context, validate};
    use crate::networks::NetworkRegistry;
    use serde_json::json;

    const ALGO: &str = "AEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEA5RCDXMI";
    const OTHER_ALGO: &str = "AIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBMXPWWNQ";
    const EVM: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";

    fn deployer() -> Deployer {
        Deployer {
            algorand: ALGO.parse().unwrap(),
            evm: EVM.parse().unwrap(),
        }
    }

    fn spec_of(standard: &str, network: &str, params: Value) -> TokenSpec {
        let context = Context {
            algorand_address: ALGO.into(),
            evm_address: EVM.into(),
            metadata_base_url: Some("https://api.example.com/v1/metadata/".parse().unwrap()),
        };
        let draft = json!({"standard": standard, "network": network, "params": params});
        let report = validate(&draft, &NetworkRegistry::built_in().unwrap(), &context);
        assert!(report.valid, "{standard}: {:?}", report.errors);
        TokenSpec::from_resolved(
            standards::find(standard).unwrap(),
            report.resolved.as_ref().unwrap(),
            &deployer(),
        )
        .unwrap()
    }

    #[test]
    fn an_asa_takes_the_resolved_fields_and_defaults() {
        let spec = spec_of(
            "asa-ft",
            "algorand-testnet",
            json!({"asset_name": "Gold", "unit_name": "GLD", "total": "1000.5", "decimals": 2,
                   "clawback": OTHER_ALGO}),
        );
        let TokenSpec::Algorand(AlgorandToken::Asset(asset)) = spec else {
            panic!("{spec:?}");
        };
        assert_eq!(asset.total, 100_050);
        assert_eq!(asset.decimals, 2);
        assert_eq!(
            asset.manager,
            Some(ALGO.parse().unwrap()),
            "defaults to own"
        );
        assert_eq!(asset.clawback, Some(OTHER_ALGO.parse().unwrap()));
        assert_eq!(asset.freeze, None);
        assert_eq!(asset.url, "");
    }

    #[test]
    fn an_arc3_asset_carries_its_metadata_url_and_hash() {
        let spec = spec_of(
            "arc3-nft",
            "algorand-testnet",
            json!({"asset_name": "Art", "unit_name": "ART", "total": "1",
                   "metadata": {"name": "Art", "description": "One piece"}}),
        );
        let TokenSpec::Algorand(AlgorandToken::Asset(asset)) = spec else {
            panic!("{spec:?}");
        };
        assert!(asset.url.ends_with("#arc3"), "{}", asset.url);
        assert!(asset.metadata_hash.is_some());
    }

    #[test]
    fn supply_tokens_get_base_units_receivers_and_caps() {
        let spec = spec_of(
            "arc200-mintable",
            "algorand-testnet",
            json!({"name": "Token", "symbol": "TKN", "initial_supply": "10", "decimals": 6}),
        );
        let TokenSpec::Algorand(AlgorandToken::Arc200(arc200)) = spec else {
            panic!("{spec:?}");
        };
        assert_eq!(arc200.initial_supply, U256::from(10_000_000u64));
        assert_eq!(arc200.mint_cap, Some(U256::MAX), "mintable without a cap");
        assert_eq!(arc200.receiver, deployer().algorand);

        let spec = spec_of(
            "erc20-preminted",
            "base-sepolia",
            json!({"name": "Token", "symbol": "TKN", "total_supply": "2"}),
        );
        let TokenSpec::Evm(erc20) = spec else {
            panic!("{spec:?}");
        };
        assert_eq!(erc20.kind, Erc20Kind::Preminted);
        assert_eq!(
            erc20.initial_supply,
            U256::from(2u64) * U256::from(10u64).pow(U256::from(18))
        );
        assert_eq!(erc20.cap, None);
        assert_eq!(erc20.owner, deployer().evm);

        let spec = spec_of(
            "security-token",
            "algorand-testnet",
            json!({"name": "Bond", "symbol": "BND", "initial_supply": "100", "cap": "1000",
                   "controller": OTHER_ALGO}),
        );
        let TokenSpec::Algorand(AlgorandToken::SecurityToken(security)) = spec else {
            panic!("{spec:?}");
        };
        assert_eq!(security.cap, U256::from(1_000u64));
        assert_eq!(security.controller, OTHER_ALGO.parse().unwrap());
        assert!(security.whitelist_only, "the default");
    }

    #[test]
    fn a_resolved_value_of_the_wrong_type_is_reported() {
        let error = TokenSpec::from_resolved(
            standards::find("erc20-preminted").unwrap(),
            &json!({"name": "T", "symbol": "T", "decimals": 18, "total_supply_base_units": 5,
                    "receiver": EVM}),
            &deployer(),
        )
        .unwrap_err();
        assert_eq!(error.field, "total_supply_base_units");
    }
}
