//! The committed EVM contract artifacts (contracts/evm/artifacts/*.json) are exactly what the
//! pinned compiler makes of the sources, and their ABIs offer what the backend calls.
//!
//! It installs nothing: scripts/test runs `npm ci` in contracts/evm first (see
//! `ensure_evm_contract_tools` in scripts/tools/evm_contracts.sh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use sha2::{Digest, Sha256};

const MINTABLE: &str = "WalletlessMintable";
const PREMINTED: &str = "WalletlessPreminted";

/// EIP-170: the largest runtime code a chain accepts.
const MAX_RUNTIME_BYTES: usize = 24_576;

/// Opcodes newer than Shanghai (TLOAD, TSTORE, MCOPY, BLOBHASH, BLOBBASEFEE): ganache rejects
/// them, so the artifacts must not contain them.
const POST_SHANGHAI_OPCODES: [(u8, &str); 5] = [
    (0x5c, "TLOAD"),
    (0x5d, "TSTORE"),
    (0x5e, "MCOPY"),
    (0x49, "BLOBHASH"),
    (0x4a, "BLOBBASEFEE"),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn evm_dir() -> PathBuf {
    workspace_root().join("contracts/evm")
}

fn artifact(name: &str) -> Value {
    let path = evm_dir().join(format!("artifacts/{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex_bytes(artifact: &Value, field: &str) -> Vec<u8> {
    let text = artifact[field].as_str().unwrap();
    let digits = text
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("{field} lacks 0x"));
    hex::decode(digits).unwrap_or_else(|e| panic!("{field} is not hex: {e}"))
}

/// `name(type,type)` of every ABI entry of `kind` ("function", "event", "error").
fn signatures(artifact: &Value, kind: &str) -> Vec<String> {
    artifact["abi"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["type"] == kind)
        .map(|entry| {
            format!(
                "{}({})",
                entry["name"].as_str().unwrap(),
                input_types(entry)
            )
        })
        .collect()
}

fn input_types(entry: &Value) -> String {
    entry["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|input| input["type"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(",")
}

fn function<'a>(artifact: &'a Value, signature: &str) -> &'a Value {
    artifact["abi"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| {
            entry["type"] == "function"
                && format!(
                    "{}({})",
                    entry["name"].as_str().unwrap(),
                    input_types(entry)
                ) == signature
        })
        .unwrap_or_else(|| panic!("{} has no function {signature}", artifact["contractName"]))
}

/// Asserts `signature` exists with the given state mutability and output types.
fn assert_function(artifact: &Value, signature: &str, mutability: &str, outputs: &[&str]) {
    let entry = function(artifact, signature);
    assert_eq!(entry["stateMutability"], mutability, "{signature}");
    let actual: Vec<&str> = entry["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|output| output["type"].as_str().unwrap())
        .collect();
    assert_eq!(actual, outputs, "outputs of {signature}");
}

/// The constructor's (name, type) pairs, in argument order.
fn constructor_inputs(artifact: &Value) -> Vec<(String, String)> {
    let constructor = artifact["abi"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["type"] == "constructor")
        .unwrap();
    assert_eq!(constructor["stateMutability"], "nonpayable");
    constructor["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|input| {
            (
                input["name"].as_str().unwrap().to_owned(),
                input["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
        .collect()
}

/// The ERC-20 surface both contracts share: the calls the backend makes to read a token and to
/// move or burn it, and the events it indexes.
fn assert_erc20_surface(artifact: &Value) {
    assert_function(artifact, "name()", "view", &["string"]);
    assert_function(artifact, "symbol()", "view", &["string"]);
    assert_function(artifact, "decimals()", "view", &["uint8"]);
    assert_function(artifact, "totalSupply()", "view", &["uint256"]);
    assert_function(artifact, "balanceOf(address)", "view", &["uint256"]);
    assert_function(artifact, "allowance(address,address)", "view", &["uint256"]);
    assert_function(
        artifact,
        "transfer(address,uint256)",
        "nonpayable",
        &["bool"],
    );
    assert_function(
        artifact,
        "approve(address,uint256)",
        "nonpayable",
        &["bool"],
    );
    assert_function(
        artifact,
        "transferFrom(address,address,uint256)",
        "nonpayable",
        &["bool"],
    );
    assert_function(artifact, "burn(uint256)", "nonpayable", &[]);
    assert_function(artifact, "burnFrom(address,uint256)", "nonpayable", &[]);
    let events = signatures(artifact, "event");
    for event in [
        "Transfer(address,address,uint256)",
        "Approval(address,address,uint256)",
    ] {
        assert!(events.iter().any(|e| e == event), "missing event {event}");
    }
}

/// The bytes of `code` read as instructions (PUSH data skipped); fails on a post-Shanghai one.
fn assert_shanghai_only(label: &str, code: &[u8]) {
    let mut pc = 0;
    while pc < code.len() {
        let opcode = code[pc];
        if let Some((_, name)) = POST_SHANGHAI_OPCODES.iter().find(|(op, _)| *op == opcode) {
            panic!("{label} uses {name} at byte {pc}: not available on Shanghai (ganache)");
        }
        pc += 1;
        if (0x60..=0x7f).contains(&opcode) {
            pc += usize::from(opcode - 0x5f);
        }
    }
}

/// Runtime code without its CBOR metadata trailer (whose last two bytes give its length).
fn without_metadata(runtime: &[u8]) -> &[u8] {
    let n = runtime.len();
    assert!(n >= 2, "runtime code too short");
    let cbor_len = usize::from(u16::from_be_bytes([runtime[n - 2], runtime[n - 1]]));
    assert!(cbor_len + 2 <= n, "bad metadata length {cbor_len}");
    &runtime[..n - 2 - cbor_len]
}

#[test]
fn committed_artifacts_match_a_fresh_compile() {
    let evm = evm_dir();
    assert!(
        evm.join("node_modules/solc").is_dir()
            && evm.join("node_modules/@openzeppelin/contracts").is_dir(),
        "contracts/evm/node_modules is missing: run scripts/test, which installs it \
         (or `npm ci --prefix contracts/evm`)"
    );
    let started = Instant::now();
    let output = Command::new("node")
        .args(["contracts/evm/build.js", "--check"])
        .current_dir(workspace_root())
        .output()
        .expect("node must be on PATH to check the EVM artifacts");
    eprintln!("build.js --check took {:?}", started.elapsed());
    assert!(
        output.status.success(),
        "the committed EVM artifacts do not match a fresh compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn mintable_abi_has_what_the_backend_calls() {
    let mintable = artifact(MINTABLE);
    assert_eq!(mintable["contractName"], MINTABLE);
    assert_eq!(
        constructor_inputs(&mintable),
        pairs(&[
            ("name_", "string"),
            ("symbol_", "string"),
            ("decimals_", "uint8"),
            ("cap_", "uint256"),
            ("initialSupply", "uint256"),
            ("initialReceiver", "address"),
            ("owner", "address"),
        ])
    );
    assert_erc20_surface(&mintable);
    assert_function(&mintable, "mint(address,uint256)", "nonpayable", &[]);
    assert_function(&mintable, "cap()", "view", &["uint256"]);
    assert_function(&mintable, "pause()", "nonpayable", &[]);
    assert_function(&mintable, "unpause()", "nonpayable", &[]);
    assert_function(&mintable, "paused()", "view", &["bool"]);
    for role in ["DEFAULT_ADMIN_ROLE()", "MINTER_ROLE()", "PAUSER_ROLE()"] {
        assert_function(&mintable, role, "view", &["bytes32"]);
    }
    assert_function(&mintable, "hasRole(bytes32,address)", "view", &["bool"]);
    for change in ["grantRole(bytes32,address)", "revokeRole(bytes32,address)"] {
        assert_function(&mintable, change, "nonpayable", &[]);
    }
    let events = signatures(&mintable, "event");
    for event in [
        "Paused(address)",
        "Unpaused(address)",
        "RoleGranted(bytes32,address,address)",
    ] {
        assert!(events.iter().any(|e| e == event), "missing event {event}");
    }
    // The reverts the backend maps to clear errors.
    let errors = signatures(&mintable, "error");
    for error in [
        "InitialSupplyExceedsCap(uint256,uint256)",
        "InvalidOwner(address)",
        "ERC20ExceededCap(uint256,uint256)",
        "EnforcedPause()",
        "AccessControlUnauthorizedAccount(address,bytes32)",
        "ERC20InvalidReceiver(address)",
    ] {
        assert!(errors.iter().any(|e| e == error), "missing error {error}");
    }
}

#[test]
fn preminted_abi_is_a_fixed_supply_erc20() {
    let preminted = artifact(PREMINTED);
    assert_eq!(preminted["contractName"], PREMINTED);
    assert_eq!(
        constructor_inputs(&preminted),
        pairs(&[
            ("name_", "string"),
            ("symbol_", "string"),
            ("decimals_", "uint8"),
            ("totalSupply_", "uint256"),
            ("receiver", "address"),
        ])
    );
    assert_erc20_surface(&preminted);
    let functions = signatures(&preminted, "function");
    for absent in ["mint", "pause", "grantRole"] {
        assert!(
            !functions
                .iter()
                .any(|f| f.starts_with(&format!("{absent}("))),
            "a fixed-supply token must not offer {absent}: {functions:?}"
        );
    }
    assert!(signatures(&preminted, "error").contains(&"ZeroTotalSupply()".to_owned()));
}

#[test]
fn artifacts_record_pinned_compiler_settings_sources_and_shanghai_bytecode() {
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(evm_dir().join("package.json")).unwrap())
            .unwrap();
    let pinned_solc = package["dependencies"]["solc"].as_str().unwrap();

    for name in [MINTABLE, PREMINTED] {
        let artifact = artifact(name);
        let compiler = &artifact["compiler"];
        assert!(
            compiler["version"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{pinned_solc}+")),
            "{name} was compiled by {} but package.json pins solc {pinned_solc}",
            compiler["version"]
        );
        let settings = &compiler["settings"];
        assert_eq!(settings["evmVersion"], "shanghai", "{name}");
        assert_eq!(settings["optimizer"]["enabled"], true, "{name}");
        assert_eq!(settings["optimizer"]["runs"], 200, "{name}");
        assert_eq!(settings["metadata"]["bytecodeHash"], "none", "{name}");

        // The recorded hash of our own source is the file as it is now.
        let unit = format!("src/{name}.sol");
        let source = std::fs::read(evm_dir().join(&unit)).unwrap();
        assert_eq!(
            artifact["sourceHash"][&unit].as_str(),
            Some(hex::encode(Sha256::digest(&source)).as_str()),
            "{name}: sourceHash of {unit} is stale; run `node contracts/evm/build.js`"
        );
        assert!(
            artifact["sourceHash"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k == "@openzeppelin/contracts/token/ERC20/ERC20.sol"),
            "{name}: sourceHash lacks the OpenZeppelin sources"
        );

        // Creation code is the constructor followed by the runtime code.
        let creation = hex_bytes(&artifact, "bytecode");
        let runtime = hex_bytes(&artifact, "deployedBytecode");
        assert!(
            !runtime.is_empty() && creation.ends_with(&runtime),
            "{name}"
        );
        assert!(
            runtime.len() <= MAX_RUNTIME_BYTES,
            "{name}: runtime code is {} bytes, over the EIP-170 limit",
            runtime.len()
        );
        let constructor = &creation[..creation.len() - runtime.len()];
        assert_shanghai_only(&format!("{name} constructor"), constructor);
        assert_shanghai_only(&format!("{name} runtime"), without_metadata(&runtime));
    }
}

#[test]
fn opcode_scan_skips_push_data_and_finds_post_shanghai_opcodes() {
    // PUSH2 0x5e5c, then STOP: the 0x5e and 0x5c are data, not MCOPY or TLOAD.
    assert_shanghai_only("push data", &[0x61, 0x5e, 0x5c, 0x00]);
    let mcopy = std::panic::catch_unwind(|| assert_shanghai_only("mcopy", &[0x60, 0x01, 0x5e]));
    assert!(mcopy.is_err());
    // The trailer `a1 ... 00 0a` is ten bytes of CBOR plus its two-byte length.
    let code = [
        0x00, 0xfe, 0xa1, 0x64, 0x73, 0x6f, 0x6c, 0x63, 0x43, 0x00, 0x08, 0x1c, 0x00, 0x0a,
    ];
    assert_eq!(without_metadata(&code), &[0x00, 0xfe]);
}
