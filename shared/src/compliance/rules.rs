//! The ruleset: versioned data (id, kind, title, reference, scope, whether it blocks, how to
//! fix it) and, per rule id, the check. `GET /v1/compliance/rules` and
//! `docs/compliance-rules.md` are generated from [`RULES`], so the documentation is the data
//! the code runs.

use serde::Serialize;
use serde_json::Value;

use super::profile::{Classification, ComplianceProfile, DisclosureKind};

/// Bumped whenever a rule is added, removed or changes meaning; every report names it.
pub const RULESET_VERSION: &str = "2026-11-29.1";

pub const DISCLAIMER: &str = "Compliance readiness checks compare a draft with the issuer's own \
    statements about its regulatory situation. They are not legal advice and do not establish \
    that an offering is lawful; consult qualified counsel.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ComplianceRuleKind)]
pub enum RuleKind {
    /// What a classification requires the profile to contain.
    Completeness,
    /// What the chosen standard can actually enforce on chain.
    Capability,
    /// What the target network requires.
    Network,
    /// Whether the profile's own statements fit together.
    Consistency,
}

/// The standards a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "standards", content = "ids")]
#[schema(as = ComplianceStandardScope)]
pub enum StandardScope {
    All,
    Only(&'static [&'static str]),
}

/// The networks a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ComplianceNetworkScope)]
pub enum NetworkScope {
    All,
    Mainnets,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ComplianceRule)]
pub struct Rule {
    pub id: &'static str,
    pub kind: RuleKind,
    pub title: &'static str,
    pub reference: &'static str,
    pub standards: StandardScope,
    pub networks: NetworkScope,
    /// A failure stops deployment.
    pub blocking: bool,
    /// On test networks a failure of this rule is only a warning.
    pub relaxed_on_testnets: bool,
    pub remediation: &'static str,
}

const ALL_STANDARDS: StandardScope = StandardScope::All;

