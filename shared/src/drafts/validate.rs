//! The draft validator: walks a standard's definition over an arbitrary JSON draft and
//! reports every problem at once, each with a JSON path into the request, a stable code, a
//! message and a severity. It never panics, whatever the input.
//!
//! A draft is `{"standard", "network", "params": {...}}`. When there is no error the report
//! also carries the resolved parameters: defaults applied, addresses filled in, and every
//! amount converted to base units with integer arithmetic.

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::amounts::{self, AmountError};
use super::arc3::{self, Arc3Metadata};
use super::standards::{self, DefaultValue, Field, Kind, Presence, Rule, Standard, Width};
use crate::accounts::arc76::decode_algorand_address;
use crate::networks::{ChainFamily, NetworkRegistry};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ValidationIssue)]
pub struct Issue {
    pub path: String,
    pub code: &'static str,
    pub message: String,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// Defaults applied and amounts in base units; present only when `valid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Value>,
}

/// What a draft is validated against beyond the catalogue: the user's own accounts (which
/// `DefaultsToOwnAccount` fields fall back to) and where ARC-3 metadata is hosted.
#[derive(Clone, Debug)]
pub struct Context {
    pub algorand_address: String,
    pub evm_address: String,
    /// Base URL of `GET /v1/metadata/{id}`; without it ARC-3 drafts must give their own URL.
    pub metadata_base_url: Option<url::Url>,
}

struct Checker {
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

impl Checker {
    fn error(&mut self, path: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.errors.push(Issue {
            path: path.into(),
            code,
            message: message.into(),
            severity: Severity::Error,
        });
    }

