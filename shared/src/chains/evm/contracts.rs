//! The ERC-20 contracts walletless deploys, from their committed artifacts
//! (`contracts/evm/artifacts/*.json`, checked against the sources by `tests/evm_artifacts.rs`).
//!
//! `sol!` reads each artifact at compile time: the creation bytecode becomes a static and the
//! ABI becomes typed calls, constructors and errors. Nothing is parsed at run time, so a broken
//! artifact fails the build instead of a deployment, and editing one rebuilds this crate.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{GenericContractError, SolCall, SolConstructor, SolInterface};
use serde::{Deserialize, Serialize};

pub(crate) mod bindings {
    #![allow(missing_docs)]

    use alloy_sol_types::sol;

    sol!(
        #[sol(all_derives)]
        WalletlessMintable,
        "../contracts/evm/artifacts/WalletlessMintable.json"
    );

    sol!(
        #[sol(all_derives)]
        WalletlessPreminted,
        "../contracts/evm/artifacts/WalletlessPreminted.json"
    );
}

use bindings::{WalletlessMintable, WalletlessPreminted};

/// Which of the two contracts a deployment creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Erc20Kind {
    /// `WalletlessMintable`: mintable up to an optional cap, burnable, pausable, with roles.
    Mintable,
    /// `WalletlessPreminted`: the whole, fixed supply minted to one receiver at deployment.
    Preminted,
}

/// What to deploy: the contract and its constructor arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erc20Spec {
    pub kind: Erc20Kind,
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
    /// Minted to `receiver` at deployment (Preminted: the total supply, which must not be 0).
    pub initial_supply: U256,
    /// Mintable only; `None` is uncapped (the constructor's cap 0, which `Some(0)` also
    /// means). Ignored for Preminted, whose supply is fixed.
    pub cap: Option<U256>,
    pub receiver: Address,
    /// Mintable only: gets the admin, minter and pauser roles (must not be zero). Ignored for
    /// Preminted, which has no owner.
    pub owner: Address,
}

impl Erc20Spec {
    /// The transaction input of the deployment: the artifact's creation bytecode followed by
    /// the ABI-encoded constructor arguments. Invalid arguments (an initial supply above the
    /// cap, a zero owner, a zero preminted supply) make the constructor revert, which the
    /// node reports when the deployment is prepared (gas estimation).
    pub fn creation_code(&self) -> Vec<u8> {
        let (bytecode, arguments) = match self.kind {
            Erc20Kind::Mintable => (
                &WalletlessMintable::BYTECODE,
                WalletlessMintable::constructorCall {
                    name_: self.name.clone(),
                    symbol_: self.symbol.clone(),
                    decimals_: self.decimals,
                    cap_: self.cap.unwrap_or(U256::ZERO),
                    initialSupply: self.initial_supply,
                    initialReceiver: self.receiver,
                    owner: self.owner,
                }
                .abi_encode(),
            ),
            Erc20Kind::Preminted => (
                &WalletlessPreminted::BYTECODE,
                WalletlessPreminted::constructorCall {
                    name_: self.name.clone(),
                    symbol_: self.symbol.clone(),
                    decimals_: self.decimals,
                    totalSupply_: self.initial_supply,
                    receiver: self.receiver,
                }
                .abi_encode(),
            ),
        };
        [bytecode.as_ref(), arguments.as_slice()].concat()
    }
}

/// The input of `mint(to, amount)` on a `WalletlessMintable` (its minter role required).
pub fn mint_calldata(to: Address, amount: U256) -> Vec<u8> {
    WalletlessMintable::mintCall { to, amount }.abi_encode()
}

/// `AccessControl`'s admin role: zero.
pub(crate) const DEFAULT_ADMIN_ROLE: B256 = B256::ZERO;

/// `keccak256("MINTER_ROLE")`, as the contract defines it.
pub(crate) fn minter_role() -> B256 {
    keccak256("MINTER_ROLE")
}

/// `keccak256("PAUSER_ROLE")`, as the contract defines it.
pub(crate) fn pauser_role() -> B256 {
    keccak256("PAUSER_ROLE")
}

/// Revert data in words: `Error(string)`, `Panic(uint256)`, or one of the contracts' custom
/// errors with its arguments (e.g. `ERC20ExceededCap { increasedSupply: 1100, cap: 1000 }`).
pub(crate) fn describe_revert(data: &[u8]) -> Option<String> {
    // Not `decode_revert_reason`: it also reads any UTF-8 bytes as a (Vyper) reason, which a
    // custom error's selector and small arguments often are.
    if let Ok(error) = WalletlessMintable::WalletlessMintableErrors::abi_decode(data) {
        return Some(error_text(format!("{error:?}")));
    }
    if let Ok(error) = WalletlessPreminted::WalletlessPremintedErrors::abi_decode(data) {
        return Some(error_text(format!("{error:?}")));
    }
    GenericContractError::abi_decode(data)
        .ok()
        .map(|error| error.to_string())
}

