//! The network registry: every chain the system can deploy to, from configuration.
//!
//! A built-in default (`shared/config/networks.toml`) covers Algorand MainNet, TestNet and
//! BetaNet, Voi, Aramid, Base, Base Sepolia and the local devnets; `WALLETLESS_NETWORKS_FILE`
//! replaces it. A file that does not parse or fails a check is refused at start with its line
//! and field.

use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use toml::Spanned;
use url::Url;

const BUILT_IN: &str = include_str!("../config/networks.toml");

#[derive(Debug, thiserror::Error)]
pub enum NetworkConfigError {
    #[error("cannot read networks file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("networks file {source_name}, line {line}: {message}")]
    Invalid {
        source_name: String,
        line: usize,
        message: String,
    },
}

/// Which family of chain a network belongs to, with what identifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChainParams {
    Algorand {
        genesis_id: String,
        /// Base64 of the 32-byte genesis hash, as algod reports it.
        genesis_hash: String,
        #[schema(value_type = String)]
        algod_url: Url,
    },
    Evm {
        chain_id: u64,
        #[schema(value_type = String)]
        rpc_url: Url,
        /// The most this system pays per gas (EIP-1559 `maxFeePerGas`), in wei: a deployment
        /// whose fees the node estimates above it waits or fails instead of overpaying.
        max_fee_per_gas_wei: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChainFamily {
    Algorand,
    Evm,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub testnet: bool,
    pub confirmations: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explorer_tx_url: Option<String>,
    /// Whether the local server's `POST /v1/dev/faucet` may fund accounts here: only local
    /// test networks whose node funds on request (the algod devnet's `/dev/fund`, or an EVM
    /// devnet with unlocked prefunded accounts).
    pub dev_faucet: bool,
    #[serde(flatten)]
    pub chain: ChainParams,
}

/// A `[[network]]` entry as written in the file: flat, so that serde reports a wrong value
/// at its own line and refuses unknown fields (neither works through an internally tagged
/// enum or `flatten`). [`NetworkEntry::into_network`] then requires the fields of its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkEntry {
    id: String,
    name: String,
    kind: ChainFamily,
    testnet: bool,
    confirmations: u32,
    explorer_tx_url: Option<String>,
    #[serde(default)]
    dev_faucet: bool,
    genesis_id: Option<String>,
    genesis_hash: Option<String>,
    algod_url: Option<Url>,
    chain_id: Option<u64>,
    rpc_url: Option<Url>,
    max_fee_per_gas_wei: Option<u64>,
}

impl NetworkEntry {
    fn into_network(self) -> Result<Network, String> {
        let required = |field: &str| format!("{field}: required for kind {:?}", self.kind);
        let stray = |field: &str| format!("{field}: not a field of kind {:?}", self.kind);
        let chain = match self.kind {
            ChainFamily::Algorand => {
                if self.chain_id.is_some() {
                    return Err(stray("chain_id"));
                }
                if self.rpc_url.is_some() {
                    return Err(stray("rpc_url"));
                }
                if self.max_fee_per_gas_wei.is_some() {
                    return Err(stray("max_fee_per_gas_wei"));
                }
                ChainParams::Algorand {
                    genesis_id: self.genesis_id.ok_or_else(|| required("genesis_id"))?,
                    genesis_hash: self.genesis_hash.ok_or_else(|| required("genesis_hash"))?,
                    algod_url: self.algod_url.ok_or_else(|| required("algod_url"))?,
                }
            }
            ChainFamily::Evm => {
                for (field, present) in [
                    ("genesis_id", self.genesis_id.is_some()),
                    ("genesis_hash", self.genesis_hash.is_some()),
                    ("algod_url", self.algod_url.is_some()),
                ] {
                    if present {
                        return Err(stray(field));
                    }
                }
                ChainParams::Evm {
                    chain_id: self.chain_id.ok_or_else(|| required("chain_id"))?,
                    rpc_url: self.rpc_url.ok_or_else(|| required("rpc_url"))?,
                    max_fee_per_gas_wei: self
                        .max_fee_per_gas_wei
                        .ok_or_else(|| required("max_fee_per_gas_wei"))?,
                }
            }
        };
        Ok(Network {
            id: self.id,
            name: self.name,
            testnet: self.testnet,
            confirmations: self.confirmations,
            explorer_tx_url: self.explorer_tx_url,
            dev_faucet: self.dev_faucet,
            chain,
        })
    }
}

