//! Reading a deployed token back from its chain, and checking it against what was asked:
//! ASA parameters from the node; ARC-200 and security-token state through their read-only
//! ABI methods (simulated, nothing signed or committed); ERC-20 state through contract calls.

use alloy_primitives::U256;

use super::algorand::abi::{AbiMethod, AbiValue};
use super::algorand::algod::AlgodClient;
use super::algorand::deploy::{AlgorandToken, balance_box, holder_box, text_of_fixed};
use super::algorand::transaction::{Address, AssetParams, BoxReference, SuggestedParams};
use super::error::ChainError;
use super::evm::client::{Erc20State, EvmClient};
use super::issue::DeployedToken;
use super::token::TokenSpec;
use crate::networks::Network;

/// A token as its chain shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnChainToken {
    Asset {
        asset_id: u64,
        creator: Address,
        params: AssetParams,
    },
    Arc200(Arc200State),
    Erc20 {
        address: alloy_primitives::Address,
        state: Erc20State,
    },
}

/// An ARC-200 or security token's state, through its ABI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arc200State {
    pub app_id: u64,
    pub creator: Address,
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
    pub total_supply: U256,
    pub cap: U256,
    /// The receiver the draft named, and its balance.
    pub receiver: Address,
    pub receiver_balance: U256,
    /// ARC-200: who may mint.
    pub owner: Option<Address>,
    /// Security token: who controls it, whether it is whitelist-only, and whether the
    /// receiver is whitelisted.
    pub controller: Option<Address>,
    pub whitelist_only: Option<bool>,
    pub receiver_whitelisted: Option<bool>,
}

/// What `deployed` (made from `spec` on `network`) looks like on chain now.
pub async fn read_back(
    network: &Network,
    deployed: &DeployedToken,
    spec: &TokenSpec,
) -> Result<OnChainToken, ChainError> {
    let missing = |what: &str| ChainError::Malformed {
        network: network.id.clone(),
        reason: format!("the deployment records no {what}"),
    };
    match spec {
        TokenSpec::Algorand(token) => {
            let client = AlgodClient::connect(network).await?;
            match token {
                AlgorandToken::Asset(_) => {
                    let asset_id = deployed.asset_id.ok_or_else(|| missing("asset id"))?;
                    let asset = client
                        .asset(asset_id)
                        .await?
                        .ok_or_else(|| missing("asset on chain"))?;
                    Ok(OnChainToken::Asset {
                        asset_id,
                        creator: asset.creator,
                        params: asset.params,
                    })
                }
                AlgorandToken::Arc200(spec) => {
                    let app_id = deployed
                        .application_id
                        .ok_or_else(|| missing("application"))?;
                    read_arc200(&client, app_id, spec.receiver, false).await
                }
                AlgorandToken::SecurityToken(spec) => {
                    let app_id = deployed
                        .application_id
                        .ok_or_else(|| missing("application"))?;
                    read_arc200(&client, app_id, spec.receiver, true).await
                }
            }
        }
        TokenSpec::Evm(erc20) => {
            let address: alloy_primitives::Address = deployed
                .contract_address
                .as_deref()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| missing("contract address"))?;
            let client = EvmClient::connect(network).await?;
            let state = client.read_erc20(address, erc20.receiver).await?;
            Ok(OnChainToken::Erc20 { address, state })
        }
    }
}

async fn read_arc200(
    client: &AlgodClient,
    app_id: u64,
    receiver: Address,
    security: bool,
) -> Result<OnChainToken, ChainError> {
    let app = client
        .application(app_id)
        .await?
        .ok_or_else(|| ChainError::Malformed {
            network: client.network_id().to_string(),
            reason: format!("application {app_id} does not exist"),
        })?;
    // The creator pays the (simulated) fees: it exists and holds Algo.
    let reader = Reader::new(client, app.creator, app_id).await?;
    let name = reader.read("arc200_name()byte[32]").await?;
    let symbol = reader.read("arc200_symbol()byte[8]").await?;
    let decimals = reader.read("arc200_decimals()uint8").await?;
    let total_supply = reader.read("arc200_totalSupply()uint256").await?;
    let cap = reader.read("cap()uint256").await?;
    let receiver_balance = reader.balance_of(receiver).await?;
    let mut state = Arc200State {
        app_id,
        creator: app.creator,
        name: text_of_fixed(name.as_bytes().unwrap_or_default()),
        symbol: text_of_fixed(symbol.as_bytes().unwrap_or_default()),
        decimals: decimals
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .unwrap_or_default(),
        total_supply: total_supply.as_u256().unwrap_or_default(),
        cap: cap.as_u256().unwrap_or_default(),
        receiver,
        receiver_balance,
        owner: None,
        controller: None,
        whitelist_only: None,
        receiver_whitelisted: None,
    };
    if security {
        let controller = reader.read("controller()address").await?;
        let whitelist_only = reader.read("is_whitelist_only()bool").await?;
        let whitelisted = reader
            .call(
                "is_whitelisted(address)bool",
                &[AbiValue::Address(receiver)],
                vec![holder_box(receiver)],
            )
            .await?;
        state.controller = controller.as_address();
        state.whitelist_only = whitelist_only.as_bool();
        state.receiver_whitelisted = whitelisted.as_bool();
    } else {
        state.owner = reader.read("owner()address").await?.as_address();
    }
    Ok(OnChainToken::Arc200(state))
}

