//! Algorand transactions: the kinds this project sends (payments, asset creation, asset
//! transfers and opt-ins, asset freezes, application calls), their canonical encoding, ids,
//! signatures and atomic groups, byte-identical to go-algorand and py-algorand-sdk.
//!
//! - bytes to sign = `"TX" || msgpack(txn)`; the signature is ed25519 over them;
//! - id = base32 (no padding) of SHA-512/256 of the bytes to sign, 52 characters;
//! - signed = msgpack `{"sgnr"?, "sig", "txn"}`; a signed group is its members concatenated;
//! - group id = SHA-512/256(`"TG" || msgpack({"txlist": [raw ids]})`).
//!
//! Where py-algorand-sdk departs from go-algorand's canonical form, this module follows
//! go-algorand, the one that verifies signatures: an all-zero address (sender, receiver,
//! freeze target, rekey, asset roles) is always omitted, and `apar` is present whenever any
//! of its fields is set (algosdk drops an `apar` that has only a URL or metadata hash). No
//! transaction this project builds hits either case.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512_256};
use thiserror::Error;

use super::msgpack::Value;
use crate::accounts::arc76::{
    AlgorandAddressError, algorand_address_from_public_key, decode_algorand_address,
};

/// Domain separator of the bytes a transaction's id and signature cover.
pub const TXID_PREFIX: &[u8] = b"TX";
/// Domain separator of a group id.
pub const GROUP_ID_PREFIX: &[u8] = b"TG";
/// The protocol's minimum fee per transaction, in µAlgo.
pub const MIN_TXN_FEE: u64 = 1_000;
/// Most transactions in one atomic group.
pub const MAX_GROUP_SIZE: usize = 16;
/// Most rounds between a transaction's first and last valid rounds.
pub const MAX_TXN_LIFE: u64 = 1_000;
/// Most bytes in a note.
pub const MAX_NOTE_BYTES: usize = 1_024;
/// Most decimals of an asset.
pub const MAX_ASSET_DECIMALS: u32 = 19;
/// Most bytes in an asset's unit name.
pub const MAX_UNIT_NAME_BYTES: usize = 8;
/// Most bytes in an asset's name.
pub const MAX_ASSET_NAME_BYTES: usize = 32;
/// Most bytes in an asset's URL.
pub const MAX_ASSET_URL_BYTES: usize = 96;
/// Most arguments of an application call.
pub const MAX_APP_ARGS: usize = 16;
/// Most bytes of all arguments of an application call together.
pub const MAX_APP_TOTAL_ARG_BYTES: usize = 2_048;
/// Most accounts an application call may reference.
pub const MAX_APP_ACCOUNTS: usize = 4;
/// Most accounts, applications, assets and boxes an application call may reference in all.
pub const MAX_APP_TOTAL_REFERENCES: usize = 8;
/// Most extra program pages of an application.
pub const MAX_EXTRA_PAGES: u32 = 3;
/// Bytes of one program page (approval and clear programs share the pages).
pub const PROGRAM_PAGE_BYTES: usize = 2_048;
/// Most bytes in a box name.
pub const MAX_BOX_NAME_BYTES: usize = 64;
/// Most entries of an application's global state schema.
pub const MAX_GLOBAL_SCHEMA_ENTRIES: u64 = 64;
/// Most entries of an application's local state schema.
pub const MAX_LOCAL_SCHEMA_ENTRIES: u64 = 16;

/// Why a transaction or group cannot be built or would be refused by the network.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionError {
    #[error("a group needs at least one transaction")]
    EmptyGroup,
    #[error("a group has at most {MAX_GROUP_SIZE} transactions, not {size}")]
    GroupTooLarge { size: usize },
    #[error("box reference to application {app_id}, which is neither called nor a foreign app")]
    BoxAppNotReferenced { app_id: u64 },
    #[error("box reference to foreign app index {index}, beyond the {foreign_apps} foreign apps")]
    BoxAppIndexOutOfRange { index: u64, foreign_apps: usize },
    #[error("last valid round {last_valid} is before first valid round {first_valid}")]
    ValidityWindowInverted { first_valid: u64, last_valid: u64 },
    #[error("the validity window spans more than {MAX_TXN_LIFE} rounds")]
    ValidityWindowTooLong,
    #[error("{field} has {len}, more than the {max} allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} is {value}, more than the {max} allowed")]
    TooLarge {
        field: &'static str,
        value: u64,
        max: u64,
    },
    #[error("the group pays {paid} µAlgo in fees, less than the {required} required")]
    InsufficientFee { paid: u64, required: u64 },
}