impl Network {
    pub fn family(&self) -> ChainFamily {
        match self.chain {
            ChainParams::Algorand { .. } => ChainFamily::Algorand,
            ChainParams::Evm { .. } => ChainFamily::Evm,
        }
    }

    /// The explorer link of a transaction, when the network has an explorer.
    pub fn explorer_link(&self, txid: &str) -> Option<String> {
        self.explorer_tx_url
            .as_ref()
            .map(|template| template.replace("{txid}", txid))
    }

    fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err("id: must be 1 to 64 of a-z, 0-9 and '-'".into());
        }
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        if self.confirmations == 0 {
            return Err("confirmations: must be at least 1".into());
        }
        if self.dev_faucet && !self.testnet {
            return Err("dev_faucet: only a testnet can have a faucet".into());
        }
        if let Some(template) = &self.explorer_tx_url {
            if !template.contains("{txid}") {
                return Err("explorer_tx_url: must contain {txid}".into());
            }
            Url::parse(&template.replace("{txid}", "TX"))
                .map_err(|e| format!("explorer_tx_url: not a URL ({e})"))?;
        }
        match &self.chain {
            ChainParams::Algorand {
                genesis_id,
                genesis_hash,
                algod_url,
            } => {
                if genesis_id.is_empty() || genesis_id.len() > 32 {
                    return Err("genesis_id: must be 1 to 32 characters".into());
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(genesis_hash)
                    .map_err(|_| "genesis_hash: not base64".to_string())?;
                if decoded.len() != 32 {
                    return Err(format!(
                        "genesis_hash: must encode 32 bytes, not {}",
                        decoded.len()
                    ));
                }
                check_endpoint("algod_url", algod_url)
            }
            ChainParams::Evm {
                chain_id,
                rpc_url,
                max_fee_per_gas_wei,
            } => {
                if *chain_id == 0 {
                    return Err("chain_id: must not be 0".into());
                }
                if *max_fee_per_gas_wei == 0 {
                    return Err("max_fee_per_gas_wei: must not be 0".into());
                }
                check_endpoint("rpc_url", rpc_url)
            }
        }
    }
}

