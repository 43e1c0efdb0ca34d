//! The compliance profile a token draft may carry under `$.compliance`: who issues the token,
//! where it is offered, how it classifies itself and what restricts holders and transfers.
//!
//! Every part is optional so that an incomplete profile can still be stored; the rules engine
//! says what a given classification and jurisdiction still need. This module checks only
//! shape ([`parse`]) and values ([`check`]), reporting issues the way the draft validator does,
//! with JSON paths starting `$.compliance`.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::drafts::validate::{Issue, Severity};

/// Where the profile sits in a draft; every issue path starts here.
const ROOT: &str = "$.compliance";

pub const LEGAL_NAME_MAX_BYTES: usize = 200;
pub const REGULATORY_FRAMEWORK_MAX_BYTES: usize = 100;
pub const DISCLOSURE_URL_MAX_BYTES: usize = 512;
/// Accepted in `jurisdictions` only: an offer to the whole Union. It is not a country, so
/// an issuer's seat or an investor's residence must still be a real country code.
pub const EUROPEAN_UNION: &str = "EU";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, remote = "Self")]
pub struct ComplianceProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Issuer>,
    /// Where the token is offered: ISO 3166-1 alpha-2 codes, or `EU` for the whole Union.
    #[serde(default)]
    pub jurisdictions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investor_rules: Option<InvestorRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_rules: Option<TransferRules>,
    #[serde(default)]
    pub disclosures: Vec<Disclosure>,
    /// Free text naming the regime the issuer relies on, e.g. "MiCA" or "Reg D 506(c)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulatory_framework: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, remote = "Self")]
pub struct Issuer {
    pub legal_name: String,
    /// The issuer's seat, ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 17442 Legal Entity Identifier, when the issuer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lei: Option<String>,
}

/// The issuer's own classification of the token; the rules engine takes it at its word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// MiCA e-money token (EMT): references one official currency.
    EmoneyToken,
    /// MiCA asset-referenced token (ART): references other assets or a basket.
    AssetReferencedToken,
    /// MiCA crypto-asset that is neither an EMT nor an ART (Title II).
    OtherCryptoAsset,
    /// A financial instrument (transferable security) under securities law.
    Security,
    /// Gives access to the issuer's goods or services.
    UtilityToken,
    /// The issuer states the token falls outside any financial regulation.
    Unregulated,
}

impl Classification {
    /// Whether the classification puts the token under a financial regulator.
    ///
    /// `UtilityToken` counts as unregulated: it stands for a token claiming the utility
    /// exemption (e.g. MiCA Art. 4(3)(c), access to an existing good or service). A utility
    /// token offered under MiCA Title II with a white paper is `OtherCryptoAsset`, so no
    /// MiCA case is lost by treating the utility classification as outside regulation.
    pub fn is_regulated(self) -> bool {
        !matches!(self, Self::UtilityToken | Self::Unregulated)
    }

    /// The three kinds MiCA defines (EMT, ART, other crypto-asset).
    pub fn is_mica(self) -> bool {
        matches!(
            self,
            Self::EmoneyToken | Self::AssetReferencedToken | Self::OtherCryptoAsset
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, remote = "Self")]
pub struct InvestorRules {
    #[serde(default)]
    pub kyc_required: bool,
    /// Only accredited (US) or professional (EU) investors may hold the token.
    #[serde(default)]
    pub accredited_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_holders: Option<u32>,
    #[serde(default)]
    pub allowed_countries: Vec<String>,
    #[serde(default)]
    pub blocked_countries: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, remote = "Self")]
pub struct TransferRules {
    #[serde(default)]
    pub whitelist_only: bool,
    /// RFC 3339 full-date or date-time, kept as written so the profile round-trips exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockup_until: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, remote = "Self")]
pub struct Disclosure {
    pub kind: DisclosureKind,
    pub url: String,
    /// SHA-256 of the document, 64 hex digits, so readers can tell it has not changed.
    pub sha256: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureKind {
    WhitePaper,
    Prospectus,
    Other,
}

/// serde's derive also reads a struct from a JSON array of its fields in order, so
/// `"issuer": ["A", "DE"]` would pass. These impls accept only objects and hand the map to
/// the derived code, which `remote = "Self"` generates as inherent functions.
macro_rules! objects_only {
    ($($name:ident),+) => {$(
        impl<'de> Derived<'de> for $name {
            fn derived<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $name::deserialize(deserializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(ObjectOnly(PhantomData))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $name::serialize(self, serializer)
            }
        }
    )+};
}

objects_only!(
    ComplianceProfile,
    Issuer,
    InvestorRules,
    TransferRules,
    Disclosure
);

/// The derived deserializer of a `remote = "Self"` struct, callable generically.
trait Derived<'de>: Sized {
    fn derived<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

struct ObjectOnly<T>(PhantomData<T>);

impl<'de, T: Derived<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::derived(serde::de::value::MapAccessDeserializer::new(map))
    }
}

