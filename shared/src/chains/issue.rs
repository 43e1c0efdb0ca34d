//! Issuing a token from a user's own account: the draft's token built stage by stage, each
//! stage signed with the user's ARC-76 key (opened through the key vault for that signature
//! only), sent, and confirmed; then what was created, with its transactions and explorer links.
//!
//! This runs a whole deployment in one call. The deployment pipeline runs the same pieces
//! (`TokenSpec`, the stage builders, the signer, the clients) one queue step at a time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::algorand::algod::AlgodClient;
use super::algorand::deploy::{self as algorand_deploy, AlgorandToken, BuildError, Stage};
use super::algorand::transaction::{SignedTransaction, Transaction, encode_signed_group};
use super::error::ChainError;
use super::evm::{EvmClient, PreparedTransaction, SignedTransaction as EvmSigned};
use super::token::{Deployer, SpecError, TokenSpec};
use crate::accounts::{AccountError, service as accounts};
use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::audit::{Origin, Subject};
use crate::drafts::service::{self as drafts, DraftError};
use crate::drafts::standards;
use crate::networks::{ChainFamily, Network};

/// How long a deployment waits for one stage to be confirmed.
pub const CONFIRMATION_TIMEOUT: Duration = Duration::from_secs(120);
/// The one stage of an EVM deployment: the contract creation.
pub const EVM_STAGE: &str = "deploy_contract";
/// Rounds an Algorand transaction may take to confirm: its whole validity window.
const ALGORAND_MAX_ROUNDS: u64 = 1_000;

/// Why an issuance did not complete.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Accounts(#[from] AccountError),
    #[error(transparent)]
    Drafts(#[from] DraftError),
    #[error("the draft is not valid; fix its errors first")]
    DraftInvalid,
    #[error("the draft's network {0:?} is not configured")]
    UnknownNetwork(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("cannot build the transactions: {0}")]
    Build(#[from] BuildError),
}

impl From<algorand_deploy::PreflightError> for IssueError {
    fn from(error: algorand_deploy::PreflightError) -> Self {
        match error {
            algorand_deploy::PreflightError::Chain(error) => error.into(),
            algorand_deploy::PreflightError::Build(error) => error.into(),
        }
    }
}

impl From<IssueError> for ApiError {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::Chain(error) => error.into(),
            IssueError::Accounts(error) => error.into(),
            IssueError::Drafts(error) => error.into(),
            IssueError::DraftInvalid => ApiError::new(ErrorCode::DraftInvalid),
            IssueError::UnknownNetwork(network) => ChainError::NetworkNotConfigured {
                network,
                family: "any",
            }
            .into(),
            // The validator accepted what the builders refuse: a bug, logged as one.
            IssueError::Spec(_) | IssueError::Build(_) => {
                tracing::error!(error = %error, "a valid draft cannot be deployed");
                ApiError::new(ErrorCode::Internal)
            }
        }
    }
}

/// One transaction a deployment sent, confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentTransaction {
    /// The stage it belongs to (`create_asset`, `deploy_contract`, ...).
    pub stage: String,
    pub id: String,
    /// The round (Algorand) or block (EVM) it was confirmed in.
    pub confirmed_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explorer_url: Option<String>,
}

/// What a deployment created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeployedToken {
    pub network: String,
    pub standard: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<u64>,
    /// The application's account (Algorand), which holds its Algo and boxes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_address: Option<String>,
    pub transactions: Vec<SentTransaction>,
}

/// Signs for one user: opens their seed through the key vault for each signature and drops
/// it at once.
#[derive(Debug)]
pub struct UserSigner<'a> {
    app: &'a App,
    user_id: &'a str,
    /// What the signatures are for (a deployment, a draft) and why, recorded in the audit
    /// chain with each opening of the key, by `origin`.
    subject: Subject,
    purpose: String,
    origin: Origin,
}

impl<'a> UserSigner<'a> {
    pub fn new(
        app: &'a App,
        user_id: &'a str,
        subject: Subject,
        purpose: impl Into<String>,
        origin: Origin,
    ) -> Self {
        Self {
            app,
            user_id,
            subject,
            purpose: purpose.into(),
            origin,
        }
    }