/// An Algorand account: its ed25519 public key. Displays and parses as the 58-character
/// checksummed base32 address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The all-zero address, which encodes as "no address".
    pub const ZERO: Address = Address([0; 32]);

    /// The address of a signing key's public half.
    pub fn of_key(key: &VerifyingKey) -> Self {
        Self(key.to_bytes())
    }

    /// The account of application `app_id`: SHA-512/256("appID" ‖ id as 8 bytes big-endian).
    /// It holds the app's Algo and pays for its boxes.
    pub fn of_application(app_id: u64) -> Self {
        let mut hasher = Sha512_256::new();
        hasher.update(b"appID");
        hasher.update(app_id.to_be_bytes());
        Self(hasher.finalize().into())
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl FromStr for Address {
    type Err = AlgorandAddressError;

    fn from_str(address: &str) -> Result<Self, Self::Err> {
        decode_algorand_address(address).map(Self)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&algorand_address_from_public_key(&self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// How a transaction's fee is set, as in algod's suggested params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fee {
    /// Exactly this many µAlgo, even below the minimum: in a group one transaction may pay
    /// for the others (fee pooling), which then carry 0. The network only requires the
    /// group's total to reach the minimum times its size ([`check_group_fees`]).
    Flat(u64),
    /// This many µAlgo per byte of the signed transaction, and at least the minimum fee:
    /// `max(rate × estimated signed size, min_fee)`, the size measured (like algosdk) with
    /// the rate itself in the fee field and a 64-byte signature.
    PerByte(u64),
}

/// What a transaction takes from the network's current state (algod's
/// `GET /v2/transactions/params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestedParams {
    pub fee: Fee,
    /// The floor of a per-byte fee; [`MIN_TXN_FEE`] on every Algorand network today.
    pub min_fee: u64,
    pub first_valid: u64,
    pub last_valid: u64,
    pub genesis_id: String,
    pub genesis_hash: [u8; 32],
}

impl SuggestedParams {
    /// The fee of `txn` under these params; see [`Fee`].
    pub fn fee_for(&self, txn: &Transaction) -> u64 {
        match self.fee {
            Fee::Flat(fee) => fee,
            Fee::PerByte(rate) => {
                let mut sized = txn.clone();
                sized.fee = rate;
                let size = u64::try_from(sized.estimate_signed_size()).unwrap_or(u64::MAX);
                size.saturating_mul(rate).max(self.min_fee)
            }
        }
    }
}

/// An unsigned transaction: the common header and one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub sender: Address,
    /// µAlgo.
    pub fee: u64,
    pub first_valid: u64,
    pub last_valid: u64,
    pub genesis_id: String,
    pub genesis_hash: [u8; 32],
    pub note: Vec<u8>,
    pub lease: Option<[u8; 32]>,
    /// Set by [`assign_group_id`].
    pub group: Option<[u8; 32]>,
    pub rekey_to: Option<Address>,
    pub kind: TransactionKind,
}

/// The kind-specific fields of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionKind {
    Payment(Payment),
    AssetConfig(AssetConfig),
    AssetTransfer(AssetTransfer),
    AssetFreeze(AssetFreeze),
    ApplicationCall(ApplicationCall),
}

/// `pay`: moves µAlgo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payment {
    pub receiver: Address,
    pub amount: u64,
    /// Closes the sender's account, sending everything left to this address.
    pub close_remainder_to: Option<Address>,
}

/// `acfg`: creates an asset (`asset_id` 0), reconfigures its role addresses, or destroys it
/// (all params empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssetConfig {
    pub asset_id: u64,
    pub params: AssetParams,
}

/// `apar`: an asset's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssetParams {
    pub total: u64,
    pub decimals: u32,
    pub default_frozen: bool,
    pub unit_name: String,
    pub asset_name: String,
    pub url: String,
    pub metadata_hash: Option<[u8; 32]>,
    pub manager: Option<Address>,
    pub reserve: Option<Address>,
    pub freeze: Option<Address>,
    pub clawback: Option<Address>,
}

/// `axfer`: moves asset units, opts in (0 to oneself), closes a holding out, or claws back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssetTransfer {
    pub asset_id: u64,
    pub amount: u64,
    pub receiver: Address,
    /// Clawback: take the units from this account rather than the sender (`asnd`).
    pub revocation_target: Option<Address>,
    /// Send every remaining unit here and drop the sender's holding (`aclose`).
    pub close_to: Option<Address>,
}

impl AssetTransfer {
    /// The opt-in of `account` to `asset_id`: a transfer of 0 units from `account` to
    /// itself (the transaction's sender must be `account`).
    pub fn opt_in(asset_id: u64, account: Address) -> Self {
        Self {
            asset_id,
            amount: 0,
            receiver: account,
            revocation_target: None,
            close_to: None,
        }
    }
}

/// `afrz`: freezes or unfreezes one account's holding of an asset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssetFreeze {
    pub asset_id: u64,
    pub target: Address,
    pub frozen: bool,
}

/// `appl`: creates, calls, updates or deletes an application.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicationCall {
    /// 0 creates the application.
    pub app_id: u64,
    pub on_complete: OnComplete,
    pub approval_program: Vec<u8>,
    pub clear_program: Vec<u8>,
    pub global_schema: StateSchema,
    pub local_schema: StateSchema,
    pub extra_pages: u32,
    pub args: Vec<Vec<u8>>,
    pub accounts: Vec<Address>,
    pub foreign_apps: Vec<u64>,
    pub foreign_assets: Vec<u64>,
    pub boxes: Vec<BoxReference>,
}

/// What an application call does besides running the approval program (`apan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnComplete {
    #[default]
    NoOp = 0,
    OptIn = 1,
    CloseOut = 2,
    ClearState = 3,
    UpdateApplication = 4,
    DeleteApplication = 5,
}

/// How many integers and byte slices an application may store (`nui`, `nbs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSchema {
    pub num_uints: u64,
    pub num_byte_slices: u64,
}