pub static RULES: &[Rule] = &[
    Rule {
        id: "issuer-identified",
        kind: RuleKind::Completeness,
        title: "A regulated token names its issuer",
        reference: "MiCA art. 6(1)(a), art. 19, art. 51: issuer identification; securities laws alike",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: true,
        remediation: "Add compliance.issuer with the legal name and country (and LEI if it has one).",
    },
    Rule {
        id: "mica-white-paper",
        kind: RuleKind::Completeness,
        title: "A MiCA crypto-asset has a white paper",
        reference: "MiCA art. 6 (other crypto-assets), art. 19 (asset-referenced tokens), art. 51 (e-money tokens): crypto-asset white paper",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: true,
        remediation: "Add a disclosure of kind white_paper with its URL and SHA-256.",
    },
    Rule {
        id: "security-jurisdiction",
        kind: RuleKind::Completeness,
        title: "A security names where it is offered",
        reference: "Securities are offered under the law of named jurisdictions (e.g. Prospectus Regulation (EU) 2017/1129 art. 1)",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: true,
        remediation: "List the jurisdictions (ISO 3166-1 alpha-2) in compliance.jurisdictions.",
    },
    Rule {
        id: "security-prospectus",
        kind: RuleKind::Completeness,
        title: "A security has a prospectus or states its exemption",
        reference: "Prospectus Regulation (EU) 2017/1129 art. 3; exemptions in art. 1(4)",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: false,
        relaxed_on_testnets: false,
        remediation: "Add a disclosure of kind prospectus, or record the exemption relied on in regulatory_framework.",
    },
    Rule {
        id: "kyc-for-regulated",
        kind: RuleKind::Completeness,
        title: "Holders of securities, e-money and asset-referenced tokens are identified",
        reference: "Directive (EU) 2015/849 (AMLD) art. 13; FATF Recommendation 10: customer due diligence",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: true,
        remediation: "Set investor_rules.kyc_required to true and run KYC before whitelisting holders.",
    },
    Rule {
        id: "framework-named",
        kind: RuleKind::Completeness,
        title: "A regulated token names its regulatory framework",
        reference: "Record keeping: the basis of the offering must be stated (e.g. MiCA, Reg D 506(c))",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: false,
        relaxed_on_testnets: false,
        remediation: "Fill compliance.regulatory_framework.",
    },
    Rule {
        id: "whitelist-enforceable",
        kind: RuleKind::Capability,
        title: "Whitelist-only transfers need a standard that controls transfers",
        reference: "ERC-3643 / ARC-1400 practice: transfer restrictions must be enforced on chain",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Use security-token with whitelist_only, or an ASA created default-frozen with freeze and clawback addresses.",
    },
    Rule {
        id: "lockup-enforceable",
        kind: RuleKind::Capability,
        title: "A lock-up needs the security token",
        reference: "Lock-up periods (e.g. Rule 144 holding periods) must be enforced by the token contract",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Use the security-token standard, which enforces lock-ups on chain.",
    },
    Rule {
        id: "supply-cap-enforceable",
        kind: RuleKind::Capability,
        title: "Securities, e-money and asset-referenced tokens have a bounded supply",
        reference: "MiCA art. 36 (reserve of assets), art. 54: issuance must stay within what is backed",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Set a cap on the mintable standard, or use a fixed-supply standard.",
    },
    Rule {
        id: "security-clawback",
        kind: RuleKind::Capability,
        title: "A security can be recovered by its issuer",
        reference: "ERC-3643 forced transfer and recovery; court orders and lost-key recovery",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Use security-token (controller transfers) or an ASA with a clawback address.",
    },
    Rule {
        id: "mainnet-all-blocking-passed",
        kind: RuleKind::Network,
        title: "A regulated token goes to a main network only with every blocking rule passed",
        reference: "Issuance on a production network is an offering; test networks are not",
        standards: ALL_STANDARDS,
        networks: NetworkScope::Mainnets,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Fix every blocking failure above before deploying to a main network.",
    },
    Rule {
        id: "max-holders-needs-whitelist",
        kind: RuleKind::Consistency,
        title: "A maximum holder count needs whitelist-only transfers",
        reference: "Holder limits (e.g. Exchange Act §12(g)) can only be kept when transfers are controlled",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Set transfer_rules.whitelist_only, or remove investor_rules.max_holders.",
    },
    Rule {
        id: "countries-disjoint",
        kind: RuleKind::Consistency,
        title: "Allowed and blocked countries do not overlap",
        reference: "A country cannot be both allowed and blocked",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Remove each country from one of the two lists.",
    },
    Rule {
        id: "country-rules-need-whitelist",
        kind: RuleKind::Consistency,
        title: "Country rules are enforced only with whitelist-only transfers",
        reference: "Sanctions and offering restrictions must be enforced at transfer time",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: false,
        relaxed_on_testnets: false,
        remediation: "Set transfer_rules.whitelist_only so only checked holders can receive the token.",
    },
    Rule {
        id: "accredited-needs-kyc",
        kind: RuleKind::Consistency,
        title: "Accredited-only offerings identify their investors",
        reference: "Accredited or professional status (Reg D 506(c), MiFID II Annex II) is verified through KYC",
        standards: ALL_STANDARDS,
        networks: NetworkScope::All,
        blocking: true,
        relaxed_on_testnets: false,
        remediation: "Set investor_rules.kyc_required to true.",
    },
];

/// What a rule checks: the draft's standard, network and resolved parameters, and its profile.
#[derive(Debug)]
pub struct Subject<'a> {
    pub standard: &'a str,
    pub testnet: bool,
    /// The validator's resolved parameters (defaults applied).
    pub params: &'a Value,
    pub profile: Option<&'a ComplianceProfile>,
}

/// A rule's verdict before network relaxation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    NotApplicable(&'static str),
    Pass(String),
    Fail(String),
}

impl Subject<'_> {
    fn classification(&self) -> Option<Classification> {
        self.profile.and_then(|profile| profile.classification)
    }

    fn regulated(&self) -> bool {
        self.classification()
            .is_some_and(Classification::is_regulated)
    }

    fn param_bool(&self, name: &str) -> bool {
        self.params[name].as_bool().unwrap_or(false)
    }

    fn has_param(&self, name: &str) -> bool {
        !self.params[name].is_null()
    }

    fn whitelist_only(&self) -> bool {
        self.profile
            .and_then(|p| p.transfer_rules.as_ref())
            .is_some_and(|rules| rules.whitelist_only)
    }

    fn is_asa(&self) -> bool {
        self.standard.starts_with("asa-") || self.standard.starts_with("arc3-")
    }

    /// The token itself can restrict who receives it.
    fn controls_transfers(&self) -> bool {
        match self.standard {
            "security-token" => self.param_bool("whitelist_only"),
            _ if self.is_asa() => {
                self.param_bool("default_frozen")
                    && self.has_param("freeze")
                    && self.has_param("clawback")
            }
            _ => false,
        }
    }
}