/// Read the `compliance` object of a draft. A shape error (wrong type, missing required
/// field, unknown field) is reported as one issue at its exact path.
pub fn parse(value: &Value) -> Result<ComplianceProfile, Vec<Issue>> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut path = ROOT.to_string();
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    path.push_str(&format!("[{index}]"));
                }
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => {
                    path.push('.');
                    path.push_str(key);
                }
                serde_path_to_error::Segment::Unknown => path.push_str(".?"),
            }
        }
        let message = error.into_inner().to_string();
        // serde reports these two by message only; the wording is serde's own and stable.
        let code = if message.starts_with("unknown field") {
            "unknown_field"
        } else {
            if let Some(field) = backticked_after(&message, "missing field ") {
                // Point at where the value belongs, not at the object that lacks it.
                path.push('.');
                path.push_str(field);
            }
            "invalid_profile"
        };
        vec![error_issue(path, code, message)]
    })
}

/// The name serde quotes in backticks right after `prefix`, e.g. "missing field `country`".
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

fn error_issue(path: String, code: &'static str, message: String) -> Issue {
    Issue {
        path,
        code,
        message,
        severity: Severity::Error,
    }
}

/// Check every value of a parsed profile; all problems are reported at once.
pub fn check(profile: &ComplianceProfile) -> Vec<Issue> {
    let mut issues = Issues(Vec::new());
    if let Some(issuer) = &profile.issuer {
        let at = format!("{ROOT}.issuer");
        issues.text(
            format!("{at}.legal_name"),
            &issuer.legal_name,
            LEGAL_NAME_MAX_BYTES,
        );
        issues.country(format!("{at}.country"), &issuer.country, false);
        if let Some(lei) = &issuer.lei
            && let Err(why) = check_lei(lei)
        {
            issues.push(
                format!("{at}.lei"),
                "invalid_lei",
                format!("Not a valid LEI: {why}."),
            );
        }
    }
    issues.countries(
        &format!("{ROOT}.jurisdictions"),
        &profile.jurisdictions,
        true,
    );
    if let Some(rules) = &profile.investor_rules {
        let at = format!("{ROOT}.investor_rules");
        if rules.max_holders == Some(0) {
            issues.push(
                format!("{at}.max_holders"),
                "out_of_range",
                "max_holders must be at least 1; leave it out for no limit.",
            );
        }
        issues.countries(
            &format!("{at}.allowed_countries"),
            &rules.allowed_countries,
            false,
        );
        issues.countries(
            &format!("{at}.blocked_countries"),
            &rules.blocked_countries,
            false,
        );
    }
    if let Some(lockup) = profile
        .transfer_rules
        .as_ref()
        .and_then(|rules| rules.lockup_until.as_deref())
        && !is_rfc3339_date_or_date_time(lockup)
    {
        issues.push(
            format!("{ROOT}.transfer_rules.lockup_until"),
            "invalid_date",
            "lockup_until must be an RFC 3339 date (2026-01-31) or date-time (2026-01-31T00:00:00Z).",
        );
    }
    let mut urls = HashSet::new();
    for (index, disclosure) in profile.disclosures.iter().enumerate() {
        let at = format!("{ROOT}.disclosures[{index}]");
        if issues.disclosure_url(format!("{at}.url"), &disclosure.url)
            && !urls.insert(disclosure.url.as_str())
        {
            issues.push(
                format!("{at}.url"),
                "duplicate",
                "This document is already disclosed; list each URL once.",
            );
        }
        if !is_sha256_hex(&disclosure.sha256) {
            issues.push(
                format!("{at}.sha256"),
                "invalid_hash",
                "sha256 is the document's SHA-256 as 64 hex digits.",
            );
        }
    }
    if let Some(framework) = &profile.regulatory_framework {
        issues.text(
            format!("{ROOT}.regulatory_framework"),
            framework,
            REGULATORY_FRAMEWORK_MAX_BYTES,
        );
    }
    issues.0
}

struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, path: String, code: &'static str, message: impl Into<String>) {
        self.0.push(error_issue(path, code, message.into()));
    }

    /// Names and free text: not blank, at most `max_bytes` in UTF-8, no control characters.
    /// A blank value is rejected because the rules engine reads presence as "stated".
    fn text(&mut self, path: String, text: &str, max_bytes: usize) {
        if text.trim().is_empty() {
            self.push(path, "too_short", "Must not be empty or blank.");
        } else if text.len() > max_bytes {
            self.push(
                path,
                "too_long",
                format!(
                    "Is {} bytes in UTF-8; at most {max_bytes} bytes are allowed.",
                    text.len()
                ),
            );
        } else if text.chars().any(char::is_control) {
            self.push(
                path,
                "control_characters",
                "Must not contain control characters.",
            );
        }
    }

    /// One country code; returns whether it is acceptable.
    fn country(&mut self, path: String, code: &str, eu_allowed: bool) -> bool {
        if is_country_code(code) || (eu_allowed && code == EUROPEAN_UNION) {
            return true;
        }
        let message = if code == EUROPEAN_UNION {
            "EU is accepted only in jurisdictions; give the member state.".to_string()
        } else if is_country_code(&code.to_ascii_uppercase()) {
            format!("{code:?}: country codes are upper case.")
        } else {
            format!("{code:?} is not an assigned ISO 3166-1 alpha-2 country code.")
        };
        self.push(path, "unknown_country", message);
        false
    }

    fn countries(&mut self, path: &str, codes: &[String], eu_allowed: bool) {
        let mut seen = HashSet::new();
        for (index, code) in codes.iter().enumerate() {
            let at = format!("{path}[{index}]");
            if self.country(at.clone(), code, eu_allowed) && !seen.insert(code.as_str()) {
                self.push(at, "duplicate", format!("{code} appears twice."));
            }
        }
    }

    /// Returns whether the URL is acceptable (so duplicates are only counted among those).
    fn disclosure_url(&mut self, path: String, text: &str) -> bool {
        if text.len() > DISCLOSURE_URL_MAX_BYTES {
            self.push(
                path,
                "too_long",
                format!(
                    "Is {} bytes; at most {DISCLOSURE_URL_MAX_BYTES} bytes are allowed.",
                    text.len()
                ),
            );
            return false;
        }
        match url::Url::parse(text) {
            Err(error) => {
                self.push(path, "invalid_url", format!("Not a URL: {error}."));
                false
            }
            Ok(url) if !matches!(url.scheme(), "https" | "ipfs") => {
                self.push(
                    path,
                    "url_scheme",
                    format!("The scheme must be https or ipfs, not {}.", url.scheme()),
                );
                false
            }
            // `ipfs://` alone parses, but names no content.
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                self.push(
                    path,
                    "invalid_url",
                    "The URL names no host or content identifier.",
                );
                false
            }
            Ok(_) => true,
        }
    }
}

/// Whether `code` is an officially assigned ISO 3166-1 alpha-2 code.
pub fn is_country_code(code: &str) -> bool {
    ISO_3166_ALPHA_2.binary_search(&code).is_ok()
}

/// ISO 17442: 20 characters of `[0-9A-Z]` whose last two are ISO 7064 MOD 97-10 check
/// digits over the whole code. The error says what is wrong, for the issue message.
pub fn check_lei(lei: &str) -> Result<(), &'static str> {
    if lei.len() != 20 {
        return Err("an LEI has exactly 20 characters");
    }
    if !lei
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err("an LEI has only digits and upper-case letters");
    }
    if !lei[18..].bytes().all(|b| b.is_ascii_digit()) {
        return Err("the last two characters are check digits");
    }
    // Computed check digits are 98 - (n mod 97), i.e. 02..=98; 00, 01 and 99 are congruent
    // to valid ones mod 97 but never issued.
    if matches!(&lei[18..], "00" | "01" | "99") {
        return Err("the check digits are out of range");
    }
    if mod97_10(lei) != 1 {
        return Err("the check digits do not match; check for a typo");
    }
    Ok(())
}

/// The number formed by replacing letters with A=10..Z=35, mod 97, folded a digit group at a
/// time so it never overflows. Expects only `[0-9A-Z]`.
fn mod97_10(code: &str) -> u32 {
    code.bytes().fold(0, |remainder, byte| {
        if byte.is_ascii_digit() {
            (remainder * 10 + u32::from(byte - b'0')) % 97
        } else {
            (remainder * 100 + u32::from(byte - b'A') + 10) % 97
        }
    })
}

