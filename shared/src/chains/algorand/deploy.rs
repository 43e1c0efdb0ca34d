//! Creating tokens on Algorand: what each standard puts on chain, as stages of transactions.
//!
//! - ASA and ARC-3 kinds: one asset-creation transaction (`acfg` with asset id 0). The creator
//!   holds the whole supply.
//! - ARC-200 (`Arc200`) and the security token (`SecurityToken`), the project's contracts in
//!   `contracts/algorand` (see its README): a stage per transaction group, because each later
//!   one needs the application id the first creates.
//!   1. create the application (its `create` ABI method records the parameters);
//!   2. fund its account and `bootstrap` it in one group (ARC-200 mints the initial supply to
//!      the receiver there);
//!   3. security token only: whitelist the receiver (whitelist-only tokens), `issue` the
//!      initial supply to it, and hand the controller role to the configured controller when
//!      that is not the deployer.
//!
//! Every stage is built from the network's suggested params and what earlier stages
//! created, so a pipeline can build, sign, record and send each stage on its own; [`cost`]
//! tells what a stage takes from the deployer, for the funds preflight.
//!
//! [`cost`]: AlgorandToken::cost

use std::sync::OnceLock;

use alloy_primitives::U256;
use serde::Deserialize;

use super::abi::{AbiMethod, AbiValue, method_selector};
use super::algod::{AccountInfo, AlgodClient};
use super::transaction::{
    Address, ApplicationCall, AssetParams, BoxReference, Payment, StateSchema, SuggestedParams,
    Transaction, TransactionBuilder, TransactionError, TransactionKind, assign_group_id,
};
use crate::chains::error::ChainError;

/// The minimum balance of an account, and what each asset it creates or holds adds.
pub const ACCOUNT_MIN_BALANCE: u64 = 100_000;
pub const ASSET_MIN_BALANCE: u64 = 100_000;
/// What a created application adds to its creator's minimum balance, plus per extra page.
pub const APP_MIN_BALANCE: u64 = 100_000;
/// Per global-state integer and byte slice of a created application.
pub const SCHEMA_UINT_MIN_BALANCE: u64 = 28_500;
pub const SCHEMA_BYTES_MIN_BALANCE: u64 = 50_000;
/// A box costs its application's account 2,500 plus 400 per byte of name and value.
pub const BOX_FLAT_MIN_BALANCE: u64 = 2_500;
pub const BOX_BYTE_MIN_BALANCE: u64 = 400;
/// The reason code of the security token's initial issuance at deployment.
pub const INITIAL_ISSUANCE_REASON: u64 = 0;

/// Balance boxes (`"b"` + address → uint256) and holder-status boxes (`"h"` + address → 1 byte)
/// of the contracts.
const BALANCE_BOX_PREFIX: u8 = b'b';
const HOLDER_BOX_PREFIX: u8 = b'h';
const BALANCE_BOX_VALUE_BYTES: u64 = 32;
const HOLDER_BOX_VALUE_BYTES: u64 = 1;

/// One of the project's compiled contracts, with its ARC-56 state schema.
#[derive(Debug)]
pub struct Contract {
    pub name: &'static str,
    pub approval_program: &'static [u8],
    pub clear_program: &'static [u8],
    pub global_schema: StateSchema,
    pub create_signature: &'static str,
}

impl Contract {
    /// What creating this application adds to the creator's minimum balance.
    pub fn creator_min_balance(&self) -> u64 {
        APP_MIN_BALANCE
            + SCHEMA_UINT_MIN_BALANCE * self.global_schema.num_uints
            + SCHEMA_BYTES_MIN_BALANCE * self.global_schema.num_byte_slices
    }
}

#[derive(Deserialize)]
struct Arc56 {
    state: Arc56State,
}

#[derive(Deserialize)]
struct Arc56State {
    schema: Arc56Schemas,
}

#[derive(Deserialize)]
struct Arc56Schemas {
    global: Arc56Schema,
}

#[derive(Deserialize)]
struct Arc56Schema {
    ints: u64,
    bytes: u64,
}