/// `Variant(Variant { fields })` (the generated enum's Debug) as `Variant { fields }`.
fn error_text(debug: String) -> String {
    match debug.split_once('(') {
        Some((_, inner)) if debug.ends_with(')') => inner[..inner.len() - 1].to_string(),
        _ => debug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, hex};
    use alloy_sol_types::SolType;
    use alloy_sol_types::sol_data::{Address as SolAddress, String as SolString, Uint};

    fn mintable() -> Erc20Spec {
        Erc20Spec {
            kind: Erc20Kind::Mintable,
            name: "Walletless Euro".into(),
            symbol: "WEUR".into(),
            decimals: 6,
            initial_supply: U256::from(900_000_000u64),
            cap: Some(U256::from(1_000_000_000u64)),
            receiver: address!("0x1111111111111111111111111111111111111111"),
            owner: address!("0x2222222222222222222222222222222222222222"),
        }
    }

    type MintableArguments = (
        SolString,
        SolString,
        Uint<8>,
        Uint<256>,
        Uint<256>,
        SolAddress,
        SolAddress,
    );

    #[test]
    fn mintable_creation_code_is_the_artifact_bytecode_then_the_constructor_arguments() {
        let spec = mintable();
        let code = spec.creation_code();
        let bytecode = WalletlessMintable::BYTECODE.as_ref();
        assert!(bytecode.len() > 1_000);
        assert_eq!(&code[..bytecode.len()], bytecode);
        let (name, symbol, decimals, cap, supply, receiver, owner) =
            MintableArguments::abi_decode_params(&code[bytecode.len()..]).unwrap();
        assert_eq!(name, spec.name);
        assert_eq!(symbol, spec.symbol);
        assert_eq!(decimals, 6);
        assert_eq!(cap, U256::from(1_000_000_000u64));
        assert_eq!(supply, spec.initial_supply);
        assert_eq!(receiver, spec.receiver);
        assert_eq!(owner, spec.owner);

        let uncapped = Erc20Spec { cap: None, ..spec };
        let code = uncapped.creation_code();
        let (.., cap, _, _, _) =
            MintableArguments::abi_decode_params(&code[bytecode.len()..]).unwrap();
        assert_eq!(cap, U256::ZERO);
    }

    #[test]
    fn the_bytecode_is_the_committed_artifact() {
        let artifact: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../contracts/evm/artifacts/WalletlessPreminted.json"
        ))
        .unwrap();
        let text = artifact["bytecode"].as_str().unwrap();
        assert_eq!(
            hex::decode(text).unwrap(),
            WalletlessPreminted::BYTECODE.as_ref()
        );
    }

    #[test]
    fn preminted_constructor_arguments_match_a_hand_encoding() {
        let spec = Erc20Spec {
            kind: Erc20Kind::Preminted,
            name: "A".into(),
            symbol: "B".into(),
            decimals: 18,
            initial_supply: U256::from(1000u64),
            cap: Some(U256::from(5u64)),
            receiver: address!("0x1111111111111111111111111111111111111111"),
            owner: Address::ZERO,
        };
        let code = spec.creation_code();
        let tail = &code[WalletlessPreminted::BYTECODE.len()..];
        // Five head words (two string offsets, decimals, supply, receiver), then each string
        // as its length and its bytes padded to a word. The cap and owner are not arguments.
        let expected = hex::decode(concat!(
            "00000000000000000000000000000000000000000000000000000000000000a0",
            "00000000000000000000000000000000000000000000000000000000000000e0",
            "0000000000000000000000000000000000000000000000000000000000000012",
            "00000000000000000000000000000000000000000000000000000000000003e8",
            "0000000000000000000000001111111111111111111111111111111111111111",
            "0000000000000000000000000000000000000000000000000000000000000001",
            "4100000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000001",
            "4200000000000000000000000000000000000000000000000000000000000000",
        ))
        .unwrap();
        assert_eq!(tail, expected.as_slice());
    }

    #[test]
    fn mint_calldata_is_the_selector_and_arguments() {
        let to = address!("0x3333333333333333333333333333333333333333");
        let data = mint_calldata(to, U256::from(7u64));
        // mint(address,uint256)
        assert_eq!(data[..4], keccak256("mint(address,uint256)")[..4]);
        assert_eq!(data.len(), 4 + 64);
        assert_eq!(&data[16..36], to.as_slice());
        assert_eq!(data[67], 7);
    }

    #[test]
    fn role_ids_are_the_contract_constants() {
        assert_eq!(
            minter_role(),
            B256::from(hex!(
                "9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6"
            ))
        );
        assert_eq!(
            pauser_role(),
            B256::from(hex!(
                "65d7a28e3265b37a6474929f336521b332c1681b933f6cb9f3376673440d862a"
            ))
        );
        assert_eq!(DEFAULT_ADMIN_ROLE, B256::ZERO);
    }

    #[test]
    fn reverts_are_described_in_words() {
        let exceeded = WalletlessMintable::ERC20ExceededCap {
            increasedSupply: U256::from(1100u64),
            cap: U256::from(1000u64),
        };
        assert_eq!(
            describe_revert(&alloy_sol_types::SolError::abi_encode(&exceeded)).as_deref(),
            Some("ERC20ExceededCap { increasedSupply: 1100, cap: 1000 }")
        );
        let zero = WalletlessPreminted::ZeroTotalSupply {};
        assert_eq!(
            describe_revert(&alloy_sol_types::SolError::abi_encode(&zero)).as_deref(),
            Some("ZeroTotalSupply")
        );
        let reason = alloy_sol_types::Revert::from("not allowed");
        assert_eq!(
            describe_revert(&alloy_sol_types::SolError::abi_encode(&reason)).as_deref(),
            Some("revert: not allowed")
        );
        assert_eq!(describe_revert(&[]), None);
        assert_eq!(describe_revert(&[1, 2, 3, 4, 5]), None);
    }
}