/// `holder`'s balance of ARC-200 application `app_id`, simulated as sent by `reader` (an
/// account that exists on the network and can pay a fee).
pub async fn arc200_balance(
    client: &AlgodClient,
    reader: Address,
    app_id: u64,
    holder: Address,
) -> Result<U256, ChainError> {
    Reader::new(client, reader, app_id)
        .await?
        .balance_of(holder)
        .await
}

/// Read-only calls of one application, simulated as sent by `sender` under one set of
/// suggested params (read once: every call is simulated at the same round anyway).
struct Reader<'a> {
    client: &'a AlgodClient,
    params: SuggestedParams,
    sender: Address,
    app_id: u64,
}

impl<'a> Reader<'a> {
    async fn new(
        client: &'a AlgodClient,
        sender: Address,
        app_id: u64,
    ) -> Result<Reader<'a>, ChainError> {
        Ok(Reader {
            client,
            params: client.suggested_params().await?,
            sender,
            app_id,
        })
    }

    async fn balance_of(&self, holder: Address) -> Result<U256, ChainError> {
        let balance = self
            .call(
                "arc200_balanceOf(address)uint256",
                &[AbiValue::Address(holder)],
                vec![balance_box(holder)],
            )
            .await?;
        Ok(balance.as_u256().unwrap_or_default())
    }

    /// A method without arguments or boxes.
    async fn read(&self, signature: &str) -> Result<AbiValue, ChainError> {
        self.call(signature, &[], Vec::new()).await
    }

    async fn call(
        &self,
        signature: &str,
        args: &[AbiValue],
        boxes: Vec<BoxReference>,
    ) -> Result<AbiValue, ChainError> {
        let method = AbiMethod::parse(signature).map_err(|error| ChainError::Malformed {
            network: self.client.network_id().to_string(),
            reason: format!("{signature}: {error}"),
        })?;
        self.client
            .call_readonly(&self.params, self.sender, self.app_id, &method, args, boxes)
            .await
    }
}

/// The fields every supply token (ARC-200, security token, ERC-20) has, as text to compare:
/// name, symbol, decimals, total supply, the receiver's balance (all of the initial supply
/// right after deployment) and the cap.
fn supply_fields(
    name: &str,
    symbol: &str,
    decimals: u8,
    total_supply: U256,
    receiver_balance: U256,
    cap: String,
) -> [(&'static str, String); 6] {
    [
        ("name", name.to_string()),
        ("symbol", symbol.to_string()),
        ("decimals", decimals.to_string()),
        ("total_supply", total_supply.to_string()),
        ("receiver_balance", receiver_balance.to_string()),
        ("cap", cap),
    ]
}

/// Every way the chain's token differs from `spec`; empty when it is what was asked for.
pub fn verify(spec: &TokenSpec, on_chain: &OnChainToken) -> Result<(), Vec<String>> {
    let (wanted, found) = match (spec, on_chain) {
        (TokenSpec::Algorand(AlgorandToken::Asset(wanted)), OnChainToken::Asset { params, .. }) => {
            (
                vec![("params", format!("{wanted:?}"))],
                vec![("params", format!("{params:?}"))],
            )
        }
        (TokenSpec::Algorand(AlgorandToken::Arc200(wanted)), OnChainToken::Arc200(found)) => (
            supply_fields(
                &wanted.name,
                &wanted.symbol,
                wanted.decimals,
                wanted.initial_supply,
                wanted.initial_supply,
                // The contract's cap 0 is "preminted".
                wanted.mint_cap.unwrap_or(U256::ZERO).to_string(),
            )
            .to_vec(),
            arc200_fields(found).to_vec(),
        ),
        (
            TokenSpec::Algorand(AlgorandToken::SecurityToken(wanted)),
            OnChainToken::Arc200(found),
        ) => {
            let mut wanted_fields = supply_fields(
                &wanted.name,
                &wanted.symbol,
                wanted.decimals,
                wanted.initial_supply,
                wanted.initial_supply,
                wanted.cap.to_string(),
            )
            .to_vec();
            wanted_fields.extend([
                ("controller", wanted.controller.to_string()),
                (
                    "whitelist_only",
                    format!("{:?}", Some(wanted.whitelist_only)),
                ),
                (
                    "receiver_whitelisted",
                    format!("{:?}", wanted.whitelist_only.then_some(true)),
                ),
            ]);
            let mut found_fields = arc200_fields(found).to_vec();
            found_fields.extend([
                (
                    "controller",
                    found.controller.map(|a| a.to_string()).unwrap_or_default(),
                ),
                ("whitelist_only", format!("{:?}", found.whitelist_only)),
                (
                    "receiver_whitelisted",
                    // Only a whitelist-only token must have whitelisted its receiver.
                    format!(
                        "{:?}",
                        found.receiver_whitelisted.filter(|_| wanted.whitelist_only)
                    ),
                ),
            ]);
            (wanted_fields, found_fields)
        }
        (TokenSpec::Evm(wanted), OnChainToken::Erc20 { state, .. }) => (
            supply_fields(
                &wanted.name,
                &wanted.symbol,
                wanted.decimals,
                wanted.initial_supply,
                wanted.initial_supply,
                format!("{:?}", wanted.cap),
            )
            .to_vec(),
            supply_fields(
                &state.name,
                &state.symbol,
                state.decimals,
                state.total_supply,
                state.holder_balance,
                format!("{:?}", state.cap),
            )
            .to_vec(),
        ),
        (spec, found) => return Err(vec![format!("{spec:?} read back as {found:?}")]),
    };
    let differences: Vec<String> = wanted
        .into_iter()
        .zip(found)
        .filter(|((_, wanted), (_, found))| wanted != found)
        .map(|((field, wanted), (_, found))| format!("{field}: wanted {wanted}, found {found}"))
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(differences)
    }
}