/// Evaluate one rule (the mainnet rule is evaluated by the report from the others).
pub fn evaluate(rule: &Rule, subject: &Subject) -> Verdict {
    use Verdict::*;
    let profile = subject.profile;
    let classification = subject.classification();
    let investor = profile.and_then(|p| p.investor_rules.as_ref());
    let has_disclosure = |kind: DisclosureKind| {
        profile.is_some_and(|p| p.disclosures.iter().any(|d| d.kind == kind))
    };
    match rule.id {
        "issuer-identified" => {
            if !subject.regulated() {
                return NotApplicable("the token is not declared regulated");
            }
            match profile.and_then(|p| p.issuer.as_ref()) {
                Some(issuer) => Pass(format!("issuer {} ({})", issuer.legal_name, issuer.country)),
                None => Fail("a regulated token must name its issuer".into()),
            }
        }
        "mica-white-paper" => {
            if !classification.is_some_and(Classification::is_mica) {
                return NotApplicable("not a MiCA crypto-asset");
            }
            if has_disclosure(DisclosureKind::WhitePaper) {
                Pass("a white paper is referenced".into())
            } else {
                Fail("MiCA requires a crypto-asset white paper".into())
            }
        }
        "security-jurisdiction" => {
            if classification != Some(Classification::Security) {
                return NotApplicable("not a security");
            }
            if profile.is_some_and(|p| !p.jurisdictions.is_empty()) {
                Pass("offering jurisdictions are named".into())
            } else {
                Fail("a security must name the jurisdictions it is offered in".into())
            }
        }
        "security-prospectus" => {
            if classification != Some(Classification::Security) {
                return NotApplicable("not a security");
            }
            if has_disclosure(DisclosureKind::Prospectus) {
                Pass("a prospectus is referenced".into())
            } else {
                Fail(
                    "no prospectus is referenced; record the exemption relied on if there is one"
                        .into(),
                )
            }
        }
        "kyc-for-regulated" => {
            let needs = matches!(
                classification,
                Some(
                    Classification::Security
                        | Classification::EmoneyToken
                        | Classification::AssetReferencedToken
                )
            );
            if !needs {
                return NotApplicable("KYC is not required by the classification");
            }
            if investor.is_some_and(|rules| rules.kyc_required) {
                Pass("holders are identified".into())
            } else {
                Fail("holders of this token must be identified (KYC)".into())
            }
        }
        "framework-named" => {
            if !subject.regulated() {
                return NotApplicable("the token is not declared regulated");
            }
            match profile.and_then(|p| p.regulatory_framework.as_deref()) {
                Some(framework) => Pass(format!("framework: {framework}")),
                None => Fail("the regulatory framework is not named".into()),
            }
        }
        "whitelist-enforceable" => {
            if !subject.whitelist_only() {
                return NotApplicable("transfers are not whitelist-only");
            }
            if subject.controls_transfers() {
                Pass(format!(
                    "{} enforces the whitelist on chain",
                    subject.standard
                ))
            } else {
                Fail(format!(
                    "{} as configured cannot restrict who receives it",
                    subject.standard
                ))
            }
        }
        "lockup-enforceable" => {
            let lockup = profile
                .and_then(|p| p.transfer_rules.as_ref())
                .and_then(|rules| rules.lockup_until.as_deref());
            let Some(until) = lockup else {
                return NotApplicable("no lock-up");
            };
            if subject.standard == "security-token" {
                Pass(format!(
                    "the security token enforces the lock-up until {until}"
                ))
            } else {
                Fail(format!("{} cannot enforce a lock-up", subject.standard))
            }
        }
        "supply-cap-enforceable" => {
            let needs = matches!(
                classification,
                Some(
                    Classification::Security
                        | Classification::EmoneyToken
                        | Classification::AssetReferencedToken
                )
            );
            if !needs {
                return NotApplicable("no supply bound is required by the classification");
            }
            let mintable = matches!(
                subject.standard,
                "erc20-mintable" | "arc200-mintable" | "security-token"
            );
            if !mintable || subject.has_param("cap") {
                Pass("the supply is fixed or capped".into())
            } else {
                Fail(format!(
                    "{} without a cap can be minted without limit",
                    subject.standard
                ))
            }
        }
        "security-clawback" => {
            if classification != Some(Classification::Security) {
                return NotApplicable("not a security");
            }
            let recoverable = subject.standard == "security-token"
                || (subject.is_asa() && subject.has_param("clawback"));
            if recoverable {
                Pass("the issuer can recover tokens".into())
            } else {
                Fail(format!(
                    "{} as configured has no clawback",
                    subject.standard
                ))
            }
        }
        "max-holders-needs-whitelist" => {
            if investor.and_then(|rules| rules.max_holders).is_none() {
                return NotApplicable("no holder limit");
            }
            if subject.whitelist_only() {
                Pass("the holder limit is kept through the whitelist".into())
            } else {
                Fail("a holder limit cannot be kept without whitelist-only transfers".into())
            }
        }
        "countries-disjoint" => {
            let Some(rules) = investor
                .filter(|r| !r.allowed_countries.is_empty() && !r.blocked_countries.is_empty())
            else {
                return NotApplicable("not both allowed and blocked countries");
            };
            let both: Vec<&str> = rules
                .allowed_countries
                .iter()
                .filter(|country| rules.blocked_countries.contains(country))
                .map(String::as_str)
                .collect();
            if both.is_empty() {
                Pass("allowed and blocked countries are disjoint".into())
            } else {
                Fail(format!("both allowed and blocked: {}", both.join(", ")))
            }
        }
        "country-rules-need-whitelist" => {
            let has_country_rules = investor.is_some_and(|r| {
                !r.allowed_countries.is_empty() || !r.blocked_countries.is_empty()
            });
            if !has_country_rules {
                return NotApplicable("no country rules");
            }
            if subject.whitelist_only() {
                Pass("country rules are enforced through the whitelist".into())
            } else {
                Fail("country rules are not enforced without whitelist-only transfers".into())
            }
        }
        "accredited-needs-kyc" => {
            let Some(rules) = investor.filter(|r| r.accredited_only) else {
                return NotApplicable("not restricted to accredited investors");
            };
            if rules.kyc_required {
                Pass("accredited status is verified through KYC".into())
            } else {
                Fail("accredited-only offerings must verify investors (KYC)".into())
            }
        }
        // The mainnet rule depends on the others; the report evaluates it.
        _ => NotApplicable("evaluated from the other rules"),
    }
}