/// A box the call may access, as it goes on the wire: `app_index` 0 is the called (or
/// created) application, `n` the `n`-th entry of the foreign apps (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoxReference {
    pub app_index: u64,
    pub name: Vec<u8>,
}

impl BoxReference {
    /// A box of the called (or created) application.
    pub fn own(name: impl Into<Vec<u8>>) -> Self {
        Self {
            app_index: 0,
            name: name.into(),
        }
    }

    /// A box of application `app_id`, translated to its wire index as algosdk does: its
    /// position in `foreign_apps` (plus one) if listed there, else 0 when it is 0 or the
    /// called application `called_app_id`.
    pub fn of_app(
        app_id: u64,
        name: impl Into<Vec<u8>>,
        foreign_apps: &[u64],
        called_app_id: u64,
    ) -> Result<Self, TransactionError> {
        let app_index = match foreign_apps.iter().position(|&id| id == app_id) {
            Some(position) => position as u64 + 1,
            None if app_id == 0 || app_id == called_app_id => 0,
            None => return Err(TransactionError::BoxAppNotReferenced { app_id }),
        };
        Ok(Self {
            app_index,
            name: name.into(),
        })
    }
}

/// Builds a transaction from suggested params, setting its fee last (a per-byte fee depends
/// on the note and every other field).
#[derive(Debug, Clone)]
pub struct TransactionBuilder {
    params: SuggestedParams,
    txn: Transaction,
}

impl TransactionBuilder {
    pub fn new(params: &SuggestedParams, sender: Address, kind: TransactionKind) -> Self {
        Self {
            params: params.clone(),
            txn: Transaction {
                sender,
                fee: 0,
                first_valid: params.first_valid,
                last_valid: params.last_valid,
                genesis_id: params.genesis_id.clone(),
                genesis_hash: params.genesis_hash,
                note: Vec::new(),
                lease: None,
                group: None,
                rekey_to: None,
                kind,
            },
        }
    }

    pub fn note(mut self, note: impl Into<Vec<u8>>) -> Self {
        self.txn.note = note.into();
        self
    }

    /// At most one transaction per sender and lease is confirmed while the lease lasts.
    pub fn lease(mut self, lease: [u8; 32]) -> Self {
        self.txn.lease = Some(lease);
        self
    }

    /// Hands the sender's signing authority to `address` once confirmed.
    pub fn rekey_to(mut self, address: Address) -> Self {
        self.txn.rekey_to = Some(address);
        self
    }

    pub fn build(self) -> Transaction {
        let mut txn = self.txn;
        txn.fee = self.params.fee_for(&txn);
        txn
    }
}

impl Transaction {
    /// The `type` field.
    pub fn type_tag(&self) -> &'static str {
        match &self.kind {
            TransactionKind::Payment(_) => "pay",
            TransactionKind::AssetConfig(_) => "acfg",
            TransactionKind::AssetTransfer(_) => "axfer",
            TransactionKind::AssetFreeze(_) => "afrz",
            TransactionKind::ApplicationCall(_) => "appl",
        }
    }

    /// The canonical msgpack encoding.
    pub fn to_msgpack(&self) -> Vec<u8> {
        self.to_value().encode()
    }

    /// `"TX" || msgpack`: what the signature and the id cover.
    pub fn bytes_to_sign(&self) -> Vec<u8> {
        let mut bytes = TXID_PREFIX.to_vec();
        self.to_value().encode_into(&mut bytes);
        bytes
    }

    /// SHA-512/256 of [`Self::bytes_to_sign`]: the id as the group id's `txlist` holds it.
    pub fn raw_id(&self) -> [u8; 32] {
        Sha512_256::digest(self.bytes_to_sign()).into()
    }

    /// The transaction id: 52 characters of base32 without padding.
    pub fn id(&self) -> String {
        BASE32_NOPAD.encode(&self.raw_id())
    }

    /// Signs with `key`. When the key is not the sender's (a rekeyed account), the signed
    /// transaction names the signer (`sgnr`), as algod requires.
    pub fn sign(&self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.bytes_to_sign()).to_bytes();
        let signer = Address::of_key(&key.verifying_key());
        SignedTransaction {
            txn: self.clone(),
            signature,
            auth_address: (signer != self.sender).then_some(signer),
        }
    }

    /// The length of this transaction once signed by its sender, what a per-byte fee pays for.
    pub fn estimate_signed_size(&self) -> usize {
        // Any non-zero signature has the size of a real one; a zero one would be omitted.
        const PLACEHOLDER_SIGNATURE: [u8; 64] = [0xff; 64];
        signed_value(self, &PLACEHOLDER_SIGNATURE, None)
            .encode()
            .len()
    }

    /// Checks the limits the network enforces on a single transaction (validity window,
    /// note, asset parameters, application references and programs), so a transaction that
    /// would be refused fails here, before it is signed.
    pub fn validate(&self) -> Result<(), TransactionError> {
        if self.last_valid < self.first_valid {
            return Err(TransactionError::ValidityWindowInverted {
                first_valid: self.first_valid,
                last_valid: self.last_valid,
            });
        }
        if self.last_valid - self.first_valid > MAX_TXN_LIFE {
            return Err(TransactionError::ValidityWindowTooLong);
        }
        check_len("note", self.note.len(), MAX_NOTE_BYTES)?;
        match &self.kind {
            TransactionKind::AssetConfig(config) => config.params.validate(),
            TransactionKind::ApplicationCall(call) => call.validate(),
            TransactionKind::Payment(_)
            | TransactionKind::AssetTransfer(_)
            | TransactionKind::AssetFreeze(_) => Ok(()),
        }
    }

    pub(crate) fn to_value(&self) -> Value<'_> {
        let mut entries = vec![
            ("fee", Value::Uint(self.fee)),
            ("fv", Value::Uint(self.first_valid)),
            ("gen", Value::Str(&self.genesis_id)),
            ("gh", Value::FixedBin(&self.genesis_hash)),
            ("lv", Value::Uint(self.last_valid)),
            ("note", Value::Bin(&self.note)),
            ("snd", Value::FixedBin(&self.sender.0)),
            ("type", Value::Str(self.type_tag())),
        ];
        push_fixed(&mut entries, "grp", self.group.as_ref());
        push_fixed(&mut entries, "lx", self.lease.as_ref());
        push_address(&mut entries, "rekey", self.rekey_to.as_ref());
        match &self.kind {
            TransactionKind::Payment(payment) => {
                entries.push(("amt", Value::Uint(payment.amount)));
                entries.push(("rcv", Value::FixedBin(&payment.receiver.0)));
                push_address(&mut entries, "close", payment.close_remainder_to.as_ref());
            }
            TransactionKind::AssetConfig(config) => {
                entries.push(("caid", Value::Uint(config.asset_id)));
                entries.push(("apar", config.params.to_value()));
            }
            TransactionKind::AssetTransfer(transfer) => {
                entries.push(("xaid", Value::Uint(transfer.asset_id)));
                entries.push(("aamt", Value::Uint(transfer.amount)));
                entries.push(("arcv", Value::FixedBin(&transfer.receiver.0)));
                push_address(&mut entries, "asnd", transfer.revocation_target.as_ref());
                push_address(&mut entries, "aclose", transfer.close_to.as_ref());
            }
            TransactionKind::AssetFreeze(freeze) => {
                entries.push(("faid", Value::Uint(freeze.asset_id)));
                entries.push(("fadd", Value::FixedBin(&freeze.target.0)));
                entries.push(("afrz", Value::Bool(freeze.frozen)));
            }
            TransactionKind::ApplicationCall(call) => call.push_entries(&mut entries),
        }
        Value::Map(entries)
    }
}