    fn warn(&mut self, path: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.warnings.push(Issue {
            path: path.into(),
            code,
            message: message.into(),
            severity: Severity::Warning,
        });
    }
}

const TOP_LEVEL: &[&str] = &["standard", "network", "params", "compliance"];

/// Validate a draft against the standards catalogue and the network registry.
pub fn validate(draft: &Value, networks: &NetworkRegistry, context: &Context) -> ValidationReport {
    let standard = draft
        .get("standard")
        .and_then(Value::as_str)
        .and_then(standards::find);
    validate_with(draft, standard, networks, context)
}

/// The same, with the standard given (tests use a modified definition).
pub fn validate_with(
    draft: &Value,
    standard: Option<&Standard>,
    networks: &NetworkRegistry,
    context: &Context,
) -> ValidationReport {
    let mut check = Checker {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let resolved = check_draft(&mut check, draft, standard, networks, context);
    let valid = check.errors.is_empty();
    ValidationReport {
        valid,
        errors: check.errors,
        warnings: check.warnings,
        resolved: resolved.filter(|_| valid),
    }
}

fn check_draft(
    check: &mut Checker,
    draft: &Value,
    standard: Option<&Standard>,
    networks: &NetworkRegistry,
    context: &Context,
) -> Option<Value> {
    let Some(object) = draft.as_object() else {
        check.error("$", "not_an_object", "The draft must be a JSON object.");
        return None;
    };
    for key in object.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            check.error(
                format!("$.{key}"),
                "unknown_field",
                format!(
                    "Unknown field {key:?}; a draft has standard, network, params and compliance."
                ),
            );
        }
    }
    match object.get("standard") {
        None | Some(Value::Null) => check.error("$.standard", "required", "Choose a standard."),
        Some(Value::String(id)) if standard.is_none() => check.error(
            "$.standard",
            "unknown_standard",
            format!(
                "Unknown standard {id:?}; one of: {}.",
                standards::STANDARDS
                    .iter()
                    .map(|s| s.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Some(Value::String(_)) => {}
        Some(_) => check.error("$.standard", "wrong_type", "The standard is a string id."),
    }
    match object.get("network") {
        None | Some(Value::Null) => check.error("$.network", "required", "Choose a network."),
        Some(Value::String(id)) => match networks.get(id) {
            None => check.error(
                "$.network",
                "unknown_network",
                format!("Unknown network {id:?}; see GET /v1/networks."),
            ),
            Some(network) => {
                if let Some(standard) = standard
                    && network.family() != standard.family
                {
                    check.error(
                        "$.network",
                        "network_family_mismatch",
                        format!(
                            "{} deploys to {} networks; {} is {}.",
                            standard.id,
                            family_name(standard.family),
                            network.id,
                            family_name(network.family())
                        ),
                    );
                }
            }
        },
        Some(_) => check.error("$.network", "wrong_type", "The network is a string id."),
    }
    if let Some(profile) = object.get("compliance").filter(|value| !value.is_null()) {
        let issues = match crate::compliance::profile::parse(profile) {
            Ok(profile) => crate::compliance::profile::check(&profile),
            Err(issues) => issues,
        };
        for issue in issues {
            match issue.severity {
                Severity::Error => check.errors.push(issue),
                Severity::Warning => check.warnings.push(issue),
            }
        }
    }
    let params = match object.get("params") {
        None | Some(Value::Null) => {
            check.error("$.params", "required", "Give the token's parameters.");
            return None;
        }
        Some(Value::Object(params)) => params,
        Some(_) => {
            check.error("$.params", "wrong_type", "params is an object.");
            return None;
        }
    };
    let standard = standard?;
    Some(check_params(check, standard, params, context))
}

fn family_name(family: ChainFamily) -> &'static str {
    match family {
        ChainFamily::Algorand => "Algorand",
        ChainFamily::Evm => "EVM",
    }
}

/// Check every field, then the standard's rules; return the resolved parameters.
fn check_params(
    check: &mut Checker,
    standard: &Standard,
    params: &Map<String, Value>,
    context: &Context,
) -> Value {
    for key in params.keys() {
        if standard.field(key).is_none() {
            check.error(
                format!("$.params.{key}"),
                "unknown_field",
                format!("{} has no field {key:?}.", standard.id),
            );
        }
    }
    let mut resolved = Map::new();
    // Decimals first: amounts are converted with them.
    let decimals = standard
        .field("decimals")
        .and_then(|field| check_field(check, standard, field, params, context, None, &mut resolved))
        .and_then(|value| value.as_u64())
        .and_then(|value| u8::try_from(value).ok());
    let mut base_units: Map<String, Value> = Map::new();
    for field in standard
        .fields
        .iter()
        .filter(|field| field.name != "decimals")
    {
        if let Some(units) = check_field(
            check,
            standard,
            field,
            params,
            context,
            decimals,
            &mut resolved,
        ) && matches!(field.kind, Kind::Amount { .. })
        {
            base_units.insert(field.name.to_string(), units);
        }
    }
    for rule in standard.rules {
        check_rule(
            check,
            *rule,
            params,
            &mut resolved,
            &base_units,
            decimals,
            context,
        );
    }
    Value::Object(resolved)
}

/// Check one field and record its resolved value. Returns, for amounts, the base units (as a
/// decimal string); for others, the resolved value.
fn check_field(
    check: &mut Checker,
    standard: &Standard,
    field: &Field,
    params: &Map<String, Value>,
    context: &Context,
    decimals: Option<u8>,
    resolved: &mut Map<String, Value>,
) -> Option<Value> {
    let path = format!("$.params.{}", field.name);
    let value = match params.get(field.name) {
        Some(Value::Null) | None => match field.presence {
            Presence::Required => {
                check.error(&path, "required", format!("{} is required.", field.name));
                return None;
            }
            Presence::Optional => return None,
            Presence::Default(default) => match default {
                DefaultValue::Bool(b) => json!(b),
                DefaultValue::Number(n) => json!(n),
                DefaultValue::Text(t) => json!(t),
            },
            Presence::DefaultsToOwnAccount => match standard.family {
                ChainFamily::Algorand => json!(context.algorand_address),
                ChainFamily::Evm => json!(context.evm_address),
            },
        },
        Some(value) => value.clone(),
    };
    let outcome = check_value(check, &path, field, &value, decimals);
    if let Some(normalised) = &outcome {
        let stored = match field.kind {
            // Keep what the user wrote for amounts; the base units go beside them.
            Kind::Amount { .. } => {
                resolved.insert(format!("{}_base_units", field.name), normalised.clone());
                value
            }
            _ => normalised.clone(),
        };
        resolved.insert(field.name.to_string(), stored);
    }
    outcome
}

fn check_value(
    check: &mut Checker,
    path: &str,
    field: &Field,
    value: &Value,
    decimals: Option<u8>,
) -> Option<Value> {
    let expect_string = |check: &mut Checker| -> Option<String> {
        match value.as_str() {
            Some(text) => Some(text.to_string()),
            None => {
                check.error(
                    path,
                    "wrong_type",
                    format!("{} must be a string.", field.name),
                );
                None
            }
        }
    };
    match field.kind {
        Kind::Text {
            min_bytes,
            max_bytes,
        } => {
            let text = expect_string(check)?;
            check_text(check, path, &text, min_bytes, max_bytes).then(|| json!(text))
        }
        Kind::Decimals { min, max } => match value.as_u64() {
            Some(n) if (min as u64..=max as u64).contains(&n) => Some(json!(n)),
            Some(_) | None if value.is_number() => {
                check.error(
                    path,
                    "out_of_range",
                    format!("decimals must be a whole number from {min} to {max}."),
                );
                None
            }
            _ => {
                check.error(path, "wrong_type", "decimals must be a whole number.");
                None
            }
        },
        Kind::Amount { width } => {
            let Some(text) = value.as_str() else {
                check.error(
                    path,
                    "wrong_type",
                    format!(
                        "{} must be a decimal string such as \"1000.5\" (numbers lose precision).",
                        field.name
                    ),
                );
                return None;
            };
            // Without valid decimals the amount cannot be converted; that error is reported
            // on the decimals field.
            let decimals = decimals?;
            let converted = match width {
                Width::U64 => amounts::to_base_units_u64(text, decimals).map(|u| u.to_string()),
                Width::U256 => amounts::to_base_units_u256(text, decimals).map(|u| u.to_string()),
            };
            match converted {
                Ok(units) => Some(json!(units)),
                Err(error) => {
                    check.error(
                        path,
                        amount_code(&error),
                        format!("{}: {error}", field.name),
                    );
                    None
                }
            }
        }
        Kind::Boolean => match value.as_bool() {
            Some(b) => Some(json!(b)),
            None => {
                check.error(
                    path,
                    "wrong_type",
                    format!("{} must be true or false.", field.name),
                );
                None
            }
        },
        Kind::AlgorandAddress => {
            let text = expect_string(check)?;
            match decode_algorand_address(&text) {
                Ok(_) => Some(json!(text)),
                Err(error) => {
                    let code = match error {
                        crate::accounts::arc76::AlgorandAddressError::ChecksumMismatch => {
                            "address_checksum"
                        }
                        _ => "invalid_address",
                    };
                    check.error(
                        path,
                        code,
                        format!("{} is not a valid Algorand address ({error}).", field.name),
                    );
                    None
                }
            }
        }
        Kind::EvmAddress => {
            let text = expect_string(check)?;
            match check_evm_address(&text) {
                Ok(checksummed) => Some(json!(checksummed)),
                Err((code, why)) => {
                    check.error(path, code, format!("{}: {why}", field.name));
                    None
                }
            }
        }
        Kind::Url { max_bytes, schemes } => {
            let text = expect_string(check)?;
            check_url(check, path, &text, max_bytes, schemes).then(|| json!(text))
        }
        Kind::Hash32 => {
            let text = expect_string(check)?;
            match decode_hash32(&text) {
                Some(bytes) => Some(json!(
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                )),
                None => {
                    check.error(
                        path,
                        "invalid_hash",
                        format!(
                            "{} must be 32 bytes as base64 or 64 hex digits.",
                            field.name
                        ),
                    );
                    None
                }
            }
        }
        Kind::NameList {
            max_items,
            max_bytes,
        } => {
            let Some(items) = value.as_array() else {
                check.error(
                    path,
                    "wrong_type",
                    format!("{} must be a list of names.", field.name),
                );
                return None;
            };
            let errors_before = check.errors.len();
            if items.len() > max_items {
                check.error(path, "too_many", format!("At most {max_items} entries."));
            }
            let mut seen = std::collections::HashSet::new();
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                match item.as_str() {
                    None => check.error(&item_path, "wrong_type", "Each entry is a string."),
                    Some(name) => {
                        if check_text(check, &item_path, name, 1, max_bytes) && !seen.insert(name) {
                            check.error(
                                &item_path,
                                "duplicate",
                                format!("{name:?} appears twice."),
                            );
                        }
                    }
                }
            }
            (check.errors.len() == errors_before).then(|| value.clone())
        }
        Kind::Documents { max_items } => check_documents(check, path, value, max_items),
        Kind::Arc3Metadata => check_arc3(check, path, value, decimals),
    }
}

fn amount_code(error: &AmountError) -> &'static str {
    error.code()
}

