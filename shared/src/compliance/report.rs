//! Compliance reports: the ruleset run over one version of a draft, stored immutably, and
//! the deployment gate that reads them.
//!
//! A report is tied to the draft version it was run on: editing the draft makes it stale and
//! the gate closes until a new report is run.

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::profile::{self, ComplianceProfile};
use super::rules::{self, DISCLAIMER, NetworkScope, RULES, RULESET_VERSION, Subject, Verdict};
use crate::accounts::rfc3339;
use crate::api::{ApiError, ErrorCode};
use crate::app::App;
use crate::audit::{self, Origin, Subject as AuditSubject, types};
use crate::drafts::service::{self as drafts, DraftError};
use crate::ports::records::{NewRecord, Order, Query, RecordKey, RecordsError, Write, now_unix};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ComplianceStatus)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    NotApplicable,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ComplianceRuleResult)]
pub struct RuleResult {
    pub rule_id: &'static str,
    pub status: Status,
    pub blocking: bool,
    pub message: String,
    pub remediation: &'static str,
    pub reference: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ComplianceSummary)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub not_applicable: usize,
    /// Blocking failures: while any remain the gate is closed.
    pub blocking_failures: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    #[error("the draft has validation errors; fix them before checking compliance")]
    DraftInvalid,
    #[error("no compliance report for this draft yet")]
    NoReport,
    #[error("compliance gate closed: {}", reasons.join("; "))]
    GateClosed { reasons: Vec<String> },
    #[error(transparent)]
    Draft(#[from] DraftError),
    #[error(transparent)]
    Records(#[from] RecordsError),
}

impl From<ComplianceError> for ApiError {
    fn from(error: ComplianceError) -> Self {
        match error {
            ComplianceError::DraftInvalid => ApiError::new(ErrorCode::DraftInvalid),
            ComplianceError::NoReport => ApiError::new(ErrorCode::ComplianceReportNotFound),
            ComplianceError::GateClosed { reasons } => {
                ApiError::new(ErrorCode::ComplianceGateClosed)
                    .with_details(json!({ "reasons": reasons }))
            }
            ComplianceError::Draft(error) => error.into(),
            ComplianceError::Records(error) => error.into(),
        }
    }
}

/// Run every rule over a subject. Pure: the same subject always gives the same results.
pub fn run_rules(subject: &Subject) -> Vec<RuleResult> {
    let mut results: Vec<RuleResult> = Vec::with_capacity(RULES.len());
    for rule in RULES {
        let verdict = match rule.networks {
            NetworkScope::Mainnets if subject.testnet => {
                Verdict::NotApplicable("the network is a test network")
            }
            _ if rule.id == "mainnet-all-blocking-passed" => {
                if !subject
                    .profile
                    .and_then(|p| p.classification)
                    .is_some_and(|c| c.is_regulated())
                {
                    Verdict::NotApplicable("the token is not declared regulated")
                } else {
                    let failing: Vec<&str> = results
                        .iter()
                        .filter(|result| result.blocking && result.status == Status::Fail)
                        .map(|result| result.rule_id)
                        .collect();
                    if failing.is_empty() {
                        Verdict::Pass("every blocking rule passed".into())
                    } else {
                        Verdict::Fail(format!("blocking rules failed: {}", failing.join(", ")))
                    }
                }
            }
            _ => rules::evaluate(rule, subject),
        };
        let (status, message) = match verdict {
            Verdict::NotApplicable(why) => (Status::NotApplicable, why.to_string()),
            Verdict::Pass(message) => (Status::Pass, message),
            Verdict::Fail(message)
                if rule.blocking && !(rule.relaxed_on_testnets && subject.testnet) =>
            {
                (Status::Fail, message)
            }
            Verdict::Fail(message) if rule.blocking => (
                Status::Warn,
                format!("{message} (a warning on test networks)"),
            ),
            Verdict::Fail(message) => (Status::Warn, message),
        };
        results.push(RuleResult {
            rule_id: rule.id,
            status,
            blocking: rule.blocking,
            message,
            remediation: rule.remediation,
            reference: rule.reference,
        });
    }
    results
}

pub fn summarise(results: &[RuleResult]) -> Summary {
    let count = |status: Status| results.iter().filter(|r| r.status == status).count();
    Summary {
        pass: count(Status::Pass),
        warn: count(Status::Warn),
        fail: count(Status::Fail),
        not_applicable: count(Status::NotApplicable),
        blocking_failures: results
            .iter()
            .filter(|r| r.blocking && r.status == Status::Fail)
            .count(),
    }
}

/// SHA-256 (hex) of the report's canonical JSON: its content without the report id and time,
/// with object keys sorted, so the same checks over the same draft version always give the
/// same checksum and any changed result changes it.
pub fn checksum(content: &Value) -> String {
    // serde_json's maps are sorted by key (no preserve_order feature), which makes the
    // serialisation canonical.
    let canonical = serde_json::to_vec(content).unwrap_or_default();
    hex::encode(Sha256::digest(canonical))
}

fn reports_partition(user_id: &str, draft_id: &str) -> String {
    format!("user#{user_id}#compliance#{draft_id}")
}

/// Run the checks on a draft's current version and store the report (immutable).
pub async fn run(
    app: &App,
    user_id: &str,
    draft_id: &str,
    origin: &Origin,
) -> Result<Value, ComplianceError> {
    let draft = drafts::get(app, user_id, draft_id).await?;
    if draft.validation["valid"] != Value::Bool(true) {
        return Err(ComplianceError::DraftInvalid);
    }
    let standard = draft.draft["standard"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let network_id = draft.draft["network"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let testnet = app.networks().get(&network_id).is_none_or(|n| n.testnet);
    let profile: Option<ComplianceProfile> = match draft.draft.get("compliance") {
        None | Some(Value::Null) => None,
        // A valid draft has a well-formed profile (the validator checked it).
        Some(value) => profile::parse(value).ok(),
    };
    let subject = Subject {
        standard: &standard,
        testnet,
        params: &draft.validation["resolved"],
        profile: profile.as_ref(),
    };
    let results = run_rules(&subject);
    let summary = summarise(&results);
    let content = json!({
        "draft_id": draft.id,
        "draft_version": draft.version,
        "ruleset_version": RULESET_VERSION,
        "standard": standard,
        "network": network_id,
        "results": results,
        "summary": summary,
    });
    let checksum = checksum(&content);
    let report_id = ulid::Ulid::new().to_string();
    let mut report = content;
    report["report_id"] = json!(report_id);
    report["checksum"] = json!(checksum);
    report["created_at"] = json!(rfc3339(now_unix()));
    report["disclaimer"] = json!(DISCLAIMER);
    let event = origin.event(
        types::COMPLIANCE_REPORT,
        AuditSubject::new("draft", draft_id),
        json!({
            "report_id": report_id,
            "checksum": checksum,
            "draft_version": draft.version,
            "ruleset_version": RULESET_VERSION,
            "summary": report["summary"],
        }),
    );
    let stored = Write::Create(NewRecord::new(
        RecordKey::new(reports_partition(user_id, draft_id), &report_id),
        report.clone(),
    ));
    audit::transact(app.records(), user_id, vec![stored], vec![event]).await?;
    tracing::info!(%draft_id, %report_id, blocking_failures = summary.blocking_failures, "compliance report stored");
    Ok(report)
}

/// The latest report of a draft, with whether it is stale and whether the gate is open.
pub async fn latest(app: &App, user_id: &str, draft_id: &str) -> Result<Value, ComplianceError> {
    let draft = drafts::get(app, user_id, draft_id).await?;
    let report = latest_report(app, user_id, draft_id)
        .await?
        .ok_or(ComplianceError::NoReport)?;
    let reasons = gate_reasons(&report, draft.version);
    Ok(json!({
        "report": report,
        "stale": report["draft_version"].as_u64() != Some(draft.version),
        "gate": { "open": reasons.is_empty(), "reasons": reasons },
    }))
}

async fn latest_report(
    app: &App,
    user_id: &str,
    draft_id: &str,
) -> Result<Option<Value>, ComplianceError> {
    let mut query = Query::partition(reports_partition(user_id, draft_id));
    query.order = Order::Descending;
    query.limit = 1;
    let page = app.records().query(&query).await?;
    Ok(page.records.into_iter().next().map(|record| record.body))
}

fn gate_reasons(report: &Value, current_version: u64) -> Vec<String> {
    let mut reasons = Vec::new();
    if report["draft_version"].as_u64() != Some(current_version) {
        reasons.push(format!(
            "the report is for version {} but the draft is at version {current_version}: run the checks again",
            report["draft_version"]
        ));
    }
    if let Some(results) = report["results"].as_array() {
        for result in results {
            if result["blocking"] == Value::Bool(true) && result["status"] == "fail" {
                reasons.push(format!(
                    "{} failed: {}",
                    result["rule_id"].as_str().unwrap_or_default(),
                    result["message"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    reasons
}

/// The deployment gate: open only when the latest report is for the draft's current version
/// and has no blocking failure (for the network the report was run for).
pub async fn gate(app: &App, user_id: &str, draft_id: &str) -> Result<(), ComplianceError> {
    let draft = drafts::get(app, user_id, draft_id).await?;
    let Some(report) = latest_report(app, user_id, draft_id).await? else {
        return Err(ComplianceError::GateClosed {
            reasons: vec!["no compliance report: run the checks first".into()],
        });
    };
    let reasons = gate_reasons(&report, draft.version);
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(ComplianceError::GateClosed { reasons })
    }
}

/// The ruleset as the API shows it.
pub fn ruleset() -> Value {
    json!({
        "ruleset_version": RULESET_VERSION,
        "disclaimer": DISCLAIMER,
        "rules": RULES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject_results(
        profile: &ComplianceProfile,
        standard: &str,
        params: Value,
        testnet: bool,
    ) -> Vec<RuleResult> {
        run_rules(&Subject {
            standard,
            testnet,
            params: &params,
            profile: Some(profile),
        })
    }

    #[test]
    fn the_checksum_is_stable_and_follows_every_result() {
        let profile: ComplianceProfile =
            profile::parse(&json!({ "classification": "security" })).unwrap();
        let params = json!({ "cap": "10" });
        let first = subject_results(&profile, "security-token", params.clone(), false);
        let again = subject_results(&profile, "security-token", params.clone(), false);
        let content = |results: &[RuleResult]| json!({ "draft_version": 1, "results": results });
        assert_eq!(checksum(&content(&first)), checksum(&content(&again)));
        assert_eq!(checksum(&content(&first)).len(), 64);
        for index in 0..first.len() {
            let mut changed = first.clone();
            changed[index].status = match changed[index].status {
                Status::Pass => Status::Fail,
                _ => Status::Pass,
            };
            assert_ne!(
                checksum(&content(&first)),
                checksum(&content(&changed)),
                "result {index}"
            );
        }
    }

    #[test]
    fn without_a_profile_every_rule_is_not_applicable() {
        let results = run_rules(&Subject {
            standard: "erc20-mintable",
            testnet: false,
            params: &json!({}),
            profile: None,
        });
        assert!(
            results.iter().all(|r| r.status == Status::NotApplicable),
            "{results:?}"
        );
        assert_eq!(summarise(&results).blocking_failures, 0);
    }
}