impl AssetParams {
    fn validate(&self) -> Result<(), TransactionError> {
        if self.decimals > MAX_ASSET_DECIMALS {
            return Err(TransactionError::TooLarge {
                field: "asset decimals",
                value: u64::from(self.decimals),
                max: u64::from(MAX_ASSET_DECIMALS),
            });
        }
        check_len("asset unit name", self.unit_name.len(), MAX_UNIT_NAME_BYTES)?;
        check_len("asset name", self.asset_name.len(), MAX_ASSET_NAME_BYTES)?;
        check_len("asset URL", self.url.len(), MAX_ASSET_URL_BYTES)
    }

    fn to_value(&self) -> Value<'_> {
        let mut entries = vec![
            ("an", Value::Str(&self.asset_name)),
            ("au", Value::Str(&self.url)),
            ("dc", Value::Uint(u64::from(self.decimals))),
            ("df", Value::Bool(self.default_frozen)),
            ("t", Value::Uint(self.total)),
            ("un", Value::Str(&self.unit_name)),
        ];
        push_fixed(&mut entries, "am", self.metadata_hash.as_ref());
        push_address(&mut entries, "m", self.manager.as_ref());
        push_address(&mut entries, "r", self.reserve.as_ref());
        push_address(&mut entries, "f", self.freeze.as_ref());
        push_address(&mut entries, "c", self.clawback.as_ref());
        Value::Map(entries)
    }
}

impl ApplicationCall {
    fn validate(&self) -> Result<(), TransactionError> {
        check_len("application arguments", self.args.len(), MAX_APP_ARGS)?;
        let arg_bytes = self.args.iter().map(Vec::len).sum();
        check_len(
            "application argument bytes",
            arg_bytes,
            MAX_APP_TOTAL_ARG_BYTES,
        )?;
        check_len(
            "application accounts",
            self.accounts.len(),
            MAX_APP_ACCOUNTS,
        )?;
        let references = self.accounts.len()
            + self.foreign_apps.len()
            + self.foreign_assets.len()
            + self.boxes.len();
        check_len(
            "application references",
            references,
            MAX_APP_TOTAL_REFERENCES,
        )?;
        for reference in &self.boxes {
            check_len("box name", reference.name.len(), MAX_BOX_NAME_BYTES)?;
            if reference.app_index > self.foreign_apps.len() as u64 {
                return Err(TransactionError::BoxAppIndexOutOfRange {
                    index: reference.app_index,
                    foreign_apps: self.foreign_apps.len(),
                });
            }
        }
        if self.extra_pages > MAX_EXTRA_PAGES {
            return Err(TransactionError::TooLarge {
                field: "extra program pages",
                value: u64::from(self.extra_pages),
                max: u64::from(MAX_EXTRA_PAGES),
            });
        }
        let pages = 1 + self.extra_pages as usize;
        check_len(
            "approval and clear programs",
            self.approval_program.len() + self.clear_program.len(),
            pages * PROGRAM_PAGE_BYTES,
        )?;
        check_schema(
            "global schema",
            self.global_schema,
            MAX_GLOBAL_SCHEMA_ENTRIES,
        )?;
        check_schema("local schema", self.local_schema, MAX_LOCAL_SCHEMA_ENTRIES)
    }