/// Length in UTF-8 bytes, as the chain counts it; no control characters.
fn check_text(
    check: &mut Checker,
    path: &str,
    text: &str,
    min_bytes: usize,
    max_bytes: usize,
) -> bool {
    let bytes = text.len();
    if bytes < min_bytes {
        check.error(path, "too_short", "Must not be empty.");
        return false;
    }
    if bytes > max_bytes {
        check.error(
            path,
            "too_long",
            format!("Is {bytes} bytes in UTF-8; at most {max_bytes} bytes are allowed."),
        );
        return false;
    }
    if text.chars().any(char::is_control) {
        check.error(
            path,
            "control_characters",
            "Must not contain control characters.",
        );
        return false;
    }
    true
}

fn check_url(
    check: &mut Checker,
    path: &str,
    text: &str,
    max_bytes: usize,
    schemes: &[&str],
) -> bool {
    if text.len() > max_bytes {
        check.error(
            path,
            "too_long",
            format!(
                "Is {} bytes; at most {max_bytes} bytes are allowed.",
                text.len()
            ),
        );
        return false;
    }
    match url::Url::parse(text) {
        Err(error) => {
            check.error(path, "invalid_url", format!("Not a URL: {error}."));
            false
        }
        Ok(url) if !schemes.contains(&url.scheme()) => {
            check.error(
                path,
                "url_scheme",
                format!(
                    "The scheme must be one of {}, not {}.",
                    schemes.join(", "),
                    url.scheme()
                ),
            );
            false
        }
        Ok(_) => true,
    }
}