    async fn open_seed(&self, stage: &str) -> Result<accounts::SigningSeed, AccountError> {
        let purpose = format!("{}: {stage}", self.purpose);
        accounts::open_signing_seed(
            self.app,
            self.user_id,
            self.subject.clone(),
            &purpose,
            &self.origin,
        )
        .await
    }

    pub async fn sign_algorand(
        &self,
        group: &[Transaction],
        stage: Stage,
    ) -> Result<Vec<SignedTransaction>, AccountError> {
        let seed = self.open_seed(stage.name()).await?;
        let key = seed.algorand_key();
        Ok(group.iter().map(|txn| txn.sign(&key)).collect())
    }

    pub async fn sign_evm(&self, prepared: &PreparedTransaction) -> Result<EvmSigned, IssueError> {
        let seed = self.open_seed(EVM_STAGE).await?;
        let key = seed.evm_key()?;
        Ok(prepared.sign(&key)?)
    }
}

/// The note every Algorand transaction of a deployment carries: it names the deployment, and
/// makes its transactions distinct from any other deployment's.
pub fn deployment_note(deployment: &str) -> Vec<u8> {
    format!("walletless:{deployment}").into_bytes()
}

/// The user's own accounts as the deployer.
pub async fn deployer_of(app: &App, user_id: &str) -> Result<Deployer, IssueError> {
    let profile = accounts::profile(app, user_id).await?;
    let malformed = |what: &str| {
        IssueError::Accounts(AccountError::Internal(format!(
            "the stored {what} address does not parse"
        )))
    };
    Ok(Deployer {
        algorand: profile
            .algorand_address
            .parse()
            .map_err(|_| malformed("Algorand"))?,
        evm: profile.evm_address.parse().map_err(|_| malformed("EVM"))?,
    })
}

/// A draft ready to deploy: validated again, its network and token resolved.
#[derive(Debug, Clone)]
pub struct PreparedDraft {
    pub draft_id: String,
    pub standard: &'static standards::Standard,
    pub network: Network,
    pub spec: TokenSpec,
    pub deployer: Deployer,
}

/// The token the user's draft `draft_id` describes, once it validates.
pub async fn prepare_draft(
    app: &App,
    user_id: &str,
    draft_id: &str,
) -> Result<PreparedDraft, IssueError> {
    let draft = drafts::get(app, user_id, draft_id).await?;
    prepare_snapshot(app, user_id, draft_id, &draft.draft).await
}

/// The token `draft` (the content of the user's draft `draft_id`, possibly as it was some
/// time ago) describes, once it validates. Validated again: the registry or the user's
/// context may have changed since it was saved.
pub async fn prepare_snapshot(
    app: &App,
    user_id: &str,
    draft_id: &str,
    draft: &serde_json::Value,
) -> Result<PreparedDraft, IssueError> {
    let report = drafts::check(app, user_id, draft).await?;
    let resolved = report
        .resolved
        .filter(|_| report.valid)
        .ok_or(IssueError::DraftInvalid)?;
    let standard = draft["standard"]
        .as_str()
        .and_then(standards::find)
        .ok_or(IssueError::DraftInvalid)?;
    let network_id = draft["network"].as_str().unwrap_or_default();
    let network = app
        .networks()
        .get(network_id)
        .ok_or_else(|| IssueError::UnknownNetwork(network_id.to_string()))?
        .clone();
    let deployer = deployer_of(app, user_id).await?;
    let spec = TokenSpec::from_resolved(standard, &resolved, &deployer)?;
    Ok(PreparedDraft {
        draft_id: draft_id.to_string(),
        standard,
        network,
        spec,
        deployer,
    })
}

/// Deploys the user's draft `draft_id` from their own account, once it validates.
pub async fn deploy_draft(
    app: &App,
    user_id: &str,
    draft_id: &str,
) -> Result<DeployedToken, IssueError> {
    let prepared = prepare_draft(app, user_id, draft_id).await?;
    let signer = UserSigner::new(
        app,
        user_id,
        Subject::new("draft", draft_id),
        "direct deployment",
        Origin::system("issue"),
    );
    let mut deployed = deploy(
        &prepared.network,
        &prepared.spec,
        &prepared.deployer,
        &signer,
    )
    .await?;
    deployed.standard = prepared.standard.id.to_string();
    Ok(deployed)
}