    fn push_entries<'a>(&'a self, entries: &mut Vec<(&'static str, Value<'a>)>) {
        entries.push(("apid", Value::Uint(self.app_id)));
        entries.push(("apan", Value::Uint(self.on_complete as u64)));
        entries.push(("apap", Value::Bin(&self.approval_program)));
        entries.push(("apsu", Value::Bin(&self.clear_program)));
        entries.push(("apgs", self.global_schema.to_value()));
        entries.push(("apls", self.local_schema.to_value()));
        entries.push(("apep", Value::Uint(u64::from(self.extra_pages))));
        let args = self.args.iter().map(|arg| Value::Bin(arg)).collect();
        entries.push(("apaa", Value::Array(args)));
        let accounts = self
            .accounts
            .iter()
            .map(|a| Value::FixedBin(&a.0))
            .collect();
        entries.push(("apat", Value::Array(accounts)));
        let apps = self
            .foreign_apps
            .iter()
            .map(|&id| Value::Uint(id))
            .collect();
        entries.push(("apfa", Value::Array(apps)));
        let assets = self
            .foreign_assets
            .iter()
            .map(|&id| Value::Uint(id))
            .collect();
        entries.push(("apas", Value::Array(assets)));
        let boxes = self
            .boxes
            .iter()
            .map(|reference| {
                Value::Map(vec![
                    ("i", Value::Uint(reference.app_index)),
                    ("n", Value::Bin(&reference.name)),
                ])
            })
            .collect();
        entries.push(("apbx", Value::Array(boxes)));
    }
}

impl StateSchema {
    fn to_value(self) -> Value<'static> {
        Value::Map(vec![
            ("nui", Value::Uint(self.num_uints)),
            ("nbs", Value::Uint(self.num_byte_slices)),
        ])
    }
}

/// A transaction with its signature, ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    pub txn: Transaction,
    pub signature: [u8; 64],
    /// The signer when it is not the sender (`sgnr`).
    pub auth_address: Option<Address>,
}

impl SignedTransaction {
    /// The canonical msgpack `{"sgnr"?, "sig", "txn"}`: what `POST /v2/transactions` takes.
    pub fn to_msgpack(&self) -> Vec<u8> {
        signed_value(&self.txn, &self.signature, self.auth_address.as_ref()).encode()
    }

    pub fn id(&self) -> String {
        self.txn.id()
    }
}

fn signed_value<'a>(
    txn: &'a Transaction,
    signature: &'a [u8; 64],
    auth_address: Option<&'a Address>,
) -> Value<'a> {
    let mut entries = vec![("sig", Value::FixedBin(signature)), ("txn", txn.to_value())];
    push_address(&mut entries, "sgnr", auth_address);
    Value::Map(entries)
}

/// The id of a group of transactions, computed over each one without its group field (as
/// go-algorand checks it, so regrouping gives the same id).
pub fn group_id(txns: &[Transaction]) -> Result<[u8; 32], TransactionError> {
    if txns.is_empty() {
        return Err(TransactionError::EmptyGroup);
    }
    if txns.len() > MAX_GROUP_SIZE {
        return Err(TransactionError::GroupTooLarge { size: txns.len() });
    }
    let ids: Vec<[u8; 32]> = txns
        .iter()
        .map(|txn| {
            let mut ungrouped = txn.clone();
            ungrouped.group = None;
            ungrouped.raw_id()
        })
        .collect();
    let txlist = ids.iter().map(|id| Value::FixedBin(id)).collect();
    let mut bytes = GROUP_ID_PREFIX.to_vec();
    Value::Map(vec![("txlist", Value::Array(txlist))]).encode_into(&mut bytes);
    Ok(Sha512_256::digest(bytes).into())
}

/// Makes `txns` one atomic group: computes the group id and sets it on each; returns it.
pub fn assign_group_id(txns: &mut [Transaction]) -> Result<[u8; 32], TransactionError> {
    let id = group_id(txns)?;
    for txn in txns.iter_mut() {
        txn.group = Some(id);
    }
    Ok(id)
}

/// A signed group as `POST /v2/transactions` takes it: the signed transactions concatenated.
pub fn encode_signed_group(signed: &[SignedTransaction]) -> Vec<u8> {
    signed
        .iter()
        .flat_map(SignedTransaction::to_msgpack)
        .collect()
}

/// The network's fee rule for a group (a lone transaction is a group of one): the fees
/// together must reach `min_fee` per transaction, whoever pays them.
pub fn check_group_fees(txns: &[Transaction], min_fee: u64) -> Result<(), TransactionError> {
    let paid = txns
        .iter()
        .fold(0u64, |sum, txn| sum.saturating_add(txn.fee));
    let required = min_fee.saturating_mul(txns.len() as u64);
    if paid < required {
        return Err(TransactionError::InsufficientFee { paid, required });
    }
    Ok(())
}

fn push_fixed<'a>(
    entries: &mut Vec<(&'static str, Value<'a>)>,
    key: &'static str,
    bytes: Option<&'a [u8; 32]>,
) {
    if let Some(bytes) = bytes {
        entries.push((key, Value::FixedBin(bytes)));
    }
}