/// `0x` + 40 hex digits; mixed case must be the EIP-55 checksum. Returns the checksummed form.
fn check_evm_address(text: &str) -> Result<String, (&'static str, String)> {
    let hex_part = text
        .strip_prefix("0x")
        .ok_or(("invalid_address", "must start with 0x".to_string()))?;
    if hex_part.len() != 40 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err((
            "invalid_address",
            "must be 0x followed by 40 hex digits".into(),
        ));
    }
    let address: alloy_primitives::Address = text
        .parse()
        .map_err(|_| ("invalid_address", "not an EVM address".to_string()))?;
    let checksummed = address.to_checksum(None);
    let mixed = hex_part.bytes().any(|b| b.is_ascii_uppercase())
        && hex_part.bytes().any(|b| b.is_ascii_lowercase());
    if mixed && checksummed != text {
        return Err((
            "address_checksum",
            "the mixed-case EIP-55 checksum does not match; check for a typo".into(),
        ));
    }
    Ok(checksummed)
}

fn decode_hash32(text: &str) -> Option<[u8; 32]> {
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    bytes.try_into().ok()
}

fn check_documents(
    check: &mut Checker,
    path: &str,
    value: &Value,
    max_items: usize,
) -> Option<Value> {
    let Some(items) = value.as_array() else {
        check.error(
            path,
            "wrong_type",
            "documents must be a list of {name, uri, sha256}.",
        );
        return None;
    };
    let errors_before = check.errors.len();
    if items.len() > max_items {
        check.error(path, "too_many", format!("At most {max_items} documents."));
    }
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let Some(document) = item.as_object() else {
            check.error(
                &item_path,
                "wrong_type",
                "Each document is {name, uri, sha256}.",
            );
            continue;
        };
        for key in document.keys() {
            if !["name", "uri", "sha256"].contains(&key.as_str()) {
                check.error(
                    format!("{item_path}.{key}"),
                    "unknown_field",
                    format!("Unknown field {key:?}."),
                );
            }
        }
        match document.get("name").and_then(Value::as_str) {
            Some(name) => {
                check_text(check, &format!("{item_path}.name"), name, 1, 64);
            }
            None => check.error(format!("{item_path}.name"), "required", "name is required."),
        }
        match document.get("uri").and_then(Value::as_str) {
            Some(uri) => {
                check_url(
                    check,
                    &format!("{item_path}.uri"),
                    uri,
                    256,
                    &["https", "ipfs"],
                );
            }
            None => check.error(format!("{item_path}.uri"), "required", "uri is required."),
        }
        match document.get("sha256").and_then(Value::as_str) {
            Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {}
            Some(_) => check.error(
                format!("{item_path}.sha256"),
                "invalid_hash",
                "sha256 is 64 hex digits.",
            ),
            None => check.error(
                format!("{item_path}.sha256"),
                "required",
                "sha256 is required.",
            ),
        }
    }
    (check.errors.len() == errors_before).then(|| value.clone())
}