fn arc200_fields(found: &Arc200State) -> [(&'static str, String); 6] {
    supply_fields(
        &found.name,
        &found.symbol,
        found.decimals,
        found.total_supply,
        found.receiver_balance,
        found.cap.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::algorand::deploy::{Arc200Spec, SecurityTokenSpec};

    fn arc200_state(supply: u64, cap: U256) -> Arc200State {
        Arc200State {
            app_id: 1,
            creator: Address([1; 32]),
            name: "Token".into(),
            symbol: "TKN".into(),
            decimals: 6,
            total_supply: U256::from(supply),
            cap,
            receiver: Address([2; 32]),
            receiver_balance: U256::from(supply),
            owner: Some(Address([1; 32])),
            controller: None,
            whitelist_only: None,
            receiver_whitelisted: None,
        }
    }

    #[test]
    fn an_arc200_matches_its_spec_and_each_difference_is_named() {
        let spec = TokenSpec::Algorand(AlgorandToken::Arc200(Arc200Spec {
            name: "Token".into(),
            symbol: "TKN".into(),
            decimals: 6,
            initial_supply: U256::from(500u64),
            receiver: Address([2; 32]),
            mint_cap: None,
        }));
        let on_chain = OnChainToken::Arc200(arc200_state(500, U256::ZERO));
        assert_eq!(verify(&spec, &on_chain), Ok(()));

        let mut wrong = arc200_state(500, U256::from(9u64));
        wrong.symbol = "TK".into();
        wrong.receiver_balance = U256::from(499u64);
        let differences = verify(&spec, &OnChainToken::Arc200(wrong)).unwrap_err();
        assert_eq!(
            differences,
            [
                "symbol: wanted TKN, found TK",
                "receiver_balance: wanted 500, found 499",
                "cap: wanted 0, found 9",
            ]
        );
    }

    #[test]
    fn a_security_token_must_have_its_controller_and_whitelisted_receiver() {
        let controller = Address([3; 32]);
        let spec = TokenSpec::Algorand(AlgorandToken::SecurityToken(SecurityTokenSpec {
            name: "Token".into(),
            symbol: "TKN".into(),
            decimals: 6,
            initial_supply: U256::from(10u64),
            receiver: Address([2; 32]),
            cap: U256::from(100u64),
            controller,
            whitelist_only: true,
        }));
        let mut state = arc200_state(10, U256::from(100u64));
        state.owner = None;
        state.controller = Some(controller);
        state.whitelist_only = Some(true);
        state.receiver_whitelisted = Some(true);
        assert_eq!(verify(&spec, &OnChainToken::Arc200(state.clone())), Ok(()));
        state.receiver_whitelisted = Some(false);
        state.controller = Some(Address([1; 32]));
        let differences = verify(&spec, &OnChainToken::Arc200(state)).unwrap_err();
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[0].starts_with("controller:"));
        assert!(differences[1].starts_with("receiver_whitelisted:"));
    }

    #[test]
    fn a_token_of_another_kind_is_a_difference() {
        let spec = TokenSpec::Algorand(AlgorandToken::Asset(AssetParams::default()));
        let on_chain = OnChainToken::Arc200(arc200_state(1, U256::ZERO));
        assert_eq!(verify(&spec, &on_chain).unwrap_err().len(), 1);
    }
}