fn push_address<'a>(
    entries: &mut Vec<(&'static str, Value<'a>)>,
    key: &'static str,
    address: Option<&'a Address>,
) {
    push_fixed(entries, key, address.map(|address| &address.0));
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), TransactionError> {
    if len > max {
        return Err(TransactionError::TooLong { field, len, max });
    }
    Ok(())
}

fn check_schema(
    field: &'static str,
    schema: StateSchema,
    max: u64,
) -> Result<(), TransactionError> {
    let entries = schema.num_uints.saturating_add(schema.num_byte_slices);
    if entries > max {
        return Err(TransactionError::TooLarge {
            field,
            value: entries,
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;

    /// The first ARC-76 test vector's account (email@example.com, slot 0).
    const SEED: &str = "e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915";
    const ADDRESS: &str = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";
    /// The second ARC-76 vector (no email): signs as a rekeyed authority.
    const OTHER_SEED: &str = "9365ff3d966fdb3b8765e27007677440e67382ed4503c2d00a39638548e13c22";
    const TESTNET_HASH: &str = "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=";

    fn key(seed_hex: &str) -> SigningKey {
        SigningKey::from_bytes(&hex::decode(seed_hex).unwrap().try_into().unwrap())
    }

    fn testnet_params(fee: Fee) -> SuggestedParams {
        SuggestedParams {
            fee,
            min_fee: MIN_TXN_FEE,
            first_valid: 1000,
            last_valid: 2000,
            genesis_id: "testnet-v1.0".into(),
            genesis_hash: BASE64.decode(TESTNET_HASH).unwrap().try_into().unwrap(),
        }
    }

    fn sender() -> Address {
        ADDRESS.parse().unwrap()
    }

    fn nft_create() -> Transaction {
        let kind = TransactionKind::AssetConfig(AssetConfig {
            asset_id: 0,
            params: AssetParams {
                total: 1,
                unit_name: "NFT".into(),
                asset_name: "My NFT@arc3".into(),
                ..AssetParams::default()
            },
        });
        TransactionBuilder::new(&testnet_params(Fee::Flat(1000)), sender(), kind).build()
    }

    fn payment(amount: u64) -> Transaction {
        let kind = TransactionKind::Payment(Payment {
            receiver: Address([3; 32]),
            amount,
            close_remainder_to: None,
        });
        TransactionBuilder::new(&testnet_params(Fee::Flat(1000)), sender(), kind).build()
    }

    #[test]
    fn oracle_vector_asset_create() {
        let txn = nft_create();
        assert_eq!(
            hex::encode(txn.to_msgpack()),
            "88a46170617283a2616eab4d79204e46544061726333a17401a2756ea34e4654a3666565cd03e8\
             a26676cd03e8a367656eac746573746e65742d76312e30a26768c4204863b518a4b3c84ec810f22d\
             4f1081cb0f71f059a7ac20dec62f7f70e5093a22a26c76cd07d0a3736e64c420e80f6827a3ee95c3\
             46dc4da1d3323dd97ef1c92434f8fbd4b20c304fd6e3a9b7a474797065a461636667"
        );
        assert_eq!(
            txn.id(),
            "IJ6YWCWUMRQVG2XATSCPL6YJ7X7PSPCVIYICBG7HMPF2YEIVAVBQ"
        );
        assert_eq!(txn.id().len(), 52);
        assert_eq!(&txn.bytes_to_sign()[..2], b"TX");
        assert_eq!(&txn.bytes_to_sign()[2..], txn.to_msgpack());

        let signed = txn.sign(&key(SEED));
        assert_eq!(
            BASE64.encode(signed.signature),
            "kZRxaHKbSnArXS8l1RIrER44teEPDNFRCJ+1gBa47Cpl4mMD9tJcXPcU6XDlOwC6yqpzrsJhJQJOSzTSp7ALDw=="
        );
        assert_eq!(signed.auth_address, None);
        let mut expected = vec![0x82, 0xa3, b's', b'i', b'g', 0xc4, 0x40];
        expected.extend_from_slice(&signed.signature);
        expected.extend_from_slice(&[0xa3, b't', b'x', b'n']);
        expected.extend_from_slice(&txn.to_msgpack());
        assert_eq!(signed.to_msgpack(), expected);
        assert_eq!(signed.id(), txn.id());
        key(SEED)
            .verifying_key()
            .verify_strict(
                &txn.bytes_to_sign(),
                &ed25519_dalek::Signature::from_bytes(&signed.signature),
            )
            .unwrap();
    }

    #[test]
    fn a_rekeyed_signer_is_named() {
        let txn = payment(5);
        let signed = txn.sign(&key(OTHER_SEED));
        let signer = Address::of_key(&key(OTHER_SEED).verifying_key());
        assert_eq!(signed.auth_address, Some(signer));
        let encoded = signed.to_msgpack();
        // sgnr sorts before sig.
        assert_eq!(&encoded[..6], &[0x83, 0xa4, b's', b'g', b'n', b'r']);
    }

    #[test]
    fn addresses_round_trip_and_refuse_bad_checksums() {
        let address = sender();
        assert_eq!(address.to_string(), ADDRESS);
        assert_eq!(address, Address::of_key(&key(SEED).verifying_key()));
        assert_eq!(format!("{address:?}"), format!("Address({ADDRESS})"));
        let mut corrupted = ADDRESS.to_owned();
        corrupted.replace_range(0..1, "6");
        assert_eq!(
            corrupted.parse::<Address>(),
            Err(AlgorandAddressError::ChecksumMismatch)
        );
        assert!(Address::ZERO.is_zero());
        assert!(!address.is_zero());
    }

    #[test]
    fn zero_fields_are_omitted() {
        let kind = TransactionKind::Payment(Payment {
            receiver: Address::ZERO,
            amount: 0,
            close_remainder_to: Some(Address::ZERO),
        });
        let params = SuggestedParams {
            fee: Fee::Flat(0),
            min_fee: MIN_TXN_FEE,
            first_valid: 0,
            last_valid: 0,
            genesis_id: String::new(),
            genesis_hash: [0; 32],
        };
        let txn = TransactionBuilder::new(&params, sender(), kind)
            .lease([0; 32])
            .note(Vec::new())
            .build();
        let mut expected = vec![0x82, 0xa3, b's', b'n', b'd', 0xc4, 0x20];
        expected.extend_from_slice(&sender().0);
        expected.extend_from_slice(&[0xa4, b't', b'y', b'p', b'e', 0xa3, b'p', b'a', b'y']);
        assert_eq!(txn.to_msgpack(), expected);
    }

    #[test]
    fn opt_in_is_a_zero_transfer_to_oneself() {
        let opt_in = AssetTransfer::opt_in(42, sender());
        assert_eq!(opt_in.receiver, sender());
        assert_eq!(opt_in.amount, 0);
        let txn = TransactionBuilder::new(
            &testnet_params(Fee::Flat(1000)),
            sender(),
            TransactionKind::AssetTransfer(opt_in),
        )
        .build();
        let encoded = hex::encode(txn.to_msgpack());
        assert!(!encoded.contains(&hex::encode(b"aamt")));
        assert!(encoded.contains(&hex::encode(b"arcv")));
        assert!(encoded.contains(&hex::encode(b"xaid")));
    }

    #[test]
    fn per_byte_fees_have_the_minimum_as_floor() {
        let base = nft_create();
        let size = base.estimate_signed_size() as u64;
        let cheap = testnet_params(Fee::PerByte(1));
        assert_eq!(cheap.fee_for(&base), MIN_TXN_FEE);
        let note = vec![1u8; 1000];
        let noted = TransactionBuilder::new(
            &testnet_params(Fee::PerByte(10)),
            sender(),
            base.kind.clone(),
        )
        .note(note)
        .build();
        let mut sized = noted.clone();
        sized.fee = 10;
        assert_eq!(noted.fee, 10 * sized.estimate_signed_size() as u64);
        assert!(noted.fee > size * 10);
        // The size is the signed encoding's: signature map entry included.
        let signed = nft_create().sign(&key(SEED));
        assert_eq!(base.estimate_signed_size(), signed.to_msgpack().len());
        let huge = testnet_params(Fee::PerByte(u64::MAX));
        assert_eq!(huge.fee_for(&base), u64::MAX);
    }

    #[test]
    fn flat_fees_are_taken_as_given() {
        let mut params = testnet_params(Fee::Flat(0));
        let kind = nft_create().kind;
        assert_eq!(
            TransactionBuilder::new(&params, sender(), kind.clone())
                .build()
                .fee,
            0
        );
        params.fee = Fee::Flat(3000);
        assert_eq!(
            TransactionBuilder::new(&params, sender(), kind).build().fee,
            3000
        );
    }

    #[test]
    fn group_fees_are_pooled() {
        let mut payer = payment(1);
        payer.fee = 2000;
        let mut passenger = payment(2);
        passenger.fee = 0;
        check_group_fees(&[payer.clone(), passenger.clone()], MIN_TXN_FEE).unwrap();
        payer.fee = 1999;
        assert_eq!(
            check_group_fees(&[payer, passenger], MIN_TXN_FEE),
            Err(TransactionError::InsufficientFee {
                paid: 1999,
                required: 2000
            })
        );
    }

    #[test]
    fn group_ids_ignore_an_existing_group_and_refuse_bad_sizes() {
        let mut txns = vec![payment(1), payment(2), nft_create()];
        let id = assign_group_id(&mut txns).unwrap();
        assert!(txns.iter().all(|txn| txn.group == Some(id)));
        assert_eq!(group_id(&txns).unwrap(), id);
        let mut expected = b"TG".to_vec();
        expected.extend_from_slice(&[0x81, 0xa6]);
        expected.extend_from_slice(b"txlist");
        expected.push(0x93);
        for txn in [payment(1), payment(2), nft_create()] {
            expected.extend_from_slice(&[0xc4, 0x20]);
            expected.extend_from_slice(&txn.raw_id());
        }
        assert_eq!(id, <[u8; 32]>::from(Sha512_256::digest(expected)));
        // Grouping changes each transaction's id.
        assert_ne!(txns[0].id(), payment(1).id());

        assert_eq!(group_id(&[]), Err(TransactionError::EmptyGroup));
        let seventeen = vec![payment(1); 17];
        assert_eq!(
            group_id(&seventeen),
            Err(TransactionError::GroupTooLarge { size: 17 })
        );
        assert!(group_id(&seventeen[..16]).is_ok());

        let signed: Vec<SignedTransaction> = txns.iter().map(|t| t.sign(&key(SEED))).collect();
        let concatenated: Vec<u8> = signed.iter().flat_map(|s| s.to_msgpack()).collect();
        assert_eq!(encode_signed_group(&signed), concatenated);
    }

    #[test]
    fn box_references_translate_app_ids_like_algosdk() {
        let foreign = [10, 20, 30];
        let own = BoxReference::of_app(5, "a", &foreign, 5).unwrap();
        assert_eq!(own, BoxReference::own("a"));
        assert_eq!(
            BoxReference::of_app(0, "a", &foreign, 5).unwrap().app_index,
            0
        );
        assert_eq!(
            BoxReference::of_app(20, b"b".to_vec(), &foreign, 5)
                .unwrap()
                .app_index,
            2
        );
        // A foreign entry wins over the called app, as algosdk checks it first.
        assert_eq!(
            BoxReference::of_app(30, "c", &foreign, 30)
                .unwrap()
                .app_index,
            3
        );
        assert_eq!(
            BoxReference::of_app(99, "d", &foreign, 5),
            Err(TransactionError::BoxAppNotReferenced { app_id: 99 })
        );
    }

    fn app_call(call: ApplicationCall) -> Transaction {
        TransactionBuilder::new(
            &testnet_params(Fee::Flat(1000)),
            sender(),
            TransactionKind::ApplicationCall(call),
        )
        .build()
    }

    fn asset_create(params: AssetParams) -> Transaction {
        TransactionBuilder::new(
            &testnet_params(Fee::Flat(1000)),
            sender(),
            TransactionKind::AssetConfig(AssetConfig {
                asset_id: 0,
                params,
            }),
        )
        .build()
    }

    #[test]
    fn validation_accepts_the_limits() {
        nft_create().validate().unwrap();
        let mut txn = payment(1);
        txn.note = vec![0; MAX_NOTE_BYTES];
        txn.last_valid = txn.first_valid + MAX_TXN_LIFE;
        txn.validate().unwrap();
        asset_create(AssetParams {
            decimals: 19,
            unit_name: "x".repeat(8),
            asset_name: "x".repeat(32),
            url: "x".repeat(96),
            ..AssetParams::default()
        })
        .validate()
        .unwrap();
        app_call(ApplicationCall {
            args: vec![vec![0; 128]; 16],
            accounts: vec![Address([1; 32]); 4],
            foreign_apps: vec![7, 8],
            boxes: vec![BoxReference {
                app_index: 2,
                name: vec![1; 64],
            }],
            foreign_assets: vec![9],
            extra_pages: 3,
            approval_program: vec![1; 4 * 2048 - 10],
            clear_program: vec![1; 10],
            global_schema: StateSchema {
                num_uints: 32,
                num_byte_slices: 32,
            },
            local_schema: StateSchema {
                num_uints: 8,
                num_byte_slices: 8,
            },
            ..ApplicationCall::default()
        })
        .validate()
        .unwrap();
    }

    #[test]
    fn validation_refuses_what_the_network_refuses() {
        let mut txn = payment(1);
        txn.last_valid = txn.first_valid - 1;
        assert!(matches!(
            txn.validate(),
            Err(TransactionError::ValidityWindowInverted { .. })
        ));
        txn.last_valid = txn.first_valid + MAX_TXN_LIFE + 1;
        assert_eq!(txn.validate(), Err(TransactionError::ValidityWindowTooLong));
        let mut txn = payment(1);
        txn.note = vec![0; MAX_NOTE_BYTES + 1];
        assert!(matches!(
            txn.validate(),
            Err(TransactionError::TooLong { field: "note", .. })
        ));

        let too_long_assets = [
            AssetParams {
                decimals: 20,
                ..AssetParams::default()
            },
            AssetParams {
                unit_name: "x".repeat(9),
                ..AssetParams::default()
            },
            AssetParams {
                asset_name: "x".repeat(33),
                ..AssetParams::default()
            },
            AssetParams {
                url: "x".repeat(97),
                ..AssetParams::default()
            },
        ];
        for params in too_long_assets {
            assert!(asset_create(params).validate().is_err());
        }

        let refused_calls = [
            ApplicationCall {
                args: vec![vec![]; 17],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                args: vec![vec![0; 1025], vec![0; 1024]],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                accounts: vec![Address([1; 32]); 5],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                foreign_apps: vec![1; 5],
                foreign_assets: vec![2; 4],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                boxes: vec![BoxReference::own(vec![0; 65])],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                foreign_apps: vec![1],
                boxes: vec![BoxReference {
                    app_index: 2,
                    name: b"x".to_vec(),
                }],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                extra_pages: 4,
                ..ApplicationCall::default()
            },
            ApplicationCall {
                approval_program: vec![1; 2048],
                clear_program: vec![1],
                ..ApplicationCall::default()
            },
            ApplicationCall {
                global_schema: StateSchema {
                    num_uints: 60,
                    num_byte_slices: 5,
                },
                ..ApplicationCall::default()
            },
            ApplicationCall {
                local_schema: StateSchema {
                    num_uints: 17,
                    num_byte_slices: 0,
                },
                ..ApplicationCall::default()
            },
        ];
        for call in refused_calls {
            let described = format!("{call:?}");
            assert!(app_call(call).validate().is_err(), "{described}");
        }
    }
}
