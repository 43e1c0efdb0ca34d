//! Issuing tokens on the local devnets from a user's own account: every one of the 11
//! standards deployed and read back from the chain, the security token's transfer rules on
//! chain, live network health, the dev faucet, and the catalogued codes for insufficient
//! funds, a wrong genesis hash or chain id, an unreachable node and a rejected transaction.
//!
//! The devnets are the ones `scripts/test` starts (URLs in `WALLETLESS_ALGOD_DEVNET_URL` and
//! `WALLETLESS_EVM_DEVNET_URL`); each test writes a networks file pointing at them, plus
//! deliberately broken entries, and runs a local server with it. Users register and fund
//! themselves over HTTP; deployments run through `chains::issue`, the code the deployment
//! pipeline calls.

use std::time::Duration;

use alloy_primitives::U256;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletless::accounts::service as accounts;
use walletless::api::{ApiError, ErrorCode};
use walletless::app::App;
use walletless::chains::algorand::abi::{AbiMethod, AbiValue};
use walletless::chains::algorand::algod::AlgodClient;
use walletless::chains::algorand::deploy::{balance_box, holder_box};
use walletless::chains::algorand::transaction::{
    Address, ApplicationCall, BoxReference, Payment, TransactionBuilder, TransactionKind,
    assign_group_id, encode_signed_group,
};
use walletless::chains::error::ChainError;
use walletless::chains::evm::EvmClient;
use walletless::chains::issue::{self, DeployedToken, IssueError};
use walletless::chains::readback::{self, OnChainToken};
use walletless::chains::token::TokenSpec;
use walletless_tests::chains::{
    Family, METADATA_BASE_URL, STRANGER, User, environment, environment_of, every_standard, faucet,
    new_user, save_draft,
};

/// Deploys the draft from the user's account and reads the token back from the chain.
async fn deploy_and_read(
    app: &App,
    user: &User,
    draft_id: &str,
) -> (TokenSpec, DeployedToken, OnChainToken) {
    let prepared = issue::prepare_draft(app, &user.id, draft_id).await.unwrap();
    let deployed = issue::deploy_draft(app, &user.id, draft_id)
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", prepared.standard.id));
    let on_chain = readback::read_back(&prepared.network, &deployed, &prepared.spec)
        .await
        .unwrap();
    readback::verify(&prepared.spec, &on_chain)
        .unwrap_or_else(|differences| panic!("{}: {differences:?}", prepared.standard.id));
    (prepared.spec, deployed, on_chain)
}