/// The global schema from a committed ARC-56 spec, which puyapy wrote with the program.
fn schema_of(arc56: &str) -> StateSchema {
    match serde_json::from_str::<Arc56>(arc56) {
        Ok(spec) => StateSchema {
            num_uints: spec.state.schema.global.ints,
            num_byte_slices: spec.state.schema.global.bytes,
        },
        // The specs are compiled in and checked by the tests below: unreadable is impossible
        // in a build that passed them; an empty schema would make creation fail loudly.
        Err(_) => StateSchema::default(),
    }
}

pub fn arc200_contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        name: "Arc200",
        approval_program: include_bytes!(
            "../../../../contracts/algorand/artifacts/Arc200.approval.bin"
        ),
        clear_program: include_bytes!("../../../../contracts/algorand/artifacts/Arc200.clear.bin"),
        global_schema: schema_of(include_str!(
            "../../../../contracts/algorand/artifacts/Arc200.arc56.json"
        )),
        create_signature: "create(byte[32],byte[8],uint8,uint256,address,uint256,address)void",
    })
}

pub fn security_token_contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        name: "SecurityToken",
        approval_program: include_bytes!(
            "../../../../contracts/algorand/artifacts/SecurityToken.approval.bin"
        ),
        clear_program: include_bytes!(
            "../../../../contracts/algorand/artifacts/SecurityToken.clear.bin"
        ),
        global_schema: schema_of(include_str!(
            "../../../../contracts/algorand/artifacts/SecurityToken.arc56.json"
        )),
        create_signature: "create(byte[32],byte[8],uint8,uint256,address,bool,uint64)void",
    })
}

/// An ARC-200 token: mintable up to `cap` by its owner, or preminted (`cap` `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arc200Spec {
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
    /// Base units minted to `receiver` at bootstrap.
    pub initial_supply: U256,
    pub receiver: Address,
    /// `None`: preminted, the supply is fixed. `Some(U256::MAX)` is mintable without a cap.
    pub mint_cap: Option<U256>,
}

/// A security token: issued by its controller to whitelisted holders within a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityTokenSpec {
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
    /// Base units issued to `receiver` at deployment.
    pub initial_supply: U256,
    pub receiver: Address,
    /// The most that can ever be issued (base units); `U256::MAX` when the draft sets none.
    pub cap: U256,
    pub controller: Address,
    pub whitelist_only: bool,
}

/// An Algorand token to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorandToken {
    /// An ASA (the ASA and ARC-3 standards).
    Asset(AssetParams),
    Arc200(Arc200Spec),
    SecurityToken(SecurityTokenSpec),
}

/// One transaction group of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    CreateAsset,
    CreateApplication,
    FundAndBootstrap,
    /// Security token: whitelist, issue, hand over the controller role.
    Initialise,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::CreateAsset => "create_asset",
            Stage::CreateApplication => "create_application",
            Stage::FundAndBootstrap => "fund_and_bootstrap",
            Stage::Initialise => "initialise",
        }
    }
}