/// ARC-3 metadata: parsed strictly, checked, and resolved to the exact JSON bytes, their
/// metadata hash and their content address.
fn check_arc3(
    check: &mut Checker,
    path: &str,
    value: &Value,
    decimals: Option<u8>,
) -> Option<Value> {
    let metadata: Arc3Metadata = match serde_path_to_error::deserialize(value.clone()) {
        Ok(metadata) => metadata,
        Err(error) => {
            let inner = error.path().to_string();
            let at = if inner == "." {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            };
            check.error(at, "invalid_metadata", error.into_inner().to_string());
            return None;
        }
    };
    let decimals = decimals?;
    let issues = arc3::check(&metadata, decimals);
    let clean = issues.is_empty();
    for issue in issues {
        let at = if issue.path.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{}", issue.path)
        };
        check.error(at, issue.code, issue.message);
    }
    if !clean {
        return None;
    }
    let bytes = arc3::to_json_bytes(&metadata, decimals);
    let extra = metadata
        .extra_metadata
        .as_deref()
        .and_then(|e| base64::engine::general_purpose::STANDARD.decode(e).ok());
    let hash = arc3::metadata_hash(&bytes, extra.as_deref());
    Some(json!({
        "json": String::from_utf8_lossy(&bytes),
        "metadata_hash": base64::engine::general_purpose::STANDARD.encode(hash),
        "content_address": arc3::content_address(&bytes),
        "content_id": arc3::content_id(&bytes),
    }))
}