fn code_of(error: IssueError) -> (ErrorCode, Value) {
    let api = ApiError::from(error);
    (api.code, api.details.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_standard_deploys_from_the_users_own_account_and_reads_back() {
    let (env, _dir) = environment().await;
    let app = env.backstage().await;
    let user = new_user(&env).await;
    let (status, funded) = faucet(&env, &user, "algorand-devnet", Some("20000000")).await;
    assert_eq!(status, StatusCode::OK, "{funded}");
    assert_eq!(funded["address"], user.algorand.as_str());
    assert_eq!(funded["amount"], "20000000");
    let (status, funded) = faucet(&env, &user, "evm-devnet", None).await;
    assert_eq!(status, StatusCode::OK, "{funded}");
    assert_eq!(funded["address"], user.evm.as_str());

    let drafts = every_standard(&user);
    assert_eq!(drafts.len(), 11);
    let mut standards_done = Vec::new();
    for draft in drafts {
        let standard = draft["standard"].as_str().unwrap().to_string();
        let draft_id = save_draft(&env, &user, draft).await;
        let (spec, deployed, on_chain) = deploy_and_read(&app, &user, &draft_id).await;
        assert_eq!(deployed.standard, standard);
        assert!(!deployed.transactions.is_empty());
        match (&spec, &on_chain) {
            (
                TokenSpec::Algorand(_),
                OnChainToken::Asset {
                    asset_id,
                    creator,
                    params,
                },
            ) => {
                assert_eq!(Some(*asset_id), deployed.asset_id);
                assert_eq!(
                    creator.to_string(),
                    user.algorand,
                    "created from the user's account"
                );
                if standard.starts_with("arc3") {
                    assert!(params.url.starts_with(METADATA_BASE_URL), "{}", params.url);
                    assert!(params.url.ends_with("#arc3"));
                    assert!(params.metadata_hash.is_some());
                }
            }
            (TokenSpec::Algorand(_), OnChainToken::Arc200(state)) => {
                assert_eq!(Some(state.app_id), deployed.application_id);
                assert_eq!(state.creator.to_string(), user.algorand);
                match standard.as_str() {
                    "arc200-mintable" => {
                        assert_eq!(state.name, "Harbour Credits");
                        assert_eq!(state.symbol, "HBC");
                        assert_eq!(state.decimals, 6);
                        assert_eq!(state.total_supply, U256::from(1_000_000_000u64));
                        assert_eq!(state.receiver_balance, state.total_supply);
                        assert_eq!(state.cap, U256::from(1_000_000_000_000u64));
                    }
                    "arc200-preminted" => {
                        assert_eq!(state.receiver.to_string(), STRANGER);
                        assert_eq!(state.total_supply, U256::from(1_000_000_000_000u64));
                        assert_eq!(state.receiver_balance, state.total_supply);
                    }
                    "security-token" => {
                        assert_eq!(state.symbol, "HB30");
                        assert_eq!(state.total_supply, U256::from(1_000u64));
                        assert_eq!(state.cap, U256::from(10_000u64));
                        assert_eq!(state.receiver_balance, U256::from(1_000u64));
                    }
                    other => panic!("{other} read back as an ARC-200 token"),
                }
            }
            (TokenSpec::Evm(_), OnChainToken::Erc20 { address, state }) => {
                assert_eq!(Some(address.to_checksum(None)), deployed.contract_address);
                if standard == "erc20-mintable" {
                    let network = app.networks().get("evm-devnet").unwrap();
                    let client = EvmClient::connect(network).await.unwrap();
                    let roles = client
                        .token_roles(*address, user.evm.parse().unwrap())
                        .await
                        .unwrap()
                        .expect("a mintable token has roles");
                    assert!(roles.admin && roles.minter && roles.pauser, "{roles:?}");
                    assert_eq!(
                        state.cap,
                        Some(U256::from(5_000_000u64) * U256::from(10u64).pow(U256::from(18)))
                    );
                }
                let link = deployed.transactions[0].explorer_url.as_deref().unwrap();
                assert!(link.starts_with("https://explorer.example/tx/0x"), "{link}");
                if standard == "erc20-preminted" {
                    assert_eq!(state.total_supply, U256::from(21_000_000_500_000u64));
                    assert_eq!(state.cap, None);
                }
            }
            (spec, on_chain) => panic!("{standard}: {spec:?} read back as {on_chain:?}"),
        }
        standards_done.push(standard);
    }
    assert_eq!(standards_done.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_aws_adapters_the_key_is_opened_through_kms_for_each_signature() {
    let (env, _dir) = environment_of(Family::Aws).await;
    let app = env.backstage().await;
    let user = new_user(&env).await;
    assert_eq!(
        faucet(&env, &user, "algorand-devnet", None).await.0,
        StatusCode::OK
    );
    let draft_id = save_draft(
        &env,
        &user,
        json!({ "standard": "arc200-preminted", "network": "algorand-devnet", "params": {
            "name": "Harbour Fixed", "symbol": "HBF", "total_supply": "5" }}),
    )
    .await;
    let (_, deployed, _) = deploy_and_read(&app, &user, &draft_id).await;
    assert_eq!(
        deployed.transactions.len(),
        3,
        "create, then fund + bootstrap"
    );
    // One opening of the seed per signed stage, each recorded in the user's audit chain.
    let filter = walletless::audit::AuditFilter {
        event_type: Some(walletless::audit::types::KEY_DECRYPTED_FOR_SIGNING.into()),
        ..Default::default()
    };
    let events = walletless::audit::list(app.records(), &user.id, &filter, None, 100)
        .await
        .unwrap()
        .events;
    let purposes: Vec<&str> = events
        .iter()
        .map(|event| {
            assert_eq!(
                event.subject,
                walletless::audit::Subject::new("draft", &draft_id)
            );
            event.payload["purpose"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        purposes,
        [
            "direct deployment: create_application",
            "direct deployment: fund_and_bootstrap",
        ]
    );
}

/// Calls of one application from `user`'s account, signed through the key vault.
struct AppCaller<'a> {
    app: &'a App,
    client: &'a AlgodClient,
    user: &'a User,
    app_id: u64,
}

impl AppCaller<'_> {
    /// Calls `signature` with `args`, first paying `top_up` µAlgo to the application's account
    /// in the same group when it is not 0 (the minimum balance of the boxes it creates).
    async fn call(
        &self,
        signature: &str,
        args: &[AbiValue],
        boxes: Vec<BoxReference>,
        top_up: u64,
    ) -> Result<(), ChainError> {
        let sender: Address = self.user.algorand.parse().unwrap();
        let params = self.client.suggested_params().await?;
        let method = AbiMethod::parse(signature).unwrap();
        let call = ApplicationCall {
            app_id: self.app_id,
            args: method.app_args(args).unwrap(),
            boxes,
            ..ApplicationCall::default()
        };
        let mut group = Vec::new();
        if top_up > 0 {
            let payment = Payment {
                receiver: Address::of_application(self.app_id),
                amount: top_up,
                close_remainder_to: None,
            };
            group.push(
                TransactionBuilder::new(&params, sender, TransactionKind::Payment(payment)).build(),
            );
        }
        group.push(
            TransactionBuilder::new(&params, sender, TransactionKind::ApplicationCall(call))
                .build(),
        );
        if group.len() > 1 {
            assign_group_id(&mut group).unwrap();
        }
        let seed = accounts::open_signing_seed(
            self.app,
            &self.user.id,
            walletless::audit::Subject::new("application", self.app_id.to_string()),
            "test call",
            &walletless::audit::Origin::system("test"),
        )
        .await
        .unwrap();
        let key = seed.algorand_key();
        let signed: Vec<_> = group.iter().map(|txn| txn.sign(&key)).collect();
        drop(seed);
        self.client.submit(&encode_signed_group(&signed)).await?;
        let last = signed.last().unwrap().id();
        self.client
            .wait_for_confirmation(&last, 1_000, Duration::from_secs(30))
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_token_refuses_non_whitelisted_holders_and_allows_controller_transfers() {
    let (env, _dir) = environment().await;
    let app = env.backstage().await;
    let user = new_user(&env).await;
    assert_eq!(
        faucet(&env, &user, "algorand-devnet", None).await.0,
        StatusCode::OK
    );
    let draft_id = save_draft(
        &env,
        &user,
        json!({ "standard": "security-token", "network": "algorand-devnet", "params": {
            "name": "Harbour Bond 2030", "symbol": "HB30", "decimals": 0,
            "initial_supply": "1000", "cap": "10000" }}),
    )
    .await;
    let (_, deployed, _) = deploy_and_read(&app, &user, &draft_id).await;
    let app_id = deployed.application_id.unwrap();
    let network = app.networks().get("algorand-devnet").unwrap();
    let client = AlgodClient::connect(network).await.unwrap();
    let me: Address = user.algorand.parse().unwrap();
    let stranger: Address = STRANGER.parse().unwrap();
    let caller = AppCaller {
        app: &app,
        client: &client,
        user: &user,
        app_id,
    };

    // The user holds 1,000 and is whitelisted; the stranger is not: the contract refuses.
    let refused = caller
        .call(
            "arc200_transfer(address,uint256)bool",
            &[AbiValue::Address(stranger), AbiValue::uint(10)],
            vec![
                balance_box(me),
                balance_box(stranger),
                holder_box(me),
                holder_box(stranger),
            ],
            0,
        )
        .await
        .unwrap_err();
    let ChainError::TransactionRejected { message } = &refused else {
        panic!("{refused:?}");
    };
    assert!(message.contains("logic eval error"), "{message}");
    assert_eq!(
        ApiError::from(refused.clone()).code,
        ErrorCode::TransactionRejected
    );

    // The controller whitelists the stranger and forces a transfer: allowed. The app account
    // gets the minimum balance of the two new boxes.
    caller
        .call(
            "whitelist_add(address)void",
            &[AbiValue::Address(stranger)],
            vec![holder_box(stranger)],
            16_100,
        )
        .await
        .unwrap();
    caller
        .call(
            "controller_transfer(address,address,uint256,uint64)bool",
            &[
                AbiValue::Address(me),
                AbiValue::Address(stranger),
                AbiValue::uint(25),
                AbiValue::uint(7),
            ],
            vec![balance_box(me), balance_box(stranger), holder_box(stranger)],
            28_500,
        )
        .await
        .unwrap();
    let balance = readback::arc200_balance(&client, me, app_id, stranger)
        .await
        .unwrap();
    assert_eq!(balance, U256::from(25u64));
    let balance = readback::arc200_balance(&client, me, app_id, me)
        .await
        .unwrap();
    assert_eq!(balance, U256::from(975u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfunded_account_gets_insufficient_funds_before_anything_is_sent() {
    let (env, _dir) = environment().await;
    let app = env.backstage().await;
    let user = new_user(&env).await;
    // Enough for the account to exist, not for an ARC-200 deployment (0.457 Algo locked by
    // the app alone).
    assert_eq!(
        faucet(&env, &user, "algorand-devnet", Some("300000"))
            .await
            .0,
        StatusCode::OK
    );
    let algorand_draft = save_draft(
        &env,
        &user,
        json!({ "standard": "arc200-mintable", "network": "algorand-devnet", "params": {
            "name": "Broke", "symbol": "BRK", "initial_supply": "1" }}),
    )
    .await;
    let (code, details) = code_of(
        issue::deploy_draft(&app, &user.id, &algorand_draft)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::InsufficientFunds);
    assert_eq!(details["address"], user.algorand.as_str());
    assert_eq!(details["held"], "300000");
    // The account's own minimum balance, the app creation's fee and the 457,000 it locks, the
    // fund-and-bootstrap group's two fees and the 128,500 it gives the application.
    assert_eq!(
        details["needed"],
        (100_000 + 1_000 + 457_000 + 2_000 + 128_500).to_string(),
        "{details}"
    );
    let network = app.networks().get("algorand-devnet").unwrap();
    let client = AlgodClient::connect(network).await.unwrap();
    let account = client
        .account(&user.algorand.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(account.amount, 300_000, "nothing was sent");
    assert_eq!(account.total_created_apps, 0);

    // An EVM account with nothing in it.
    let evm_draft = save_draft(
        &env,
        &user,
        json!({ "standard": "erc20-preminted", "network": "evm-devnet", "params": {
            "name": "Broke", "symbol": "BRK", "total_supply": "1" }}),
    )
    .await;
    let (code, details) = code_of(
        issue::deploy_draft(&app, &user.id, &evm_draft)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::InsufficientFunds);
    assert_eq!(details["address"], user.evm.as_str());
    assert_eq!(details["held"], "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_chain_or_no_node_at_all_gets_its_code() {
    let (env, _dir) = environment().await;
    let app = env.backstage().await;
    let user = new_user(&env).await;
    let cases = [
        (
            "algorand-other-genesis",
            "asa-ft",
            ErrorCode::NetworkMismatch,
        ),
        (
            "evm-other-chain",
            "erc20-preminted",
            ErrorCode::NetworkMismatch,
        ),
        ("algorand-down", "asa-ft", ErrorCode::NetworkUnreachable),
        ("evm-down", "erc20-preminted", ErrorCode::NetworkUnreachable),
    ];
    for (network, standard, expected) in cases {
        let params = if standard == "asa-ft" {
            json!({ "asset_name": "Gold", "unit_name": "GLD", "total": "10", "freeze": user.algorand })
        } else {
            json!({ "name": "Gold", "symbol": "GLD", "total_supply": "10" })
        };
        let draft_id = save_draft(
            &env,
            &user,
            json!({ "standard": standard, "network": network, "params": params }),
        )
        .await;
        let (code, details) = code_of(
            issue::deploy_draft(&app, &user.id, &draft_id)
                .await
                .unwrap_err(),
        );
        assert_eq!(code, expected, "{network}: {details}");
        assert_eq!(details["network"], network);
        assert_eq!(
            expected.retryable(),
            expected == ErrorCode::NetworkUnreachable
        );
    }
}

#[tokio::test]
async fn networks_are_listed_with_live_health() {
    let (env, _dir) = environment().await;
    let (status, _, body) = env.call("GET", "/v1/networks", None, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let health_of = |id: &str| {
        body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|network| network["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {body}"))["health"]
            .clone()
    };
    for (id, status) in [
        ("algorand-devnet", "ok"),
        ("evm-devnet", "ok"),
        ("algorand-other-genesis", "mismatch"),
        ("evm-other-chain", "mismatch"),
        ("algorand-down", "unreachable"),
        ("evm-down", "unreachable"),
    ] {
        let health = health_of(id);
        assert_eq!(health["status"], status, "{id}: {health}");
        assert!(health["checked_at"].as_u64().unwrap() > 0);
        assert_eq!(
            health.get("detail").is_some(),
            status != "ok",
            "{id}: {health}"
        );
    }
}

#[tokio::test]
async fn the_faucet_pays_only_on_devnets_and_within_limits() {
    let (env, _dir) = environment().await;
    let user = new_user(&env).await;
    let (status, body) = faucet(&env, &user, "algorand-other-genesis", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "FAUCET_UNAVAILABLE");
    let (status, body) = faucet(&env, &user, "nowhere", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "NETWORK_NOT_CONFIGURED");
    for amount in ["0", "1000000001", "-5", "lots"] {
        let (status, body) = faucet(&env, &user, "algorand-devnet", Some(amount)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{amount}: {body}");
        assert_eq!(body["error"]["code"], "MALFORMED_REQUEST");
    }
    let (status, body) = env
        .post(
            "/v1/dev/faucet",
            None,
            json!({ "network": "algorand-devnet" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