/// Why a stage cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("stage {stage} needs the application id, which the creation has not given yet")]
    NoApplicationYet { stage: &'static str },
    #[error("{0}")]
    Abi(#[from] super::abi::AbiError),
    #[error("{0}")]
    Transaction(#[from] TransactionError),
    #[error("{field} does not fit on chain: {reason}")]
    Field { field: &'static str, reason: String },
}

impl AlgorandToken {
    /// The transaction groups that create this token, in order.
    pub fn stages(&self, deployer: Address) -> Vec<Stage> {
        match self {
            AlgorandToken::Asset(_) => vec![Stage::CreateAsset],
            AlgorandToken::Arc200(_) => vec![Stage::CreateApplication, Stage::FundAndBootstrap],
            AlgorandToken::SecurityToken(spec) => {
                let mut stages = vec![Stage::CreateApplication, Stage::FundAndBootstrap];
                if spec.needs_initialising(deployer) {
                    stages.push(Stage::Initialise);
                }
                stages
            }
        }
    }

    pub fn contract(&self) -> Option<&'static Contract> {
        match self {
            AlgorandToken::Asset(_) => None,
            AlgorandToken::Arc200(_) => Some(arc200_contract()),
            AlgorandToken::SecurityToken(_) => Some(security_token_contract()),
        }
    }

    /// The transactions of `stage`, grouped and validated against the network's limits, sent
    /// by `deployer`; `app_id` is the application the creation stage made. Each carries
    /// `note`: a deployment's own note makes its transactions its own, so two deployments of
    /// identical tokens in one validity window never share a transaction id (the second
    /// would be "already in the ledger" and take the first one's token for its own).
    pub fn build(
        &self,
        stage: Stage,
        deployer: Address,
        params: &SuggestedParams,
        app_id: Option<u64>,
        note: &[u8],
    ) -> Result<Vec<Transaction>, BuildError> {
        let needs_app = || {
            app_id.ok_or(BuildError::NoApplicationYet {
                stage: stage.name(),
            })
        };
        let mut group = match (self, stage) {
            (AlgorandToken::Asset(asset), Stage::CreateAsset) => vec![
                TransactionBuilder::new(
                    params,
                    deployer,
                    TransactionKind::AssetConfig(super::transaction::AssetConfig {
                        asset_id: 0,
                        params: asset.clone(),
                    }),
                )
                .build(),
            ],
            (_, Stage::CreateApplication) => vec![self.create_application(deployer, params)?],
            (_, Stage::FundAndBootstrap) => {
                self.fund_and_bootstrap(deployer, params, needs_app()?)?
            }
            (AlgorandToken::SecurityToken(spec), Stage::Initialise) => {
                initialise_security_token(spec, deployer, params, needs_app()?)?
            }
            (_, stage) => {
                return Err(BuildError::Field {
                    field: "stage",
                    reason: format!("{} is not a stage of this token", stage.name()),
                });
            }
        };
        for txn in &mut group {
            txn.note = note.to_vec();
            // The fee of a per-byte rate depends on the note.
            txn.fee = params.fee_for(txn);
        }
        if group.len() > 1 {
            assign_group_id(&mut group)?;
        }
        for txn in &group {
            txn.validate()?;
        }
        Ok(group)
    }

    /// µAlgo `stage` takes from the deployer's spendable balance: its fees, what it pays
    /// out, and what it adds to the deployer's minimum balance.
    pub fn cost(
        &self,
        stage: Stage,
        deployer: Address,
        params: &SuggestedParams,
        note: &[u8],
    ) -> Result<u64, BuildError> {
        // The app id only changes argument bytes: a stand-in of the same width sizes the fees.
        let group = self.build(stage, deployer, params, Some(u64::from(u32::MAX)), note)?;
        let fees_and_payments = group
            .iter()
            .map(|txn| {
                let paid = match &txn.kind {
                    TransactionKind::Payment(payment) => payment.amount,
                    _ => 0,
                };
                txn.fee.saturating_add(paid)
            })
            .fold(0u64, u64::saturating_add);
        let min_balance = match (self, stage) {
            (_, Stage::CreateAsset) => ASSET_MIN_BALANCE,
            (_, Stage::CreateApplication) => {
                self.contract().map_or(0, Contract::creator_min_balance)
            }
            _ => 0,
        };
        Ok(fees_and_payments.saturating_add(min_balance))
    }

    /// µAlgo the stages from `first` on take, for the funds preflight.
    pub fn cost_from(
        &self,
        first: usize,
        deployer: Address,
        params: &SuggestedParams,
        note: &[u8],
    ) -> Result<u64, BuildError> {
        self.stages(deployer)
            .into_iter()
            .skip(first)
            .map(|stage| self.cost(stage, deployer, params, note))
            .try_fold(0u64, |sum, cost| cost.map(|cost| sum.saturating_add(cost)))
    }

    /// µAlgo the bootstrap payment gives the application account: its own minimum balance
    /// and the boxes the deployment creates.
    pub fn application_funding(&self) -> u64 {
        match self {
            AlgorandToken::Asset(_) => 0,
            AlgorandToken::Arc200(spec) => {
                let boxes = if spec.initial_supply.is_zero() {
                    0
                } else {
                    box_min_balance(BALANCE_BOX_VALUE_BYTES)
                };
                ACCOUNT_MIN_BALANCE + boxes
            }
            AlgorandToken::SecurityToken(spec) => {
                let mut boxes = 0;
                if spec.whitelist_only {
                    boxes += box_min_balance(HOLDER_BOX_VALUE_BYTES);
                }
                if !spec.initial_supply.is_zero() {
                    boxes += box_min_balance(BALANCE_BOX_VALUE_BYTES);
                }
                ACCOUNT_MIN_BALANCE + boxes
            }
        }
    }

    fn create_application(
        &self,
        deployer: Address,
        params: &SuggestedParams,
    ) -> Result<Transaction, BuildError> {
        let (contract, args) = match self {
            AlgorandToken::Arc200(spec) => (
                arc200_contract(),
                vec![
                    fixed_text("name", &spec.name, 32)?,
                    fixed_text("symbol", &spec.symbol, 8)?,
                    AbiValue::uint(u64::from(spec.decimals)),
                    AbiValue::Uint(spec.initial_supply),
                    AbiValue::Address(spec.receiver),
                    // The contract reads cap 0 as "preminted".
                    AbiValue::Uint(spec.mint_cap.unwrap_or(U256::ZERO)),
                    AbiValue::Address(deployer),
                ],
            ),
            AlgorandToken::SecurityToken(spec) => (
                security_token_contract(),
                vec![
                    fixed_text("name", &spec.name, 32)?,
                    fixed_text("symbol", &spec.symbol, 8)?,
                    AbiValue::uint(u64::from(spec.decimals)),
                    AbiValue::Uint(spec.cap),
                    // The deployer controls it until the initial issuance is done.
                    AbiValue::Address(deployer),
                    AbiValue::Bool(spec.whitelist_only),
                    AbiValue::uint(0),
                ],
            ),
            AlgorandToken::Asset(_) => {
                return Err(BuildError::Field {
                    field: "stage",
                    reason: "an asset has no application".into(),
                });
            }
        };
        let method = AbiMethod::parse(contract.create_signature)?;
        let call = ApplicationCall {
            app_id: 0,
            approval_program: contract.approval_program.to_vec(),
            clear_program: contract.clear_program.to_vec(),
            global_schema: contract.global_schema,
            args: method.app_args(&args)?,
            ..ApplicationCall::default()
        };
        Ok(
            TransactionBuilder::new(params, deployer, TransactionKind::ApplicationCall(call))
                .build(),
        )
    }

    fn fund_and_bootstrap(
        &self,
        deployer: Address,
        params: &SuggestedParams,
        app_id: u64,
    ) -> Result<Vec<Transaction>, BuildError> {
        let funding = TransactionBuilder::new(
            params,
            deployer,
            TransactionKind::Payment(Payment {
                receiver: Address::of_application(app_id),
                amount: self.application_funding(),
                close_remainder_to: None,
            }),
        )
        .build();
        let boxes = match self {
            AlgorandToken::Arc200(spec) if !spec.initial_supply.is_zero() => {
                vec![balance_box(spec.receiver)]
            }
            _ => Vec::new(),
        };
        let bootstrap = ApplicationCall {
            app_id,
            args: vec![method_selector("bootstrap(pay)void").to_vec()],
            boxes,
            ..ApplicationCall::default()
        };
        Ok(vec![
            funding,
            TransactionBuilder::new(
                params,
                deployer,
                TransactionKind::ApplicationCall(bootstrap),
            )
            .build(),
        ])
    }
}

fn initialise_security_token(
    spec: &SecurityTokenSpec,
    deployer: Address,
    params: &SuggestedParams,
    app_id: u64,
) -> Result<Vec<Transaction>, BuildError> {
    let call = |signature: &str, args: &[AbiValue], boxes: Vec<BoxReference>| {
        let method = AbiMethod::parse(signature)?;
        let call = ApplicationCall {
            app_id,
            args: method.app_args(args)?,
            boxes,
            ..ApplicationCall::default()
        };
        Ok::<_, BuildError>(
            TransactionBuilder::new(params, deployer, TransactionKind::ApplicationCall(call))
                .build(),
        )
    };
    let receiver = AbiValue::Address(spec.receiver);
    let mut group = Vec::new();
    if spec.whitelist_only {
        group.push(call(
            "whitelist_add(address)void",
            std::slice::from_ref(&receiver),
            vec![holder_box(spec.receiver)],
        )?);
    }
    if !spec.initial_supply.is_zero() {
        group.push(call(
            "issue(address,uint256,uint64)bool",
            &[
                receiver,
                AbiValue::Uint(spec.initial_supply),
                AbiValue::uint(INITIAL_ISSUANCE_REASON),
            ],
            vec![balance_box(spec.receiver), holder_box(spec.receiver)],
        )?);
    }
    if spec.controller != deployer {
        group.push(call(
            "set_controller(address)void",
            &[AbiValue::Address(spec.controller)],
            Vec::new(),
        )?);
    }
    Ok(group)
}

impl SecurityTokenSpec {
    /// Whether anything is left after bootstrap: whitelisting, issuing, the hand-over.
    fn needs_initialising(&self, deployer: Address) -> bool {
        self.whitelist_only || !self.initial_supply.is_zero() || self.controller != deployer
    }
}

/// A balance box of the contracts: `"b"` + the holder's address.
pub fn balance_box(holder: Address) -> BoxReference {
    BoxReference::own(prefixed(BALANCE_BOX_PREFIX, holder))
}

/// A holder-status box of the security token: `"h"` + the holder's address.
pub fn holder_box(holder: Address) -> BoxReference {
    BoxReference::own(prefixed(HOLDER_BOX_PREFIX, holder))
}

fn prefixed(prefix: u8, holder: Address) -> Vec<u8> {
    let mut name = Vec::with_capacity(33);
    name.push(prefix);
    name.extend_from_slice(&holder.0);
    name
}

/// The minimum balance a box with a 33-byte name and `value_bytes` of value costs.
pub fn box_min_balance(value_bytes: u64) -> u64 {
    BOX_FLAT_MIN_BALANCE + BOX_BYTE_MIN_BALANCE * (33 + value_bytes)
}

/// Text as `byte[N]`, zero-padded: how the contracts store names and symbols.
fn fixed_text(field: &'static str, text: &str, len: usize) -> Result<AbiValue, BuildError> {
    if text.len() > len {
        return Err(BuildError::Field {
            field,
            reason: format!("{} bytes, at most {len}", text.len()),
        });
    }
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(len, 0);
    Ok(AbiValue::Bytes(bytes))
}

/// Text back from a zero-padded `byte[N]`.
pub fn text_of_fixed(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Fails with [`ChainError::InsufficientFunds`] unless `account` can pay `cost` µAlgo and
/// keep its minimum balance: checked before anything is signed, so the node never sees a
/// transaction it would refuse for want of funds.
pub fn check_funds(account: &AccountInfo, cost: u64) -> Result<(), ChainError> {
    let needed = account.min_balance.saturating_add(cost);
    if account.amount < needed {
        return Err(ChainError::InsufficientFunds {
            address: account.address.to_string(),
            needed: u128::from(needed),
            held: u128::from(account.amount),
        });
    }
    Ok(())
}

/// The funds preflight of the stages from `first` on: the network's current params, the
/// deployer's account, and the cost of what is left.
pub async fn preflight(
    client: &AlgodClient,
    token: &AlgorandToken,
    deployer: Address,
    first: usize,
    note: &[u8],
) -> Result<SuggestedParams, PreflightError> {
    let params = client.suggested_params().await?;
    let cost = token.cost_from(first, deployer, &params, note)?;
    let account = client.account(&deployer).await?;
    check_funds(&account, cost)?;
    Ok(params)
}

/// Why a preflight failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Build(#[from] BuildError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::algorand::transaction::Fee;

    fn params() -> SuggestedParams {
        SuggestedParams {
            fee: Fee::PerByte(0),
            min_fee: 1_000,
            first_valid: 1,
            last_valid: 1_001,
            genesis_id: "test".into(),
            genesis_hash: [7; 32],
        }
    }

    fn address(byte: u8) -> Address {
        Address([byte; 32])
    }

    fn arc200(supply: u64, cap: Option<u64>) -> AlgorandToken {
        AlgorandToken::Arc200(Arc200Spec {
            name: "Token".into(),
            symbol: "TKN".into(),
            decimals: 6,
            initial_supply: U256::from(supply),
            receiver: address(2),
            mint_cap: cap.map(U256::from),
        })
    }

    fn security(controller: Address, whitelist_only: bool, supply: u64) -> AlgorandToken {
        AlgorandToken::SecurityToken(SecurityTokenSpec {
            name: "Bond".into(),
            symbol: "BND".into(),
            decimals: 0,
            initial_supply: U256::from(supply),
            receiver: address(3),
            cap: U256::from(1_000_000u64),
            controller,
            whitelist_only,
        })
    }

    #[test]
    fn application_addresses_match_algosdk() {
        // algosdk.logic.get_application_address(1) and (123456789).
        assert_eq!(
            Address::of_application(1).to_string(),
            "WCS6TVPJRBSARHLN2326LRU5BYVJZUKI2VJ53CAWKYYHDE455ZGKANWMGM"
        );
        assert_eq!(
            Address::of_application(123_456_789).to_string(),
            "SFXPKU7WCLQDNYDQEPS5ZDO7C4IKIL2VKFCESAGXIUVWWQ7233NQZ5H3SU"
        );
    }

    #[test]
    fn the_committed_specs_give_the_schemas_and_minimum_balances_of_the_readme() {
        assert_eq!(
            arc200_contract().global_schema,
            StateSchema {
                num_uints: 2,
                num_byte_slices: 6
            }
        );
        assert_eq!(arc200_contract().creator_min_balance(), 457_000);
        assert_eq!(security_token_contract().creator_min_balance(), 492_500);
        assert_eq!(box_min_balance(32), 28_500);
        assert_eq!(box_min_balance(1), 16_100);
    }

    #[test]
    fn an_asset_is_one_creation_costing_its_fee_and_minimum_balance() {
        let token = AlgorandToken::Asset(AssetParams {
            total: 1_000,
            unit_name: "U".into(),
            asset_name: "A".into(),
            ..AssetParams::default()
        });
        assert_eq!(token.stages(address(1)), [Stage::CreateAsset]);
        let group = token
            .build(Stage::CreateAsset, address(1), &params(), None, b"")
            .unwrap();
        assert_eq!(group.len(), 1);
        assert_eq!(group[0].group, None);
        assert_eq!(
            token.cost_from(0, address(1), &params(), b"").unwrap(),
            1_000 + 100_000
        );
    }

    #[test]
    fn arc200_create_encodes_the_parameters_and_bootstrap_funds_the_receivers_box() {
        let token = arc200(5_000, None);
        let deployer = address(1);
        let create = token
            .build(Stage::CreateApplication, deployer, &params(), None, b"")
            .unwrap();
        let TransactionKind::ApplicationCall(call) = &create[0].kind else {
            panic!("not an application call");
        };
        assert_eq!(hex::encode(&call.args[0]), "1bffe3d5");
        assert_eq!(&call.args[1][..5], b"Token");
        assert_eq!(call.args[1].len(), 32);
        assert_eq!(call.args[2], b"TKN\0\0\0\0\0");
        assert_eq!(call.args[3], [6]);
        assert_eq!(U256::from_be_slice(&call.args[4]), U256::from(5_000u64));
        assert_eq!(call.args[5], address(2).0);
        assert_eq!(U256::from_be_slice(&call.args[6]), U256::ZERO, "preminted");
        assert_eq!(call.args[7], deployer.0);

        assert!(matches!(
            token.build(Stage::FundAndBootstrap, deployer, &params(), None, b""),
            Err(BuildError::NoApplicationYet { .. })
        ));
        let group = token
            .build(Stage::FundAndBootstrap, deployer, &params(), Some(42), b"")
            .unwrap();
        assert_eq!(group.len(), 2);
        assert!(group.iter().all(|txn| txn.group.is_some()));
        let TransactionKind::Payment(payment) = &group[0].kind else {
            panic!("not a payment");
        };
        assert_eq!(payment.receiver, Address::of_application(42));
        assert_eq!(payment.amount, 128_500);
        let TransactionKind::ApplicationCall(bootstrap) = &group[1].kind else {
            panic!("not a call");
        };
        assert_eq!(hex::encode(&bootstrap.args[0]), "a4e8d164");
        assert_eq!(bootstrap.boxes, vec![balance_box(address(2))]);
        assert_eq!(
            token.cost_from(0, deployer, &params(), b"").unwrap(),
            1_000 + 457_000 + 2_000 + 128_500
        );
        assert_eq!(
            token.cost_from(1, deployer, &params(), b"").unwrap(),
            2_000 + 128_500
        );
    }

    #[test]
    fn a_security_token_is_issued_to_its_whitelisted_receiver_then_handed_over() {
        let deployer = address(1);
        let token = security(address(9), true, 100);
        assert_eq!(token.stages(deployer).len(), 3);
        assert_eq!(
            token.cost_from(2, deployer, &params(), b"").unwrap(),
            3_000,
            "three calls"
        );
        let group = token
            .build(Stage::Initialise, deployer, &params(), Some(42), b"")
            .unwrap();
        let selectors: Vec<String> = group
            .iter()
            .map(|txn| match &txn.kind {
                TransactionKind::ApplicationCall(call) => hex::encode(&call.args[0]),
                _ => panic!("not a call"),
            })
            .collect();
        assert_eq!(selectors, ["f61ef4fc", "7acd9abe", "616e5574"]);
        assert_eq!(token.application_funding(), 100_000 + 16_100 + 28_500);

        // Deployer stays controller, nothing to whitelist: only the issue.
        let token = security(deployer, false, 100);
        let group = token
            .build(Stage::Initialise, deployer, &params(), Some(42), b"")
            .unwrap();
        assert_eq!(group.len(), 1);
        assert_eq!(group[0].group, None);
        assert_eq!(token.application_funding(), 100_000 + 28_500);
        // Nothing at all to do after bootstrap: no third stage.
        assert_eq!(security(deployer, false, 0).stages(deployer).len(), 2);
    }

    #[test]
    fn names_longer_than_the_contract_field_are_refused() {
        let mut token = arc200(1, None);
        if let AlgorandToken::Arc200(spec) = &mut token {
            spec.symbol = "NINECHARS".into();
        }
        assert!(matches!(
            token.build(Stage::CreateApplication, address(1), &params(), None, b""),
            Err(BuildError::Field {
                field: "symbol",
                ..
            })
        ));
        assert_eq!(text_of_fixed(b"TKN\0\0\0\0\0"), "TKN");
        assert_eq!(text_of_fixed(&[0; 8]), "");
    }

    #[test]
    fn funds_are_checked_against_the_minimum_balance() {
        let account = AccountInfo {
            address: address(1),
            amount: 300_000,
            min_balance: 100_000,
            round: 1,
            auth_address: None,
            total_assets_opted_in: 0,
            total_created_assets: 0,
            total_apps_opted_in: 0,
            total_created_apps: 0,
            total_boxes: 0,
            total_box_bytes: 0,
        };
        assert!(check_funds(&account, 200_000).is_ok());
        assert_eq!(
            check_funds(&account, 200_001),
            Err(ChainError::InsufficientFunds {
                address: address(1).to_string(),
                needed: 300_001,
                held: 300_000,
            })
        );
    }
}