/// Deploys `spec` on `network` from `deployer`'s account, signing with `signer`.
pub async fn deploy(
    network: &Network,
    spec: &TokenSpec,
    deployer: &Deployer,
    signer: &UserSigner<'_>,
) -> Result<DeployedToken, IssueError> {
    match (spec, network.family()) {
        (TokenSpec::Algorand(token), ChainFamily::Algorand) => {
            let client = AlgodClient::connect(network).await?;
            deploy_algorand(&client, network, token, deployer, signer).await
        }
        (TokenSpec::Evm(erc20), ChainFamily::Evm) => {
            let client = EvmClient::connect(network).await?;
            let prepared = client
                .prepare_deployment(deployer.evm, erc20.creation_code())
                .await?;
            let signed = signer.sign_evm(&prepared).await?;
            client.submit(&signed).await?;
            let receipt = client
                .wait_for_receipt(signed.hash, network.confirmations, CONFIRMATION_TIMEOUT)
                .await?;
            let contract = receipt
                .contract_address
                .ok_or_else(|| ChainError::Malformed {
                    network: network.id.clone(),
                    reason: format!("the receipt of {} names no contract", signed.hash),
                })?;
            let id = signed.hash.to_string();
            Ok(DeployedToken {
                network: network.id.clone(),
                standard: String::new(),
                asset_id: None,
                application_id: None,
                application_address: None,
                contract_address: Some(contract.to_checksum(None)),
                transactions: vec![SentTransaction {
                    stage: EVM_STAGE.to_string(),
                    explorer_url: network.explorer_link(&id),
                    id,
                    confirmed_in: receipt.block_number,
                }],
            })
        }
        (_, family) => Err(ChainError::NetworkNotConfigured {
            network: network.id.clone(),
            family: match family {
                ChainFamily::Algorand => "EVM",
                ChainFamily::Evm => "Algorand",
            },
        }
        .into()),
    }
}

async fn deploy_algorand(
    client: &AlgodClient,
    network: &Network,
    token: &AlgorandToken,
    deployer: &Deployer,
    signer: &UserSigner<'_>,
) -> Result<DeployedToken, IssueError> {
    let note = deployment_note(&signer.purpose);
    let note = note.as_slice();
    let mut deployed = DeployedToken {
        network: network.id.clone(),
        standard: String::new(),
        asset_id: None,
        application_id: None,
        application_address: None,
        contract_address: None,
        transactions: Vec::new(),
    };
    for (index, stage) in token.stages(deployer.algorand).into_iter().enumerate() {
        // Checked before every stage: what is left must be covered, so a deployment never
        // stops half-way for want of funds the first check could have seen.
        let params =
            algorand_deploy::preflight(client, token, deployer.algorand, index, note).await?;
        let group = token.build(
            stage,
            deployer.algorand,
            &params,
            deployed.application_id,
            note,
        )?;
        let signed = signer.sign_algorand(&group, stage).await?;
        client.submit(&encode_signed_group(&signed)).await?;
        let mut confirmed_round = 0;
        for txn in &signed {
            let id = txn.id();
            let confirmed = client
                .wait_for_confirmation(&id, ALGORAND_MAX_ROUNDS, CONFIRMATION_TIMEOUT)
                .await?;
            confirmed_round = confirmed.confirmed_round.unwrap_or(confirmed_round);
            if let Some(asset_id) = confirmed.asset_index {
                deployed.asset_id = Some(asset_id);
            }
            if let Some(app_id) = confirmed.application_index {
                deployed.application_id = Some(app_id);
                deployed.application_address =
                    Some(super::algorand::transaction::Address::of_application(app_id).to_string());
            }
            deployed.transactions.push(SentTransaction {
                stage: stage.name().to_string(),
                explorer_url: network.explorer_link(&id),
                id,
                confirmed_in: confirmed_round,
            });
        }
        let created = match stage {
            Stage::CreateAsset => deployed.asset_id.is_some(),
            Stage::CreateApplication => deployed.application_id.is_some(),
            Stage::FundAndBootstrap | Stage::Initialise => true,
        };
        if !created {
            return Err(ChainError::Malformed {
                network: network.id.clone(),
                reason: format!(
                    "stage {} was confirmed but names nothing created",
                    stage.name()
                ),
            }
            .into());
        }
    }
    Ok(deployed)
}