fn check_rule(
    check: &mut Checker,
    rule: Rule,
    params: &Map<String, Value>,
    resolved: &mut Map<String, Value>,
    base_units: &Map<String, Value>,
    decimals: Option<u8>,
    context: &Context,
) {
    let units = |name: &str| -> Option<alloy_primitives::U256> {
        base_units.get(name)?.as_str()?.parse().ok()
    };
    match rule {
        Rule::CapAtLeastInitialSupply => match (units("cap"), units("initial_supply")) {
            (Some(cap), Some(initial)) if cap < initial => check.error(
                "$.params.cap",
                "cap_below_initial_supply",
                "The cap must be at least the initial supply.",
            ),
            _ if !params.contains_key("cap") || params.get("cap") == Some(&Value::Null) => check.warn(
                "$.params.cap",
                "no_cap",
                "Without a cap the supply can grow without limit; set one unless that is intended.",
            ),
            _ => {}
        },
        Rule::PureNft => {
            if decimals.is_some_and(|d| d != 0) {
                check.error("$.params.decimals", "nft_decimals", "A pure NFT has decimals 0.");
            }
            if units("total").is_some_and(|total| total != alloy_primitives::U256::from(1u8)) {
                check.error("$.params.total", "nft_total", "A pure NFT has a total of 1.");
            }
        }
        Rule::FractionalNft => {
            if decimals == Some(0) {
                check.error(
                    "$.params.decimals",
                    "fnft_decimals",
                    "A fractional NFT has at least 1 decimal.",
                );
            }
            if let (Some(total), Some(d)) = (units("total"), decimals)
                && d > 0
                && amounts::pow10_u256(d) != Some(total)
            {
                check.error(
                    "$.params.total",
                    "fnft_total",
                    format!("A fractional NFT has a total of 1 whole token (10^{d} base units)."),
                );
            }
        }
        Rule::Arc3Marked => {
            let name = resolved.get("asset_name").and_then(Value::as_str).unwrap_or("");
            let name_marked = name == "arc3" || name.ends_with("@arc3");
            if let Some(url) = resolved.get("url").and_then(Value::as_str)
                && !url.ends_with("#arc3")
                && !name_marked
            {
                check.error(
                    "$.params.url",
                    "arc3_not_marked",
                    "An ARC-3 URL ends with #arc3 (or the asset name is arc3 or ends with @arc3).",
                );
            }
            let Some(metadata) = resolved.get("metadata").cloned() else {
                return;
            };
            match resolved.get("metadata_hash").and_then(Value::as_str) {
                Some(given) if metadata["metadata_hash"].as_str() != Some(given) => check.error(
                    "$.params.metadata_hash",
                    "metadata_hash_mismatch",
                    "metadata_hash does not match the metadata; leave it out and it is computed.",
                ),
                Some(_) => {}
                None => {
                    resolved.insert("metadata_hash".into(), metadata["metadata_hash"].clone());
                }
            }
            if resolved.contains_key("url") {
                return;
            }
            // No URL given: the metadata is served by this system at a content address.
            let Some(base) = &context.metadata_base_url else {
                check.error(
                    "$.params.url",
                    "required",
                    "Give the metadata URL (https or ipfs, ending with #arc3): this deployment does not host metadata.",
                );
                return;
            };
            let id = metadata["content_id"].as_str().unwrap_or_default();
            let url = format!("{base}{id}#arc3");
            if url.len() > standards::limits::ASA_URL_BYTES {
                check.error(
                    "$.params.url",
                    "too_long",
                    format!(
                        "The hosted metadata URL would be {} bytes, over the 96 allowed; give an ipfs:// URL instead.",
                        url.len()
                    ),
                );
                return;
            }
            resolved.insert("url".into(), json!(url));
        }
        Rule::ControllableAsa => {
            let has = |name: &str| resolved.contains_key(name);
            if !has("freeze") && !has("clawback") {
                check.warn(
                    "$.params",
                    "uncontrollable_asa",
                    "With neither a freeze nor a clawback address this asset can never be frozen or recovered.",
                );
            }
            if resolved.get("default_frozen") == Some(&Value::Bool(true)) && !has("freeze") {
                check.warn(
                    "$.params.default_frozen",
                    "frozen_without_freeze_address",
                    "Holdings start frozen but no freeze address can ever unfreeze them.",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALGO: &str = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";
    const EVM: &str = "0x0b6CEF2E7844F27019Fce92205F5FedF684c6926";

    fn owner() -> Context {
        Context {
            algorand_address: ALGO.into(),
            evm_address: EVM.into(),
            metadata_base_url: "http://127.0.0.1:8080/v1/metadata/".parse().ok(),
        }
    }

    fn networks() -> NetworkRegistry {
        NetworkRegistry::built_in().unwrap()
    }

    fn run(draft: Value) -> ValidationReport {
        validate(&draft, &networks(), &owner())
    }

    fn codes(report: &ValidationReport) -> Vec<(&str, &str)> {
        report
            .errors
            .iter()
            .map(|issue| (issue.path.as_str(), issue.code))
            .collect()
    }

    #[test]
    fn a_valid_asa_resolves_defaults_and_base_units() {
        let report = run(json!({
            "standard": "asa-ft",
            "network": "algorand-testnet",
            "params": {"asset_name": "Harbour Credits", "unit_name": "HBC", "total": "1000.25", "decimals": 2, "clawback": ALGO}
        }));
        assert!(report.valid, "{report:?}");
        let resolved = report.resolved.unwrap();
        assert_eq!(resolved["total_base_units"], "100025");
        assert_eq!(resolved["manager"], ALGO);
        assert_eq!(resolved["default_frozen"], false);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let report = run(json!({
            "standard": "asa-ft",
            "network": "base-mainnet",
            "colour": "red",
            "params": {
                "asset_name": "ü".repeat(17),
                "unit_name": "",
                "total": "1.005",
                "decimals": 2,
                "url": "ftp://example.com/x",
                "manager": "NOTANADDRESS",
                "wat": 1
            }
        }));
        assert!(!report.valid);
        let found = codes(&report);
        for expected in [
            ("$.colour", "unknown_field"),
            ("$.network", "network_family_mismatch"),
            ("$.params.wat", "unknown_field"),
            ("$.params.asset_name", "too_long"),
            ("$.params.unit_name", "too_short"),
            ("$.params.total", "amount_too_precise"),
            ("$.params.url", "url_scheme"),
            ("$.params.manager", "invalid_address"),
        ] {
            assert!(
                found.contains(&expected),
                "{expected:?} missing from {found:?}"
            );
        }
        assert!(report.resolved.is_none());
    }

    #[test]
    fn names_are_measured_in_utf8_bytes() {
        // 8 characters but 16 bytes: too long for a unit name.
        let report = run(json!({
            "standard": "asa-ft", "network": "algorand-testnet",
            "params": {"asset_name": "A", "unit_name": "éééééééé", "total": "1"}
        }));
        assert_eq!(codes(&report), [("$.params.unit_name", "too_long")]);
    }

    #[test]
    fn the_catalogue_and_the_validator_share_one_definition() {
        // Change one limit in a copy of the definition: both the catalogue entry and the
        // validator follow it.
        let original = standards::find("asa-ft").unwrap();
        let mut fields = original.fields.to_vec();
        for field in &mut fields {
            if field.name == "unit_name" {
                field.kind = Kind::Text {
                    min_bytes: 1,
                    max_bytes: 4,
                };
            }
        }
        let changed = Standard {
            fields: Box::leak(fields.into_boxed_slice()),
            ..*original
        };
        let catalogue = serde_json::to_value(changed).unwrap();
        let unit = catalogue["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "unit_name")
            .unwrap();
        assert_eq!(unit["max_bytes"], 4);
        let draft = json!({"standard": "asa-ft", "network": "algorand-testnet",
            "params": {"asset_name": "A", "unit_name": "ABCDE", "total": "1"}});
        assert!(validate(&draft, &networks(), &owner()).valid);
        let report = validate_with(&draft, Some(&changed), &networks(), &owner());
        assert_eq!(codes(&report), [("$.params.unit_name", "too_long")]);
    }

    #[test]
    fn evm_addresses_keep_their_checksum() {
        assert!(check_evm_address(EVM).is_ok());
        assert_eq!(
            check_evm_address(&EVM.to_lowercase()).unwrap(),
            EVM,
            "all-lowercase is accepted and checksummed"
        );
        let broken = EVM.replace("CEF", "cEF");
        assert_eq!(
            check_evm_address(&broken).unwrap_err().0,
            "address_checksum"
        );
        assert_eq!(check_evm_address("0x123").unwrap_err().0, "invalid_address");
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        crate::testing::arbitrary_json(
            vec![
                "asa-ft",
                "asa-nft",
                "asa-fnft",
                "arc3-ft",
                "arc3-nft",
                "arc3-fnft",
                "erc20-mintable",
                "erc20-preminted",
                "arc200-mintable",
                "arc200-preminted",
                "security-token",
                "algorand-testnet",
                "base-sepolia",
                "1.5",
                "18",
                ALGO,
                EVM,
            ],
            vec![
                "standard",
                "network",
                "params",
                "name",
                "symbol",
                "decimals",
                "total",
                "initial_supply",
                "cap",
                "metadata",
                "url",
                "documents",
                "partitions",
                "image_integrity",
                "localization",
                "x",
            ],
        )
    }

    proptest! {
        #[test]
        fn the_validator_never_panics(draft in arbitrary_json()) {
            let report = run(draft);
            prop_assert_eq!(report.valid, report.errors.is_empty());
        }

        #[test]
        fn well_formed_drafts_with_arbitrary_params_never_panic(
            standard in prop::sample::select(standards::STANDARDS.iter().map(|s| s.id).collect::<Vec<_>>()),
            params in arbitrary_json(),
        ) {
            let report = run(json!({"standard": standard, "network": "algorand-testnet", "params": params}));
            prop_assert_eq!(report.valid, report.errors.is_empty());
        }
    }
}