/// RFC 3339 `full-date` (YYYY-MM-DD) or `date-time` with an offset.
fn is_rfc3339_date_or_date_time(text: &str) -> bool {
    if text.len() == 10 {
        // Checked by shape first: time's `[year]` would also accept a sign or other widths.
        let bytes = text.as_bytes();
        let shaped = bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
        let format = time::macros::format_description!("[year]-[month]-[day]");
        return shaped && time::Date::parse(text, format).is_ok();
    }
    OffsetDateTime::parse(text, &Rfc3339).is_ok()
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted for binary search (taken
/// from the Debian iso-codes 4.15 data). Reserved codes such as EU, UK or XK are not here.
const ISO_3166_ALPHA_2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// GLEIF's own LEI (Global Legal Entity Identifier Foundation, Basel), as published in
    /// the GLEIF register.
    const GLEIF_LEI: &str = "506700GE1G29325QX363";
    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn full() -> Value {
        json!({
            "issuer": {"legal_name": "Harbour Capital GmbH", "country": "DE", "lei": GLEIF_LEI},
            "jurisdictions": ["EU", "CH"],
            "classification": "asset_referenced_token",
            "investor_rules": {
                "kyc_required": true,
                "accredited_only": true,
                "max_holders": 150,
                "allowed_countries": ["DE", "FR", "CH"],
                "blocked_countries": ["KP", "IR"]
            },
            "transfer_rules": {"whitelist_only": true, "lockup_until": "2026-06-30"},
            "disclosures": [
                {"kind": "white_paper", "url": "https://example.com/wp.pdf", "sha256": HASH},
                {"kind": "prospectus", "url": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "sha256": HASH.to_uppercase()}
            ],
            "regulatory_framework": "MiCA"
        })
    }

    fn checked(value: Value) -> Vec<(String, &'static str)> {
        let profile = parse(&value).unwrap();
        check(&profile)
            .into_iter()
            .map(|issue| (issue.path, issue.code))
            .collect()
    }

    fn parse_error(value: Value) -> (String, &'static str) {
        let issues = parse(&value).unwrap_err();
        assert_eq!(issues.len(), 1, "{issues:?}");
        let issue = &issues[0];
        assert_eq!(issue.severity, Severity::Error);
        (issue.path.clone(), issue.code)
    }

    fn at(path: &str, code: &'static str) -> Vec<(String, &'static str)> {
        vec![(path.to_string(), code)]
    }

    #[test]
    fn a_complete_profile_parses_checks_clean_and_round_trips() {
        let profile = parse(&full()).unwrap();
        assert!(check(&profile).is_empty(), "{:?}", check(&profile));
        assert_eq!(
            profile.classification,
            Some(Classification::AssetReferencedToken)
        );
        assert_eq!(profile.disclosures[0].kind, DisclosureKind::WhitePaper);
        assert_eq!(
            profile.investor_rules.as_ref().unwrap().max_holders,
            Some(150)
        );
        let written = serde_json::to_value(&profile).unwrap();
        assert_eq!(written, full());
        assert_eq!(parse(&written).unwrap(), profile);
    }

    #[test]
    fn an_empty_profile_is_storable() {
        let profile = parse(&json!({})).unwrap();
        assert_eq!(profile, ComplianceProfile::default());
        assert!(check(&profile).is_empty());
        let rules = parse(&json!({"investor_rules": {}, "transfer_rules": {}})).unwrap();
        assert_eq!(rules.investor_rules, Some(InvestorRules::default()));
        assert_eq!(rules.transfer_rules, Some(TransferRules::default()));
        assert_eq!(
            serde_json::to_value(&rules).unwrap(),
            json!({
                "jurisdictions": [], "disclosures": [],
                "investor_rules": {"kyc_required": false, "accredited_only": false, "allowed_countries": [], "blocked_countries": []},
                "transfer_rules": {"whitelist_only": false}
            })
        );
    }

    #[test]
    fn every_classification_has_its_wire_name_and_flags() {
        let cases = [
            ("emoney_token", Classification::EmoneyToken, true, true),
            (
                "asset_referenced_token",
                Classification::AssetReferencedToken,
                true,
                true,
            ),
            (
                "other_crypto_asset",
                Classification::OtherCryptoAsset,
                true,
                true,
            ),
            ("security", Classification::Security, true, false),
            ("utility_token", Classification::UtilityToken, false, false),
            ("unregulated", Classification::Unregulated, false, false),
        ];
        for (wire, classification, regulated, mica) in cases {
            let profile = parse(&json!({"classification": wire})).unwrap();
            assert_eq!(profile.classification, Some(classification));
            assert_eq!(serde_json::to_value(classification).unwrap(), json!(wire));
            assert_eq!(classification.is_regulated(), regulated, "{wire}");
            assert_eq!(classification.is_mica(), mica, "{wire}");
        }
        for (wire, kind) in [
            ("white_paper", DisclosureKind::WhitePaper),
            ("prospectus", DisclosureKind::Prospectus),
            ("other", DisclosureKind::Other),
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(wire));
        }
    }

    #[test]
    fn unknown_fields_are_reported_at_their_exact_path() {
        assert_eq!(
            parse_error(json!({"colour": "red"})),
            ("$.compliance.colour".into(), "unknown_field")
        );
        assert_eq!(
            parse_error(json!({"issuer": {"legal_name": "A", "country": "DE", "vat": "x"}})),
            ("$.compliance.issuer.vat".into(), "unknown_field")
        );
        let mut draft = full();
        draft["disclosures"][1]["title"] = json!("Prospectus");
        assert_eq!(
            parse_error(draft),
            ("$.compliance.disclosures[1].title".into(), "unknown_field")
        );
    }

    #[test]
    fn shape_errors_are_reported_at_their_exact_path() {
        assert_eq!(
            parse_error(json!([])),
            ("$.compliance".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"jurisdictions": ["DE", 7]})),
            ("$.compliance.jurisdictions[1]".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"investor_rules": {"max_holders": -1}})),
            (
                "$.compliance.investor_rules.max_holders".into(),
                "invalid_profile"
            )
        );
        assert_eq!(
            parse_error(json!({"investor_rules": {"kyc_required": "yes"}})),
            (
                "$.compliance.investor_rules.kyc_required".into(),
                "invalid_profile"
            )
        );
        assert_eq!(
            parse_error(json!({"classification": "stablecoin"})),
            ("$.compliance.classification".into(), "invalid_profile")
        );
        let mut draft = full();
        draft["disclosures"][0]["kind"] = json!("brochure");
        assert_eq!(
            parse_error(draft),
            ("$.compliance.disclosures[0].kind".into(), "invalid_profile")
        );
    }

    #[test]
    fn structs_are_objects_not_arrays() {
        assert_eq!(
            parse_error(json!(["A", "DE"])),
            ("$.compliance".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"issuer": ["Harbour Capital GmbH", "DE"]})),
            ("$.compliance.issuer".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"investor_rules": [true]})),
            ("$.compliance.investor_rules".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"transfer_rules": []})),
            ("$.compliance.transfer_rules".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"disclosures": [["other", "https://a.example", HASH]]})),
            ("$.compliance.disclosures[0]".into(), "invalid_profile")
        );
        // null still means "not stated".
        let nulls = json!({"issuer": null, "investor_rules": null, "transfer_rules": null});
        assert_eq!(parse(&nulls).unwrap(), ComplianceProfile::default());
    }

    #[test]
    fn a_missing_required_field_points_at_where_it_belongs() {
        assert_eq!(
            parse_error(json!({"issuer": {"legal_name": "A"}})),
            ("$.compliance.issuer.country".into(), "invalid_profile")
        );
        assert_eq!(
            parse_error(json!({"disclosures": [{"kind": "other", "url": "https://a.example"}]})),
            (
                "$.compliance.disclosures[0].sha256".into(),
                "invalid_profile"
            )
        );
    }

    #[test]
    fn gleif_lei_check_digits() {
        // By hand: with G=16, E=14, Q=26, X=33 the LEI reads 5067001614116293252633363.
        // Long division, carrying the remainder into the next 7-digit chunk:
        // 5067001 mod 97 = 12 (97 * 52237 = 5066989); 126141162 mod 97 = 34;
        // 349325263 mod 97 = 36; 363363 mod 97 = 1 (97 * 3746 = 363362). With u128:
        let number: u128 = "5067001614116293252633363".parse().unwrap();
        assert_eq!(number % 97, 1);
        assert_eq!(mod97_10("5067001614116293252633363"), 1);
        assert_eq!(mod97_10(GLEIF_LEI), 1);
        assert_eq!(check_lei(GLEIF_LEI), Ok(()));
        // The check digits are what ISO 7064 computes: 98 - (body * 100 mod 97).
        let body = mod97_10(&format!("{}00", &GLEIF_LEI[..18]));
        assert_eq!(98 - body, 63);
    }

    #[test]
    fn a_one_character_mutation_of_an_lei_fails() {
        // GE1G -> GE1H: one letter changed in the entity part.
        let mutated = GLEIF_LEI.replace("GE1G", "GE1H");
        assert_eq!(mutated.len(), 20);
        assert!(check_lei(&mutated).is_err());
        // MOD 97-10 catches every substitution of a digit by a digit or a letter by a letter
        // (the number changes by k * 10^n with 0 < |k| < 97, and 97 is prime). A letter for
        // a digit changes the length of the expanded number, so it can slip through: E -> 5
        // here is a real example.
        assert_eq!(check_lei("506700G51G29325QX363"), Ok(()));
        for index in 0..20 {
            let original = GLEIF_LEI.as_bytes()[index];
            let same_class: Vec<u8> = if original.is_ascii_digit() {
                (b'0'..=b'9').collect()
            } else {
                (b'A'..=b'Z').collect()
            };
            for replacement in same_class.into_iter().filter(|b| *b != original) {
                let mut bytes = GLEIF_LEI.as_bytes().to_vec();
                bytes[index] = replacement;
                let text = String::from_utf8(bytes).unwrap();
                assert!(check_lei(&text).is_err(), "{text}");
            }
        }
    }

    #[test]
    fn invalid_leis_are_reported() {
        for lei in [
            "506700GE1G29325QX36",   // 19 characters
            "506700GE1G29325QX3633", // 21 characters
            "506700ge1g29325qx363",  // lower case
            "506700GE1G29325QX3-3",  // punctuation
            "506700GE1G29325QX3A3",  // letter in the check digits
            "506700GE1G29325QX364",  // wrong check digits
            "506700GE1G29325QX3ÉÉ",  // non-ASCII
        ] {
            assert!(check_lei(lei).is_err(), "{lei}");
            let mut draft = full();
            draft["issuer"]["lei"] = json!(lei);
            assert_eq!(
                checked(draft),
                at("$.compliance.issuer.lei", "invalid_lei"),
                "{lei}"
            );
        }
    }

    #[test]
    fn never_issued_check_digits_are_rejected_even_when_congruent() {
        // 00, 01 and 99 are congruent mod 97 to the issued 97, 98 and 02: generate bodies
        // until both 97 and 98 have come up, and check the never-issued twins fail.
        let mut found = (false, false);
        for n in 0u32..10_000 {
            let body = format!("5493{n:014}");
            let digits = 98 - mod97_10(&format!("{body}00"));
            let lei = format!("{body}{digits:02}");
            assert_eq!(check_lei(&lei), Ok(()), "{lei}");
            let alias = match digits {
                97 => "00",
                98 => "01",
                2 => "99",
                _ => continue,
            };
            let twin = format!("{body}{alias}");
            assert_eq!(mod97_10(&twin), 1);
            assert!(check_lei(&twin).is_err(), "{twin}");
            found = (found.0 || digits == 97, found.1 || digits == 98);
        }
        assert_eq!(found, (true, true));
    }

    #[test]
    fn the_country_table_is_sorted_unique_and_complete() {
        assert!(ISO_3166_ALPHA_2.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            ISO_3166_ALPHA_2
                .iter()
                .all(|code| { code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) })
        );
        for code in [
            "AD", "AX", "BQ", "CW", "DE", "GB", "SS", "SX", "US", "XK", "ZW",
        ] {
            assert_eq!(is_country_code(code), code != "XK", "{code}");
        }
        for code in ["EU", "UK", "AN", "YU", "de", "D", "DEU", ""] {
            assert!(!is_country_code(code), "{code}");
        }
    }

    #[test]
    fn unknown_countries_are_reported_everywhere() {
        let mut draft = full();
        draft["issuer"]["country"] = json!("UK");
        draft["jurisdictions"] = json!(["EU", "XX", "de"]);
        draft["investor_rules"]["allowed_countries"] = json!(["DE", "EU"]);
        draft["investor_rules"]["blocked_countries"] = json!(["KP", "ZZ"]);
        assert_eq!(
            checked(draft),
            vec![
                ("$.compliance.issuer.country".into(), "unknown_country"),
                ("$.compliance.jurisdictions[1]".into(), "unknown_country"),
                ("$.compliance.jurisdictions[2]".into(), "unknown_country"),
                (
                    "$.compliance.investor_rules.allowed_countries[1]".into(),
                    "unknown_country"
                ),
                (
                    "$.compliance.investor_rules.blocked_countries[1]".into(),
                    "unknown_country"
                ),
            ]
        );
    }

    #[test]
    fn eu_is_accepted_only_in_jurisdictions() {
        let profile = parse(
            &json!({"jurisdictions": ["EU"], "issuer": {"legal_name": "A", "country": "EU"}}),
        )
        .unwrap();
        let issues = check(&profile);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "$.compliance.issuer.country");
        assert_eq!(issues[0].code, "unknown_country");
        assert!(issues[0].message.contains("only in jurisdictions"));
    }

    #[test]
    fn duplicates_in_lists_are_reported_on_the_repeat() {
        let mut draft = full();
        draft["jurisdictions"] = json!(["EU", "CH", "EU"]);
        draft["investor_rules"]["allowed_countries"] = json!(["DE", "DE"]);
        draft["investor_rules"]["blocked_countries"] = json!(["KP", "IR", "KP", "KP"]);
        draft["disclosures"][1]["url"] = draft["disclosures"][0]["url"].clone();
        assert_eq!(
            checked(draft),
            vec![
                ("$.compliance.jurisdictions[2]".into(), "duplicate"),
                (
                    "$.compliance.investor_rules.allowed_countries[1]".into(),
                    "duplicate"
                ),
                (
                    "$.compliance.investor_rules.blocked_countries[2]".into(),
                    "duplicate"
                ),
                (
                    "$.compliance.investor_rules.blocked_countries[3]".into(),
                    "duplicate"
                ),
                ("$.compliance.disclosures[1].url".into(), "duplicate"),
            ]
        );
    }

    #[test]
    fn allowed_and_blocked_may_overlap_here() {
        // The overlap is a rule's finding, not a value error.
        let mut draft = full();
        draft["investor_rules"]["blocked_countries"] = json!(["DE"]);
        assert!(checked(draft).is_empty());
    }

    #[test]
    fn max_holders_must_be_at_least_one() {
        let mut draft = full();
        draft["investor_rules"]["max_holders"] = json!(0);
        assert_eq!(
            checked(draft.clone()),
            at("$.compliance.investor_rules.max_holders", "out_of_range")
        );
        draft["investor_rules"]["max_holders"] = json!(1);
        assert!(checked(draft.clone()).is_empty());
        draft["investor_rules"]["max_holders"] = json!(u32::MAX);
        assert!(checked(draft).is_empty());
    }

    #[test]
    fn lockup_dates_follow_rfc_3339() {
        for good in [
            "2026-06-30",
            "2028-02-29",
            "2026-06-30T12:00:00Z",
            "2026-06-30T12:00:00.5+02:00",
            "2026-06-30t12:00:00z",
        ] {
            let mut draft = full();
            draft["transfer_rules"]["lockup_until"] = json!(good);
            assert!(checked(draft).is_empty(), "{good}");
        }
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-6-30",
            "+2026-06-30",
            "20260630",
            "30/06/2026",
            "2026-06-30T12:00:00",
            "2026-06-30 12:00",
            "2026-06-30T25:00:00Z",
            "",
            "next year",
        ] {
            let mut draft = full();
            draft["transfer_rules"]["lockup_until"] = json!(bad);
            assert_eq!(
                checked(draft),
                at("$.compliance.transfer_rules.lockup_until", "invalid_date"),
                "{bad}"
            );
        }
    }

    #[test]
    fn disclosure_urls_are_https_or_ipfs_and_bounded() {
        let cases = [
            ("ftp://example.com/wp.pdf", "url_scheme"),
            ("http://example.com/wp.pdf", "url_scheme"),
            ("not a url", "invalid_url"),
            ("https://", "invalid_url"),
            ("ipfs://", "invalid_url"),
        ];
        for (url, code) in cases {
            let mut draft = full();
            draft["disclosures"][0]["url"] = json!(url);
            assert_eq!(
                checked(draft),
                at("$.compliance.disclosures[0].url", code),
                "{url}"
            );
        }
        let longest = format!("https://example.com/{}", "a".repeat(512 - 20));
        assert_eq!(longest.len(), 512);
        let mut draft = full();
        draft["disclosures"][0]["url"] = json!(longest);
        assert!(checked(draft.clone()).is_empty());
        draft["disclosures"][0]["url"] = json!(format!("{longest}a"));
        assert_eq!(
            checked(draft),
            at("$.compliance.disclosures[0].url", "too_long")
        );
    }

    #[test]
    fn disclosure_hashes_are_64_hex_digits() {
        for hash in [
            &HASH[..63],
            &format!("{HASH}0"),
            &HASH.replace('9', "g"),
            "",
            "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
        ] {
            let mut draft = full();
            draft["disclosures"][1]["sha256"] = json!(hash);
            assert_eq!(
                checked(draft),
                at("$.compliance.disclosures[1].sha256", "invalid_hash"),
                "{hash}"
            );
        }
    }

    #[test]
    fn text_lengths_are_measured_in_utf8_bytes() {
        let mut draft = full();
        draft["issuer"]["legal_name"] = json!("");
        draft["regulatory_framework"] = json!("   ");
        assert_eq!(
            checked(draft.clone()),
            vec![
                ("$.compliance.issuer.legal_name".into(), "too_short"),
                ("$.compliance.regulatory_framework".into(), "too_short"),
            ]
        );
        // 100 characters but 200 bytes: the longest legal name, and too long a framework.
        draft["issuer"]["legal_name"] = json!("é".repeat(100));
        draft["regulatory_framework"] = json!("é".repeat(50));
        assert!(checked(draft.clone()).is_empty());
        draft["issuer"]["legal_name"] = json!(format!("{}a", "é".repeat(100)));
        draft["regulatory_framework"] = json!(format!("{}a", "é".repeat(50)));
        assert_eq!(
            checked(draft.clone()),
            vec![
                ("$.compliance.issuer.legal_name".into(), "too_long"),
                ("$.compliance.regulatory_framework".into(), "too_long"),
            ]
        );
        draft["issuer"]["legal_name"] = json!("Harbour\nCapital");
        draft["regulatory_framework"] = json!("Reg D 506(c)");
        assert_eq!(
            checked(draft),
            at("$.compliance.issuer.legal_name", "control_characters")
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let profile = parse(&json!({
            "issuer": {"legal_name": "", "country": "XX", "lei": "506700GE1G29325QX364"},
            "jurisdictions": ["EU", "EU"],
            "investor_rules": {"max_holders": 0},
            "transfer_rules": {"lockup_until": "soon"},
            "disclosures": [{"kind": "other", "url": "http://a.example", "sha256": "00"}],
            "regulatory_framework": "x".repeat(101)
        }))
        .unwrap();
        let issues = check(&profile);
        let codes: Vec<&str> = issues.iter().map(|issue| issue.code).collect();
        assert_eq!(
            codes,
            [
                "too_short",
                "unknown_country",
                "invalid_lei",
                "duplicate",
                "out_of_range",
                "invalid_date",
                "url_scheme",
                "invalid_hash",
                "too_long"
            ]
        );
        assert!(
            issues.iter().all(|issue| issue.severity == Severity::Error
                && issue.path.starts_with("$.compliance."))
        );
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        crate::testing::arbitrary_json(
            vec![
                "EU",
                "DE",
                "US",
                GLEIF_LEI,
                HASH,
                "2026-06-30",
                "2026-06-30T12:00:00Z",
                "https://example.com/wp.pdf",
                "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                "ipfs://",
                "emoney_token",
                "security",
                "utility_token",
                "white_paper",
                "prospectus",
                "other",
                "MiCA",
            ],
            vec![
                "issuer",
                "legal_name",
                "country",
                "lei",
                "jurisdictions",
                "classification",
                "investor_rules",
                "kyc_required",
                "accredited_only",
                "max_holders",
                "allowed_countries",
                "blocked_countries",
                "transfer_rules",
                "whitelist_only",
                "lockup_until",
                "disclosures",
                "kind",
                "url",
                "sha256",
                "regulatory_framework",
                "x",
            ],
        )
    }

    proptest! {
        #[test]
        fn parse_and_check_never_panic(value in arbitrary_json()) {
            match parse(&value) {
                Ok(profile) => {
                    for issue in check(&profile) {
                        prop_assert!(issue.path.starts_with("$.compliance."));
                    }
                    // Whatever parses is stored as JSON and reads back the same.
                    let written = serde_json::to_value(&profile).unwrap();
                    prop_assert_eq!(parse(&written).unwrap(), profile);
                }
                Err(issues) => {
                    prop_assert_eq!(issues.len(), 1);
                    prop_assert!(issues[0].path.starts_with("$.compliance"));
                }
            }
        }
    }
}