fn check_endpoint(field: &str, url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!(
            "{field}: scheme must be http or https, not {other}"
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworksFile {
    network: Vec<Spanned<NetworkEntry>>,
}

/// The configured networks, in file order, with unique ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRegistry {
    networks: Vec<Network>,
}

impl NetworkRegistry {
    pub fn built_in() -> Result<Self, NetworkConfigError> {
        Self::parse(BUILT_IN, "(built-in)")
    }

    /// The file named by `path`, or the built-in registry when there is none.
    pub fn load(path: Option<&Path>) -> Result<Self, NetworkConfigError> {
        match path {
            None => Self::built_in(),
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| NetworkConfigError::Unreadable {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                Self::parse(&text, &path.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, source_name: &str) -> Result<Self, NetworkConfigError> {
        let invalid = |offset: usize, message: String| NetworkConfigError::Invalid {
            source_name: source_name.to_string(),
            line: line_of(text, offset),
            message,
        };
        let file: NetworksFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|span| span.start).unwrap_or(0);
            let line = text.get(offset..).and_then(|rest| rest.lines().next());
            let message = e.message().trim();
            match line {
                Some(line) if !line.trim().is_empty() => {
                    invalid(offset, format!("`{}`: {message}", line.trim()))
                }
                _ => invalid(offset, message.to_string()),
            }
        })?;
        if file.network.is_empty() {
            return Err(invalid(0, "no [[network]] entries".into()));
        }
        let mut seen = HashSet::new();
        let mut networks = Vec::with_capacity(file.network.len());
        for entry in file.network {
            let start = entry.span().start;
            let entry = entry.into_inner();
            let id = entry.id.clone();
            let network = entry
                .into_network()
                .and_then(|network| network.check().map(|()| network))
                .map_err(|message| {
                    let at = field_offset(text, start, &message).unwrap_or(start);
                    invalid(at, format!("network {id:?}: {message}"))
                })?;
            if !seen.insert(network.id.clone()) {
                return Err(invalid(
                    start,
                    format!("id: {:?} appears twice", network.id),
                ));
            }
            networks.push(network);
        }
        Ok(Self { networks })
    }

    pub fn all(&self) -> &[Network] {
        &self.networks
    }

    pub fn get(&self, id: &str) -> Option<&Network> {
        self.networks.iter().find(|network| network.id == id)
    }
}

/// Where the field a check complains about (`"field: why"`) is written in the entry that
/// starts at `entry_start`, so the error points at its own line.
fn field_offset(text: &str, entry_start: usize, message: &str) -> Option<usize> {
    let field = message.split(':').next()?;
    let entry = text.get(entry_start..)?;
    let mut offset = entry_start;
    for (index, line) in entry.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if index > 0 && trimmed.starts_with("[[") {
            return None;
        }
        if let Some(rest) = trimmed.strip_prefix(field)
            && rest.trim_start().starts_with('=')
        {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_registry_has_every_required_network() {
        let registry = NetworkRegistry::built_in().unwrap();
        for id in [
            "algorand-mainnet",
            "algorand-testnet",
            "algorand-betanet",
            "voi-mainnet",
            "aramid-mainnet",
            "base-mainnet",
            "base-sepolia",
            "algorand-devnet",
            "evm-devnet",
        ] {
            assert!(registry.get(id).is_some(), "{id} missing");
        }
        let base = registry.get("base-mainnet").unwrap();
        assert_eq!(base.family(), ChainFamily::Evm);
        assert_eq!(
            base.explorer_link("0xabc").as_deref(),
            Some("https://basescan.org/tx/0xabc")
        );
    }

    const ONE: &str = r#"
[[network]]
id = "a"
name = "A"
kind = "evm"
testnet = true
chain_id = 1
rpc_url = "http://127.0.0.1:1"
max_fee_per_gas_wei = 1000000000
confirmations = 1
"#;

    #[test]
    fn a_bad_field_is_reported_with_its_line_and_name() {
        let bad = format!(
            "{ONE}\n[[network]]\nid = \"b\"\nname = \"B\"\nkind = \"algorand\"\ntestnet = false\n\
             genesis_id = \"x\"\ngenesis_hash = \"AAAA\"\nalgod_url = \"http://h\"\nconfirmations = 1\n"
        );
        let err = NetworkRegistry::parse(&bad, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("f.toml, line 18"), "{err}");
        assert!(err.contains("genesis_hash"), "{err}");
    }

    #[test]
    fn parse_errors_name_the_line() {
        let bad = ONE.replace("chain_id = 1", "chain_id = \"one\"");
        let err = NetworkRegistry::parse(&bad, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 7"), "{err}");
        let faucet_on_mainnet = ONE
            .replace("testnet = true", "testnet = false")
            .replace("confirmations = 1", "confirmations = 1\ndev_faucet = true");
        let err = NetworkRegistry::parse(&faucet_on_mainnet, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dev_faucet"), "{err}");
        let no_ceiling = ONE.replace("max_fee_per_gas_wei = 1000000000\n", "");
        let err = NetworkRegistry::parse(&no_ceiling, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_fee_per_gas_wei: required"), "{err}");
        let unknown = ONE.replace("confirmations = 1", "confirmations = 1\ncolour = 2");
        let err = NetworkRegistry::parse(&unknown, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn duplicate_ids_and_bad_schemes_are_refused() {
        let twice = format!("{ONE}{ONE}");
        assert!(
            NetworkRegistry::parse(&twice, "f")
                .unwrap_err()
                .to_string()
                .contains("appears twice")
        );
        let ftp = ONE.replace("http://127.0.0.1:1", "ftp://127.0.0.1:1");
        assert!(NetworkRegistry::parse(&ftp, "f").is_err());
    }
}