/// The ruleset as Markdown: the generated `docs/compliance-rules.md`.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("# Compliance rules\n\n");
    out.push_str(
        "<!-- Generated from shared/src/compliance/rules.rs; a test keeps it equal. -->\n\n",
    );
    out.push_str(&format!(
        "Ruleset version `{RULESET_VERSION}`.\n\n> {DISCLAIMER}\n\n"
    ));
    out.push_str("A rule that blocks stops deployment when it fails. On test networks, rules marked relaxed report a failure as a warning. Rules whose condition does not hold report `not_applicable`.\n\n");
    out.push_str("| id | kind | rule | reference | blocks | relaxed on testnets | networks | remediation |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for rule in RULES {
        let kind = serde_json::to_value(rule.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            rule.id,
            kind,
            rule.title,
            rule.reference,
            if rule.blocking { "yes" } else { "no" },
            if rule.relaxed_on_testnets {
                "yes"
            } else {
                "no"
            },
            match rule.networks {
                NetworkScope::All => "all",
                NetworkScope::Mainnets => "main networks",
            },
            rule.remediation,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_every_kind_is_present() {
        let mut ids = std::collections::HashSet::new();
        for rule in RULES {
            assert!(ids.insert(rule.id), "{}", rule.id);
        }
        for kind in [
            RuleKind::Completeness,
            RuleKind::Capability,
            RuleKind::Network,
            RuleKind::Consistency,
        ] {
            assert!(RULES.iter().any(|rule| rule.kind == kind), "{kind:?}");
        }
    }

    #[test]
    fn the_committed_documentation_is_the_ruleset() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compliance-rules.md");
        let generated = markdown();
        if std::env::var_os("WALLETLESS_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/compliance-rules.md is out of date: run WALLETLESS_UPDATE_DOCS=1 cargo test -p walletless compliance"
        );
    }
}
