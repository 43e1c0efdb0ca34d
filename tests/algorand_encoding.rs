//! Cross-check of our Algorand transactions against py-algorand-sdk, byte for byte.
//!
//! One table of transaction descriptions (JSON) is built into transactions twice: here with
//! `walletless::chains::algorand`, and by tests/tools/algosdk_oracle.py with algosdk's own
//! constructors, encoder, txid, signer and group functions. Unsigned bytes, txids, signed
//! bytes, group ids and concatenated signed groups must be identical; so must ABI selectors
//! and argument encodings. All of it runs in one Python process.
//!
//! It installs nothing: scripts/test installs py-algorand-sdk into .venv first (see
//! `ensure_python_tools` in scripts/lib.sh).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use serde_json::{Map, Value, json};
use walletless::accounts::arc76::algorand_address;
use walletless::chains::algorand::abi::{AbiMethod, AbiType, AbiValue, method_selector};
use walletless::chains::algorand::transaction::{
    Address, ApplicationCall, AssetConfig, AssetFreeze, AssetParams, AssetTransfer, BoxReference,
    Fee, MIN_TXN_FEE, OnComplete, Payment, SignedTransaction, StateSchema, SuggestedParams,
    Transaction, TransactionBuilder, TransactionKind, assign_group_id, encode_signed_group,
};

/// The first ARC-76 test vector's account (email@example.com, slot 0): the usual sender.
const SEED: &str = "e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915";
/// The second ARC-76 vector (no email): a receiver, and the signer of rekeyed senders.
const OTHER_SEED: &str = "9365ff3d966fdb3b8765e27007677440e67382ed4503c2d00a39638548e13c22";
const TESTNET_HASH: &str = "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=";
const MAINNET_HASH: &str = "wGHE2Pwdvd7S12BL5FaOP20EGYesN73ktiC1qzkkit8=";
const ARC200_METHODS: [&str; 9] = [
    "arc200_name()byte[32]",
    "arc200_symbol()byte[8]",
    "arc200_decimals()uint8",
    "arc200_totalSupply()uint256",
    "arc200_balanceOf(address)uint256",
    "arc200_transfer(address,uint256)bool",
    "arc200_transferFrom(address,address,uint256)bool",
    "arc200_approve(address,uint256)bool",
    "arc200_allowance(address,address)uint256",
];
const ARC200_EVENTS: [&str; 2] = [
    "arc200_Transfer(address,address,uint256)",
    "arc200_Approval(address,address,uint256)",
];

fn seed_bytes(seed_hex: &str) -> [u8; 32] {
    hex::decode(seed_hex).unwrap().try_into().unwrap()
}

fn address_of(seed_hex: &str) -> String {
    algorand_address(&seed_bytes(seed_hex))
}

fn sender() -> String {
    address_of(SEED)
}

fn other() -> String {
    address_of(OTHER_SEED)
}

fn zero_address() -> String {
    Address::ZERO.to_string()
}

/// A valid address from a byte pattern (its checksum computed, not guessed).
fn address_from(byte: u8) -> String {
    Address([byte; 32]).to_string()
}

fn params(fee: u64, flat: bool) -> Value {
    json!({
        "fee": fee, "flat": flat, "min_fee": MIN_TXN_FEE,
        "first": 1000, "last": 2000, "gen": "testnet-v1.0", "gh": TESTNET_HASH,
    })
}

/// A description with every field of its type, defaults overridden by `overrides`.
fn case(name: &str, kind: &str, overrides: Value) -> Value {
    let mut fields = json!({
        "name": name, "type": kind, "params": params(1000, true), "sender": sender(),
        "signer_seed": SEED, "note": "", "lease": null, "rekey_to": null,
    });
    let kind_defaults = match kind {
        "pay" => json!({ "receiver": other(), "amount": 0, "close_remainder_to": null }),
        "acfg" => json!({
            "asset_id": 0, "total": 0, "decimals": 0, "default_frozen": false,
            "unit_name": "", "asset_name": "", "url": "", "metadata_hash": null,
            "manager": null, "reserve": null, "freeze": null, "clawback": null,
        }),
        "optin" => json!({ "asset_id": 0 }),
        "axfer" => json!({
            "asset_id": 0, "amount": 0, "receiver": other(), "close_to": null,
            "revocation_target": null,
        }),
        "afrz" => json!({ "asset_id": 0, "target": other(), "frozen": false }),
        "appl" => json!({
            "app_id": 0, "on_complete": 0, "approval_program": "", "clear_program": "",
            "global_schema": [0, 0], "local_schema": [0, 0], "extra_pages": 0, "args": [],
            "accounts": [], "foreign_apps": [], "foreign_assets": [], "boxes": [],
        }),
        other => panic!("no defaults for {other}"),
    };
    let object = fields.as_object_mut().unwrap();
    merge(object, kind_defaults);
    merge(object, overrides);
    fields
}

fn merge(into: &mut Map<String, Value>, from: Value) {
    for (key, value) in from.as_object().unwrap() {
        into.insert(key.clone(), value.clone());
    }
}

/// Bytes `0, 1, 2, …` (wrapping): distinct enough that a misplaced byte shows.
fn pattern(len: usize) -> String {
    hex::encode((0..len).map(|i| i as u8).collect::<Vec<u8>>())
}

fn cases() -> Vec<Value> {
    let teal = "0a200101"; // #pragma version 10; intcblock 1 — any bytes do for encoding
    vec![
        // The vector of the reference document.
        case(
            "acfg_reference_vector_nft",
            "acfg",
            json!({ "total": 1, "unit_name": "NFT", "asset_name": "My NFT@arc3" }),
        ),
        case("pay_zero_amount_omitted", "pay", json!({})),
        case(
            "pay_max_amount_note_lease_close",
            "pay",
            json!({
                "amount": u64::MAX, "note": hex::encode("hello algorand"), "lease": pattern(32),
                "close_remainder_to": address_from(9),
            }),
        ),
        case(
            "pay_fee_max_first_valid_zero_no_genesis_id",
            "pay",
            json!({
                "amount": 1,
                "params": {
                    "fee": u64::MAX, "flat": true, "min_fee": MIN_TXN_FEE, "first": 0,
                    "last": 1000, "gen": "", "gh": MAINNET_HASH,
                },
            }),
        ),
        case(
            "pay_flat_fee_zero_pooled",
            "pay",
            json!({ "params": params(0, true) }),
        ),
        case(
            "pay_to_zero_address_omitted",
            "pay",
            json!({ "receiver": zero_address() }),
        ),
        case(
            "pay_to_self_128",
            "pay",
            json!({ "receiver": sender(), "amount": 128 }),
        ),
        case(
            "pay_per_byte_rate_1_floored_at_min",
            "pay",
            json!({ "params": params(1, false) }),
        ),
        case(
            "pay_per_byte_rate_10_long_note",
            "pay",
            json!({ "params": params(10, false), "note": pattern(1024) }),
        ),
        case(
            "pay_per_byte_rate_0_min_fee_0",
            "pay",
            json!({
                "params": {
                    "fee": 0, "flat": false, "min_fee": 0, "first": 5, "last": 6,
                    "gen": "testnet-v1.0", "gh": TESTNET_HASH,
                },
            }),
        ),
        case(
            "pay_rekey_then_signed_by_authority",
            "pay",
            json!({ "rekey_to": other(), "signer_seed": OTHER_SEED, "amount": 65_536 }),
        ),
        case(
            "pay_note_255_bytes",
            "pay",
            json!({ "note": pattern(255), "amount": 255 }),
        ),
        case(
            "pay_note_256_bytes",
            "pay",
            json!({ "note": pattern(256), "amount": 256 }),
        ),
        case(
            "acfg_fungible_all_fields_at_limits",
            "acfg",
            json!({
                "total": u64::MAX, "decimals": 19, "default_frozen": true,
                "unit_name": "ABCDEFGH", "asset_name": "A".repeat(32),
                "url": format!("https://{}#arc3", "x".repeat(83)),
                "metadata_hash": pattern(32),
                "manager": sender(), "reserve": other(), "freeze": address_from(1),
                "clawback": address_from(2),
                "note": hex::encode(r#"{"standard":"arc69"}"#), "params": params(3, false),
            }),
        ),
        case(
            "acfg_fractional_nft_manager_only",
            "acfg",
            json!({
                "total": 1000, "decimals": 3, "unit_name": "FNFT",
                "asset_name": "Fraction@arc3", "url": "ipfs://bafy#arc3",
                "metadata_hash": hex::encode([0xab; 32]), "manager": sender(),
            }),
        ),
        case(
            "acfg_reconfigure_roles",
            "acfg",
            json!({
                "asset_id": 123_456, "manager": other(), "reserve": sender(),
                "freeze": sender(), "clawback": sender(),
            }),
        ),
        case("acfg_destroy", "acfg", json!({ "asset_id": u64::MAX })),
        case("axfer_opt_in", "optin", json!({ "asset_id": 10_458_941 })),
        case(
            "axfer_max_amount_max_asset",
            "axfer",
            json!({ "asset_id": u64::MAX, "amount": u64::MAX }),
        ),
        case(
            "axfer_close_out",
            "axfer",
            json!({ "asset_id": 77, "close_to": address_from(5) }),
        ),
        case(
            "axfer_clawback",
            "axfer",
            json!({ "asset_id": 77, "amount": 3, "revocation_target": address_from(6) }),
        ),
        case(
            "afrz_freeze",
            "afrz",
            json!({ "asset_id": 77, "frozen": true }),
        ),
        case(
            "afrz_unfreeze",
            "afrz",
            json!({ "asset_id": 4_294_967_296_u64 }),
        ),
        case(
            "appl_create_with_boxes_and_extra_page",
            "appl",
            json!({
                "approval_program": pattern(3000), "clear_program": teal,
                "global_schema": [3, 2], "local_schema": [1, 0], "extra_pages": 1,
                "args": ["", "00", pattern(40)], "boxes": [[0, hex::encode("balances")], [0, ""]],
                "note": hex::encode("create"),
            }),
        ),
        case(
            "appl_create_byte_slices_only_max_pages",
            "appl",
            json!({
                "approval_program": teal, "clear_program": teal,
                "global_schema": [0, 64], "extra_pages": 3,
            }),
        ),
        case(
            "appl_call_arc200_transfer_with_references",
            "appl",
            json!({
                "app_id": 1234, "args": arc200_transfer_args(),
                "accounts": [other(), zero_address()], "foreign_apps": [5, 0],
                "foreign_assets": [31_566_704],
                "boxes": [[1234, hex::encode("b")], [5, pattern(64)], [0, "00"]],
                "params": params(1, false),
            }),
        ),
        case(
            "appl_call_sixteen_args",
            "appl",
            json!({
                "app_id": 1, "args": (0..16).map(pattern).collect::<Vec<_>>(),
                "foreign_apps": [u64::MAX], "boxes": [[u64::MAX, "ff"]],
            }),
        ),
        case(
            "appl_opt_in",
            "appl",
            json!({ "app_id": 99, "on_complete": 1 }),
        ),
        case(
            "appl_close_out",
            "appl",
            json!({ "app_id": 99, "on_complete": 2 }),
        ),
        case(
            "appl_clear_state",
            "appl",
            json!({ "app_id": 99, "on_complete": 3 }),
        ),
        case(
            "appl_update",
            "appl",
            json!({
                "app_id": 99, "on_complete": 4, "approval_program": pattern(300),
                "clear_program": teal,
            }),
        ),
        case(
            "appl_delete_rekeyed",
            "appl",
            json!({ "app_id": 99, "on_complete": 5, "rekey_to": other() }),
        ),
    ]
}

fn arc200_transfer_args() -> Vec<String> {
    let method = AbiMethod::parse("arc200_transfer(address,uint256)bool").unwrap();
    let to = Address(walletless::accounts::arc76::decode_algorand_address(&other()).unwrap());
    method
        .app_args(&[AbiValue::Address(to), AbiValue::uint(1_000_000)])
        .unwrap()
        .iter()
        .map(hex::encode)
        .collect()
}

fn groups() -> Vec<Value> {
    vec![
        json!({
            "name": "group_of_three_pay_optin_appl",
            "members": [
                case("g3_pay", "pay", json!({ "amount": 100_000, "params": params(3000, true) })),
                case("g3_optin", "optin", json!({ "asset_id": 42, "params": params(0, true) })),
                case(
                    "g3_appl", "appl",
                    json!({
                        "app_id": 1234, "args": arc200_transfer_args(),
                        "boxes": [[1234, "00"]], "params": params(0, true),
                    }),
                ),
            ],
        }),
        json!({
            "name": "group_of_two_signers",
            "members": [
                case(
                    "g2_pay", "pay",
                    json!({
                        "amount": 1, "sender": other(), "signer_seed": OTHER_SEED,
                        "receiver": sender(),
                    }),
                ),
                case("g2_axfer", "axfer", json!({ "asset_id": 7, "amount": 1 })),
            ],
        }),
        json!({
            "name": "group_of_one",
            "members": [case("g1_pay", "pay", json!({ "amount": 5 }))],
        }),
    ]
}

/// (type, Rust value, the oracle's value) — each encoded by both sides.
fn abi_encodings() -> Vec<(&'static str, AbiValue, Value)> {
    let max256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    let owner = walletless::accounts::arc76::decode_algorand_address(&sender()).unwrap();
    let mut name = b"Walletless Token".to_vec();
    name.resize(32, 0);
    vec![
        ("uint8", AbiValue::uint(255), json!("255")),
        ("uint64", AbiValue::uint(0), json!("0")),
        (
            "uint64",
            AbiValue::uint(u64::MAX),
            json!(u64::MAX.to_string()),
        ),
        ("uint256", AbiValue::uint(1_000_000), json!("1000000")),
        (
            "uint256",
            AbiValue::Uint(max256.parse().unwrap()),
            json!(max256),
        ),
        (
            "uint128",
            AbiValue::Uint(u128::MAX.try_into().unwrap()),
            json!(u128::MAX.to_string()),
        ),
        ("bool", AbiValue::Bool(true), json!(true)),
        ("bool", AbiValue::Bool(false), json!(false)),
        (
            "address",
            AbiValue::Address(Address(owner)),
            json!(sender()),
        ),
        (
            "byte[32]",
            AbiValue::Bytes(name.clone()),
            json!(hex::encode(&name)),
        ),
        (
            "byte[8]",
            AbiValue::Bytes(b"WLT\0\0\0\0\0".to_vec()),
            json!(hex::encode(b"WLT\0\0\0\0\0")),
        ),
    ]
}

// ---- building the same transactions with our library -------------------------------------

fn text(spec: &Value, key: &str) -> String {
    spec[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {spec}"))
        .to_owned()
}

fn number(spec: &Value, key: &str) -> u64 {
    spec[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {spec}"))
}

fn bytes(spec: &Value, key: &str) -> Vec<u8> {
    hex::decode(text(spec, key)).unwrap()
}

fn address(spec: &Value, key: &str) -> Address {
    text(spec, key).parse().unwrap()
}

fn optional_address(spec: &Value, key: &str) -> Option<Address> {
    spec[key].as_str().map(|a| a.parse().unwrap())
}

fn optional_hash(spec: &Value, key: &str) -> Option<[u8; 32]> {
    spec[key]
        .as_str()
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
}

fn schema(spec: &Value, key: &str) -> StateSchema {
    StateSchema {
        num_uints: spec[key][0].as_u64().unwrap(),
        num_byte_slices: spec[key][1].as_u64().unwrap(),
    }
}

fn suggested_params(spec: &Value) -> SuggestedParams {
    let p = &spec["params"];
    let rate = number(p, "fee");
    SuggestedParams {
        fee: if p["flat"].as_bool().unwrap() {
            Fee::Flat(rate)
        } else {
            Fee::PerByte(rate)
        },
        min_fee: number(p, "min_fee"),
        first_valid: number(p, "first"),
        last_valid: number(p, "last"),
        genesis_id: text(p, "gen"),
        genesis_hash: BASE64.decode(text(p, "gh")).unwrap().try_into().unwrap(),
    }
}

fn on_complete(code: u64) -> OnComplete {
    match code {
        0 => OnComplete::NoOp,
        1 => OnComplete::OptIn,
        2 => OnComplete::CloseOut,
        3 => OnComplete::ClearState,
        4 => OnComplete::UpdateApplication,
        5 => OnComplete::DeleteApplication,
        other => panic!("on-complete {other}"),
    }
}

fn kind(spec: &Value) -> TransactionKind {
    match spec["type"].as_str().unwrap() {
        "pay" => TransactionKind::Payment(Payment {
            receiver: address(spec, "receiver"),
            amount: number(spec, "amount"),
            close_remainder_to: optional_address(spec, "close_remainder_to"),
        }),
        "acfg" => TransactionKind::AssetConfig(AssetConfig {
            asset_id: number(spec, "asset_id"),
            params: AssetParams {
                total: number(spec, "total"),
                decimals: number(spec, "decimals").try_into().unwrap(),
                default_frozen: spec["default_frozen"].as_bool().unwrap(),
                unit_name: text(spec, "unit_name"),
                asset_name: text(spec, "asset_name"),
                url: text(spec, "url"),
                metadata_hash: optional_hash(spec, "metadata_hash"),
                manager: optional_address(spec, "manager"),
                reserve: optional_address(spec, "reserve"),
                freeze: optional_address(spec, "freeze"),
                clawback: optional_address(spec, "clawback"),
            },
        }),
        "optin" => TransactionKind::AssetTransfer(AssetTransfer::opt_in(
            number(spec, "asset_id"),
            address(spec, "sender"),
        )),
        "axfer" => TransactionKind::AssetTransfer(AssetTransfer {
            asset_id: number(spec, "asset_id"),
            amount: number(spec, "amount"),
            receiver: address(spec, "receiver"),
            revocation_target: optional_address(spec, "revocation_target"),
            close_to: optional_address(spec, "close_to"),
        }),
        "afrz" => TransactionKind::AssetFreeze(AssetFreeze {
            asset_id: number(spec, "asset_id"),
            target: address(spec, "target"),
            frozen: spec["frozen"].as_bool().unwrap(),
        }),
        "appl" => {
            let app_id = number(spec, "app_id");
            let ids = |key: &str| -> Vec<u64> {
                spec[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| id.as_u64().unwrap())
                    .collect()
            };
            let foreign_apps = ids("foreign_apps");
            let boxes = spec["boxes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let name = hex::decode(b[1].as_str().unwrap()).unwrap();
                    BoxReference::of_app(b[0].as_u64().unwrap(), name, &foreign_apps, app_id)
                        .unwrap()
                })
                .collect();
            TransactionKind::ApplicationCall(ApplicationCall {
                app_id,
                on_complete: on_complete(number(spec, "on_complete")),
                approval_program: bytes(spec, "approval_program"),
                clear_program: bytes(spec, "clear_program"),
                global_schema: schema(spec, "global_schema"),
                local_schema: schema(spec, "local_schema"),
                extra_pages: number(spec, "extra_pages").try_into().unwrap(),
                args: spec["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| hex::decode(a.as_str().unwrap()).unwrap())
                    .collect(),
                accounts: spec["accounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().parse().unwrap())
                    .collect(),
                foreign_apps,
                foreign_assets: ids("foreign_assets"),
                boxes,
            })
        }
        other => panic!("unknown type {other}"),
    }
}

fn build(spec: &Value) -> Transaction {
    let mut builder =
        TransactionBuilder::new(&suggested_params(spec), address(spec, "sender"), kind(spec))
            .note(bytes(spec, "note"));
    if let Some(lease) = optional_hash(spec, "lease") {
        builder = builder.lease(lease);
    }
    if let Some(rekey_to) = optional_address(spec, "rekey_to") {
        builder = builder.rekey_to(rekey_to);
    }
    let txn = builder.build();
    txn.validate()
        .unwrap_or_else(|e| panic!("{}: {e}", spec["name"]));
    txn
}

fn sign(txn: &Transaction, spec: &Value) -> SignedTransaction {
    txn.sign(&SigningKey::from_bytes(&seed_bytes(&text(
        spec,
        "signer_seed",
    ))))
}

// ---- the oracle ----------------------------------------------------------------------------

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run_oracle(request: &Value) -> Value {
    let root = workspace_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test once (it installs py-algorand-sdk into .venv)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("tests/tools/algosdk_oracle.py"))
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the algosdk oracle failed ({}); is py-algorand-sdk installed (scripts/test)?\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn transactions_groups_and_abi_match_algosdk_byte_for_byte() {
    let cases = cases();
    let groups = groups();
    let abi_encodings = abi_encodings();
    let request = json!({
        "cases": cases,
        "groups": groups,
        "abi": {
            "selectors": ARC200_METHODS,
            "event_selectors": ARC200_EVENTS,
            "encodings": abi_encodings
                .iter()
                .map(|(ty, _, value)| json!({ "type": ty, "value": value }))
                .collect::<Vec<_>>(),
        },
    });
    let oracle = run_oracle(&request);

    let mut failures = Vec::new();
    let mut check = |what: String, ours: String, theirs: &Value| {
        if theirs.as_str() != Some(ours.as_str()) {
            failures.push(format!("{what}\n  ours:    {ours}\n  algosdk: {theirs}"));
        }
    };

    let answers = oracle["cases"].as_array().unwrap();
    assert_eq!(answers.len(), cases.len());
    for (spec, answer) in cases.iter().zip(answers) {
        let name = text(spec, "name");
        assert_eq!(answer["name"], spec["name"]);
        let txn = build(spec);
        check(
            format!("{name}: unsigned"),
            hex::encode(txn.to_msgpack()),
            &answer["unsigned"],
        );
        check(format!("{name}: txid"), txn.id(), &answer["txid"]);
        check(
            format!("{name}: signed"),
            hex::encode(sign(&txn, spec).to_msgpack()),
            &answer["signed"],
        );
    }

    let answers = oracle["groups"].as_array().unwrap();
    assert_eq!(answers.len(), groups.len());
    for (group, answer) in groups.iter().zip(answers) {
        let name = text(group, "name");
        let members = group["members"].as_array().unwrap();
        let mut txns: Vec<Transaction> = members.iter().map(build).collect();
        let group_id = assign_group_id(&mut txns).unwrap();
        check(
            format!("{name}: group id"),
            hex::encode(group_id),
            &answer["group_id"],
        );
        for (i, txn) in txns.iter().enumerate() {
            check(format!("{name}[{i}]: txid"), txn.id(), &answer["txids"][i]);
        }
        let signed: Vec<SignedTransaction> = txns
            .iter()
            .zip(members)
            .map(|(txn, spec)| sign(txn, spec))
            .collect();
        check(
            format!("{name}: signed group"),
            hex::encode(encode_signed_group(&signed)),
            &answer["signed"],
        );
    }

    let selectors = oracle["abi"]["selectors"].as_array().unwrap();
    assert_eq!(selectors.len(), ARC200_METHODS.len());
    for (signature, theirs) in ARC200_METHODS.iter().zip(selectors) {
        let ours = AbiMethod::parse(signature).unwrap().selector();
        check(format!("selector {signature}"), hex::encode(ours), theirs);
    }
    let event_selectors = oracle["abi"]["event_selectors"].as_array().unwrap();
    assert_eq!(event_selectors.len(), ARC200_EVENTS.len());
    for (signature, theirs) in ARC200_EVENTS.iter().zip(event_selectors) {
        check(
            format!("event selector {signature}"),
            hex::encode(method_selector(signature)),
            theirs,
        );
    }
    let encodings = oracle["abi"]["encodings"].as_array().unwrap();
    assert_eq!(encodings.len(), abi_encodings.len());
    for ((ty, value, _), theirs) in abi_encodings.iter().zip(encodings) {
        let ours = AbiType::parse(ty).unwrap().encode(value).unwrap();
        check(format!("abi {ty} {value:?}"), hex::encode(ours), theirs);
    }

    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} transactions, {} groups, {} selectors and {} ABI encodings identical to algosdk",
        cases.len(),
        groups.len(),
        ARC200_METHODS.len() + ARC200_EVENTS.len(),
        abi_encodings.len()
    );
}

/// The fee-rule cases above only agree with algosdk if per-byte fees really differ from the
/// flat ones; make sure the table exercises both sides of the minimum.
#[test]
fn the_table_exercises_per_byte_fees_above_and_at_the_minimum() {
    let fee_of = |name: &str| {
        let spec = cases().into_iter().find(|c| c["name"] == name).unwrap();
        build(&spec).fee
    };
    assert_eq!(fee_of("pay_per_byte_rate_1_floored_at_min"), MIN_TXN_FEE);
    assert!(fee_of("pay_per_byte_rate_10_long_note") > 10_000);
    assert_eq!(fee_of("pay_per_byte_rate_0_min_fee_0"), 0);
    assert!(fee_of("acfg_fungible_all_fields_at_limits") > MIN_TXN_FEE);
}
