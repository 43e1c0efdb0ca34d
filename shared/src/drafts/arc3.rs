//! ARC-3 token metadata (algorandfoundation/ARCs `ARCs/arc-0003.md`): the JSON document an ASA's
//! URL points to, its validation, its one canonical serialisation, the asset metadata hash `am`
//! over those exact bytes, and the archive key under which those bytes are stored.
//!
//! The bytes are produced once by [`to_json_bytes`]; the caller hashes them with
//! [`metadata_hash`] and stores them at [`content_address`], so the `am` on chain always matches
//! the stored file byte for byte.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512_256};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// Content type under which the metadata bytes are archived and served.
pub const ARC3_CONTENT_TYPE: &str = "application/json";

/// Domain-separation prefix of the outer hash when `extra_metadata` is present (ARC-3, `am`).
const AM_PREFIX: &[u8] = b"arc0003/am";
/// Domain-separation prefix of the hash of the JSON file when `extra_metadata` is present.
const AMJ_PREFIX: &[u8] = b"arc0003/amj";

/// The ARC-3 JSON Metadata file as drafted through the API. Every field is optional (ARC-3: "All
/// the fields are OPTIONAL"); unknown keys are refused so a typo is not silently dropped from
/// the hashed file.
///
/// `Serialize` exists so drafts can be stored and read back; the bytes that are hashed and
/// archived come only from [`to_json_bytes`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Arc3Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Must equal the asset's decimals; [`to_json_bytes`] always writes the asset's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_integrity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_mimetype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url_integrity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url_mimetype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animation_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animation_url_integrity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animation_url_mimetype: Option<String>,
    /// Free-form attributes; values may be strings, numbers, objects or arrays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// Base64 of the extra metadata `e`. Present (even empty) switches `am` to the
    /// SHA-512/256 construction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localization: Option<Arc3Localization>,
}

/// ARC-3 `localization`: `uri`, `default` and `locales` are required by the spec, `integrity`
/// (locale → SRI digest of that locale's file) is recommended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Arc3Localization {
    pub uri: String,
    pub default: String,
    pub locales: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<BTreeMap<String, String>>,
}

/// One rule of ARC-3 the metadata breaks. `path` is relative to the metadata object
/// (`image_integrity`, `localization.locales[1]`); `code` is a stable snake_case identifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Arc3Issue {
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

impl Arc3Issue {
    fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

impl Arc3Metadata {
    /// The extra metadata `e` as bytes: `Ok(None)` when the field is absent, `Ok(Some(empty))`
    /// when it is the empty string (which still selects the SHA-512/256 `am`).
    pub fn extra_metadata_bytes(&self) -> Result<Option<Vec<u8>>, Arc3Issue> {
        match &self.extra_metadata {
            None => Ok(None),
            Some(encoded) => BASE64.decode(encoded).map(Some).map_err(|_| {
                Arc3Issue::new(
                    "extra_metadata",
                    "invalid_base64",
                    "extra_metadata must be standard base64 with padding",
                )
            }),
        }
    }
}

/// Every ARC-3 rule the metadata breaks, in field order; empty when it is valid for an asset
/// with `asset_decimals` decimals.
pub fn check(metadata: &Arc3Metadata, asset_decimals: u8) -> Vec<Arc3Issue> {
    let mut issues = Vec::new();

    if let Some(decimals) = metadata.decimals
        && decimals != u64::from(asset_decimals)
    {
        issues.push(Arc3Issue::new(
            "decimals",
            "decimals_mismatch",
            format!("decimals must equal the asset's decimals ({asset_decimals}) or be omitted"),
        ));
    }

    let linked_files = [
        (
            "image",
            &metadata.image,
            &metadata.image_integrity,
            &metadata.image_mimetype,
        ),
        (
            "external_url",
            &metadata.external_url,
            &metadata.external_url_integrity,
            &metadata.external_url_mimetype,
        ),
        (
            "animation_url",
            &metadata.animation_url,
            &metadata.animation_url_integrity,
            &metadata.animation_url_mimetype,
        ),
    ];
    for (field, uri, integrity, mimetype) in linked_files {
        if let Some(uri) = uri {
            check_uri(field, uri, &mut issues);
        }
        if let Some(integrity) = integrity {
            let path = format!("{field}_integrity");
            if uri.is_none() {
                issues.push(Arc3Issue::new(
                    path.clone(),
                    "integrity_without_uri",
                    format!("{path} is set but {field} is not"),
                ));
            }
            check_integrity(&path, integrity, &mut issues);
        }
        if let Some(mimetype) = mimetype {
            let path = format!("{field}_mimetype");
            if uri.is_none() {
                issues.push(Arc3Issue::new(
                    path.clone(),
                    "mimetype_without_uri",
                    format!("{path} is set but {field} is not"),
                ));
            }
            if !is_mime_type(mimetype) {
                issues.push(Arc3Issue::new(
                    path,
                    "invalid_mimetype",
                    "must be a MIME type of the form type/subtype, e.g. image/png",
                ));
            } else if field == "image" && !is_image_mime_type(mimetype) {
                issues.push(Arc3Issue::new(
                    path,
                    "image_mimetype_not_image",
                    "image_mimetype must be of the form image/*",
                ));
            }
        }
    }

    if let Some(color) = &metadata.background_color
        && !(color.len() == 6 && color.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        issues.push(Arc3Issue::new(
            "background_color",
            "invalid_background_color",
            "background_color must be six hexadecimal digits without '#', e.g. 1a2b3c",
        ));
    }

    if let Err(issue) = metadata.extra_metadata_bytes() {
        issues.push(issue);
    }

    if let Some(localization) = &metadata.localization {
        check_localization(localization, &mut issues);
    }

    issues
}

fn check_localization(localization: &Arc3Localization, issues: &mut Vec<Arc3Issue>) {
    check_uri("localization.uri", &localization.uri, issues);
    if !localization.uri.contains("{locale}") {
        issues.push(Arc3Issue::new(
            "localization.uri",
            "missing_locale_placeholder",
            "localization.uri must contain {locale}, replaced by each locale to fetch its file",
        ));
    }

    let mut seen = HashSet::new();
    for (index, locale) in localization.locales.iter().enumerate() {
        let path = format!("localization.locales[{index}]");
        if !is_locale(locale) {
            issues.push(Arc3Issue::new(
                path,
                "invalid_locale",
                "locales must be CLDR locale identifiers such as en, es or pt_BR",
            ));
        } else if !seen.insert(locale.as_str()) {
            issues.push(Arc3Issue::new(
                path,
                "duplicate_locale",
                "each locale may be listed only once",
            ));
        }
    }

    if !localization.locales.contains(&localization.default) {
        issues.push(Arc3Issue::new(
            "localization.default",
            "default_locale_not_listed",
            "localization.default must be one of localization.locales",
        ));
    }

    for (locale, integrity) in localization.integrity.iter().flatten() {
        let path = format!("localization.integrity.{locale}");
        if !localization.locales.contains(locale) {
            issues.push(Arc3Issue::new(
                path.clone(),
                "integrity_locale_not_listed",
                "integrity is given for a locale missing from localization.locales",
            ));
        }
        check_integrity(&path, integrity, issues);
    }
}

/// ARC-3 integrity: a single W3C SRI SHA-256 value, `sha256-` then the standard base64 of the
/// 32-byte digest.
fn check_integrity(path: &str, integrity: &str, issues: &mut Vec<Arc3Issue>) {
    let is_sha256_sri = integrity
        .strip_prefix("sha256-")
        .and_then(|digest| BASE64.decode(digest).ok())
        .is_some_and(|digest| digest.len() == 32);
    if !is_sha256_sri {
        issues.push(Arc3Issue::new(
            path,
            "invalid_integrity",
            "must be sha256- followed by the base64 SHA-256 digest of the file (subresource integrity)",
        ));
    }
}

/// ARC-3 URIs follow RFC 3986 without whitespace, after `{id}` (and `{locale}`) substitution, and
/// should use https or ipfs. Relative URIs, which ARC-3 resolves against the asset URL, are
/// refused: the metadata is stored under a content address where no sibling files exist.
fn check_uri(path: &str, uri: &str, issues: &mut Vec<Arc3Issue>) {
    let substituted = uri.replace("{id}", "0").replace("{locale}", "en");
    if substituted.is_empty() || !is_rfc3986(&substituted) {
        issues.push(Arc3Issue::new(
            path,
            "invalid_uri",
            "must be an RFC 3986 URI: ASCII, no whitespace, '%' only before two hex digits",
        ));
        return;
    }
    // ARC-3: a URI is relative if and only if it does not contain ':'.
    if !substituted.contains(':') {
        issues.push(Arc3Issue::new(
            path,
            "relative_uri_unsupported",
            "must be an absolute https:// or ipfs:// URI; relative URIs have nothing to resolve against",
        ));
        return;
    }
    let Ok(parsed) = url::Url::parse(&substituted) else {
        issues.push(Arc3Issue::new(
            path,
            "invalid_uri",
            "must be a well-formed absolute URI",
        ));
        return;
    };
    let has_host = parsed.host_str().is_some_and(|host| !host.is_empty());
    match parsed.scheme() {
        "https" | "ipfs" if has_host => {}
        "https" | "ipfs" => issues.push(Arc3Issue::new(
            path,
            "invalid_uri",
            "must name a host (https) or a content identifier (ipfs)",
        )),
        _ => issues.push(Arc3Issue::new(
            path,
            "unsupported_uri_scheme",
            "must use https:// or ipfs:// (ARC-3 advises against http and other schemes)",
        )),
    }
}

fn is_rfc3986(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let escaped = bytes.get(index + 1..index + 3);
            if !escaped.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            index += 3;
            continue;
        }
        let allowed = byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&byte);
        if !allowed {
            return false;
        }
        index += 1;
    }
    true
}

/// RFC 6838 `type/subtype`, each a restricted-name (alphanumeric start, at most 127 characters).
fn is_mime_type(mimetype: &str) -> bool {
    let restricted_name = |name: &str| {
        let mut bytes = name.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
            && name.len() <= 127
            && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    mimetype
        .split_once('/')
        .is_some_and(|(kind, subtype)| restricted_name(kind) && restricted_name(subtype))
}

fn is_image_mime_type(mimetype: &str) -> bool {
    mimetype
        .split_once('/')
        .is_some_and(|(kind, _)| kind.eq_ignore_ascii_case("image"))
}

/// CLDR / BCP 47 shaped identifiers: a 2-8 letter language, then `-` or `_` separated
/// alphanumeric subtags of 1-8 characters.
fn is_locale(locale: &str) -> bool {
    let mut subtags = locale.split(['-', '_']);
    let language_ok = subtags.next().is_some_and(|language| {
        (2..=8).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_alphabetic())
    });
    language_ok
        && subtags.all(|subtag| {
            (1..=8).contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// The metadata file exactly as it is hashed and stored: compact UTF-8 JSON, ARC-3 keys in
/// schema order, absent fields omitted, `decimals` always the asset's, and object keys inside
/// `properties` and `localization.integrity` sorted, so equal metadata always gives equal bytes.
pub fn to_json_bytes(metadata: &Arc3Metadata, asset_decimals: u8) -> Vec<u8> {
    let mut out = String::new();
    let mut object = ObjectWriter::open(&mut out);
    object.optional_string("name", metadata.name.as_deref());
    object.key("decimals");
    object.out.push_str(&asset_decimals.to_string());
    let strings = [
        ("description", &metadata.description),
        ("image", &metadata.image),
        ("image_integrity", &metadata.image_integrity),
        ("image_mimetype", &metadata.image_mimetype),
        ("background_color", &metadata.background_color),
        ("external_url", &metadata.external_url),
        ("external_url_integrity", &metadata.external_url_integrity),
        ("external_url_mimetype", &metadata.external_url_mimetype),
        ("animation_url", &metadata.animation_url),
        ("animation_url_integrity", &metadata.animation_url_integrity),
        ("animation_url_mimetype", &metadata.animation_url_mimetype),
    ];
    for (key, value) in strings {
        object.optional_string(key, value.as_deref());
    }
    if let Some(properties) = &metadata.properties {
        object.key("properties");
        write_object(object.out, properties.iter());
    }
    object.optional_string("extra_metadata", metadata.extra_metadata.as_deref());
    if let Some(localization) = &metadata.localization {
        object.key("localization");
        let mut inner = ObjectWriter::open(object.out);
        inner.optional_string("uri", Some(&localization.uri));
        inner.optional_string("default", Some(&localization.default));
        inner.key("locales");
        inner.out.push('[');
        for (index, locale) in localization.locales.iter().enumerate() {
            if index > 0 {
                inner.out.push(',');
            }
            write_string(inner.out, locale);
        }
        inner.out.push(']');
        if let Some(integrity) = &localization.integrity {
            inner.key("integrity");
            let mut digests = ObjectWriter::open(inner.out);
            for (locale, digest) in integrity {
                digests.optional_string(locale, Some(digest));
            }
            digests.close();
        }
        inner.close();
    }
    object.close();
    out.into_bytes()
}

/// Writes one JSON object member by member, tracking the separating commas.
struct ObjectWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_string(self.out, key);
        self.out.push(':');
    }

    fn optional_string(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.key(key);
            write_string(self.out, value);
        }
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Writes an object with its keys in byte order, whatever order the map iterates in.
fn write_object<'v>(
    out: &mut String,
    members: impl Iterator<Item = (&'v String, &'v serde_json::Value)>,
) {
    let mut members: Vec<_> = members.collect();
    members.sort_unstable_by_key(|(key, _)| *key);
    let mut object = ObjectWriter::open(out);
    for (key, value) in members {
        object.key(key);
        write_value(object.out, value);
    }
    object.close();
}

/// Recursion depth is bounded by serde_json's nesting limit on the parsed input.
fn write_value(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        // Number's Display is serde_json's own output format (itoa / ryu).
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => write_object(out, members.iter()),
    }
}

/// JSON string literal, escaping exactly what serde_json escapes (quote, backslash, controls).
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// ARC-3 asset metadata hash `am` of the exact metadata file bytes: SHA-256(json) without extra
/// metadata, otherwise SHA-512/256("arc0003/am" || SHA-512/256("arc0003/amj" || json) || e).
pub fn metadata_hash(json: &[u8], extra_metadata: Option<&[u8]>) -> [u8; 32] {
    match extra_metadata {
        None => Sha256::digest(json).into(),
        Some(extra) => {
            let json_hash = Sha512_256::new()
                .chain_update(AMJ_PREFIX)
                .chain_update(json)
                .finalize();
            Sha512_256::new()
                .chain_update(AM_PREFIX)
                .chain_update(json_hash)
                .chain_update(extra)
                .finalize()
                .into()
        }
    }
}

/// The metadata file's id: base64url (no padding) of the SHA-256 of its bytes. 43 characters,
/// short enough that a hosting URL plus the id plus `#arc3` fits ARC-3's 96-byte URL limit.
pub fn content_id(json: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(json))
}

/// Archive key of the metadata file with this [`content_id`].
pub fn content_key(id: &str) -> String {
    format!("arc3/{id}.json")
}

/// Archive key of the metadata file, derived from the SHA-256 of its bytes: identical files share
/// one object, and a stored object can never change under an asset that points to it.
pub fn content_address(json: &[u8]) -> String {
    content_key(&content_id(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::archive::validate_object_key;
    use proptest::prelude::*;
    use serde_json::json;

    /// ARC-3, "Example with Extra Metadata and `{id}`": the exact `json_metadata` string of the
    /// spec's Python program (4-space indent, no trailing newline).
    const SPEC_EXTRA_METADATA_JSON: &str = r#"{
    "name": "My Picture",
    "description": "Lorem ipsum...",
    "image": "https://s3.amazonaws.com/your-bucket/images/{id}.png",
    "image_integrity": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "image_mimetype": "image/png",
    "external_url": "https://mysongs.com/song/{id}",
    "extra_metadata": "iHcUslDaL/jEM/oTxqEX++4CS8o3+IZp7/V5Rgchqwc="
}"#;
    /// The `am` the spec publishes for that file, in base64.
    const SPEC_EXTRA_METADATA_AM: &str = "xsmZp6lGW9ktTWAt22KautPEqAmiXxow/iIuJlRlHIg=";

    /// ARC-3, "Basic Example" (a song).
    const SPEC_BASIC_JSON: &str = r##"{
    "name": "My Song",
    "description": "My first and best song!",
    "image": "https://s3.amazonaws.com/your-bucket/song/cover/mysong.png",
    "image_integrity": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "image_mimetype": "image/png",
    "external_url": "https://mysongs.com/song/mysong",
    "animation_url": "https://s3.amazonaws.com/your-bucket/song/preview/mysong.ogg",
    "animation_url_integrity": "sha256-LwArA6xMdnFF3bvQjwODpeTG/RVn61weQSuoRyynA1I=",
    "animation_url_mimetype": "audio/ogg",
    "properties": {
        "simple_property": "example value",
        "rich_property": {
            "name": "Name",
            "value": "123",
            "display_value": "123 Example Value",
            "class": "emphasis",
            "css": {
                "color": "#ffffff",
                "font-weight": "bold",
                "text-decoration": "underline"
            }
        },
        "array_property": {
            "name": "Name",
            "value": [1,2,3,4],
            "class": "emphasis"
        }
    }
}"##;

    /// ARC-3, "Localized Example" (base metadata file).
    const SPEC_LOCALIZED_JSON: &str = r#"{
    "name": "Advertising Space",
    "description": "Each token represents a unique Ad space in the city.",
    "localization": {
        "uri": "ipfs://QmWS1VAdMD353A6SDk9wNyvkT14kyCiZrNDYAad4w1tKqT/{locale}.json",
        "default": "en",
        "locales": [
            "en",
            "es",
            "fr"
        ],
        "integrity": {
            "es": "sha256-T0UofLOqdamWQDLok4vy/OcetEFzD8dRLig4229138Y=",
            "fr": "sha256-UUM89QQlXRlerdzVfatUzvNrEI/gwsgsN/lGkR13CKw="
        }
    }
}"#;

    fn parse(json: &str) -> Arc3Metadata {
        serde_json::from_str(json).unwrap()
    }

    fn codes_at(issues: &[Arc3Issue], path: &str) -> Vec<&'static str> {
        issues
            .iter()
            .filter(|issue| issue.path == path)
            .map(|issue| issue.code)
            .collect()
    }

    /// Runs `check` on the basic example with one field changed and returns the codes for `path`.
    fn codes_with(edit: impl FnOnce(&mut Arc3Metadata), path: &str) -> Vec<&'static str> {
        let mut metadata = parse(SPEC_BASIC_JSON);
        edit(&mut metadata);
        codes_at(&check(&metadata, 2), path)
    }

    #[test]
    fn reproduces_the_spec_extra_metadata_hash() {
        let metadata = parse(SPEC_EXTRA_METADATA_JSON);
        let extra = metadata.extra_metadata_bytes().unwrap().unwrap();
        let am = metadata_hash(SPEC_EXTRA_METADATA_JSON.as_bytes(), Some(&extra));
        assert_eq!(BASE64.encode(am), SPEC_EXTRA_METADATA_AM);
        assert!(check(&metadata, 0).is_empty(), "{:?}", check(&metadata, 0));
    }

    #[test]
    fn without_extra_metadata_the_hash_is_plain_sha256() {
        // The spec's image_integrity is the SRI of the empty file: SHA-256("") in base64.
        assert_eq!(
            format!("sha256-{}", BASE64.encode(metadata_hash(b"", None))),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let json = SPEC_BASIC_JSON.as_bytes();
        assert_eq!(
            metadata_hash(json, None),
            <[u8; 32]>::from(Sha256::digest(json))
        );
    }

    #[test]
    fn empty_extra_metadata_still_selects_the_sha512_256_construction() {
        let metadata = Arc3Metadata {
            extra_metadata: Some(String::new()),
            ..Arc3Metadata::default()
        };
        let extra = metadata.extra_metadata_bytes().unwrap();
        assert_eq!(extra.as_deref(), Some(&[][..]));
        let json = to_json_bytes(&metadata, 0);
        let with_empty = metadata_hash(&json, extra.as_deref());
        assert_ne!(with_empty, metadata_hash(&json, None));
        let inner = Sha512_256::digest([b"arc0003/amj".as_slice(), &json].concat());
        let expected: [u8; 32] =
            Sha512_256::digest([b"arc0003/am".as_slice(), inner.as_slice()].concat()).into();
        assert_eq!(with_empty, expected);
    }

    #[test]
    fn spec_examples_pass_the_checks() {
        assert!(check(&parse(SPEC_BASIC_JSON), 2).is_empty());
        assert!(check(&parse(SPEC_LOCALIZED_JSON), 0).is_empty());
        let mut with_decimals = parse(SPEC_BASIC_JSON);
        with_decimals.decimals = Some(2);
        assert!(check(&with_decimals, 2).is_empty());
    }

    #[test]
    fn serialisation_is_compact_ordered_and_fills_decimals_from_the_asset() {
        let mut metadata = parse(SPEC_LOCALIZED_JSON);
        metadata.decimals = Some(7);
        metadata.properties = Some(
            json!({"zeta": 1, "alpha": {"y": [true, null, 1.5], "b": "x"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        metadata.extra_metadata = Some("AAE=".into());
        let bytes = to_json_bytes(&metadata, 0);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            concat!(
                r#"{"name":"Advertising Space","decimals":0,"#,
                r#""description":"Each token represents a unique Ad space in the city.","#,
                r#""properties":{"alpha":{"b":"x","y":[true,null,1.5]},"zeta":1},"#,
                r#""extra_metadata":"AAE=","#,
                r#""localization":{"uri":"ipfs://QmWS1VAdMD353A6SDk9wNyvkT14kyCiZrNDYAad4w1tKqT/{locale}.json","#,
                r#""default":"en","locales":["en","es","fr"],"integrity":{"#,
                r#""es":"sha256-T0UofLOqdamWQDLok4vy/OcetEFzD8dRLig4229138Y=","#,
                r#""fr":"sha256-UUM89QQlXRlerdzVfatUzvNrEI/gwsgsN/lGkR13CKw="}}}"#,
            )
        );
        let minimal = to_json_bytes(&Arc3Metadata::default(), 6);
        assert_eq!(minimal, br#"{"decimals":6}"#);
    }

    #[test]
    fn serialisation_is_deterministic_and_independent_of_input_key_order() {
        let metadata = parse(SPEC_BASIC_JSON);
        let first = to_json_bytes(&metadata, 2);
        let second = to_json_bytes(&metadata, 2);
        assert_eq!(first, second);
        assert_eq!(metadata_hash(&first, None), metadata_hash(&second, None));
        assert_eq!(content_address(&first), content_address(&second));

        // Same metadata, members written in a different order: same bytes.
        let reordered: Arc3Metadata = serde_json::from_value(json!({
            "properties": {
                "array_property": {"class": "emphasis", "value": [1,2,3,4], "name": "Name"},
                "rich_property": {
                    "css": {"text-decoration": "underline", "font-weight": "bold", "color": "#ffffff"},
                    "class": "emphasis", "display_value": "123 Example Value",
                    "value": "123", "name": "Name"
                },
                "simple_property": "example value"
            },
            "animation_url_mimetype": "audio/ogg",
            "animation_url_integrity": "sha256-LwArA6xMdnFF3bvQjwODpeTG/RVn61weQSuoRyynA1I=",
            "animation_url": "https://s3.amazonaws.com/your-bucket/song/preview/mysong.ogg",
            "external_url": "https://mysongs.com/song/mysong",
            "image_mimetype": "image/png",
            "image_integrity": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "image": "https://s3.amazonaws.com/your-bucket/song/cover/mysong.png",
            "description": "My first and best song!",
            "name": "My Song"
        }))
        .unwrap();
        assert_eq!(to_json_bytes(&reordered, 2), first);
    }

    #[test]
    fn serialised_bytes_parse_back_to_the_same_metadata() {
        let metadata = parse(SPEC_EXTRA_METADATA_JSON);
        let bytes = to_json_bytes(&metadata, 3);
        let reparsed: Arc3Metadata = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            reparsed,
            Arc3Metadata {
                decimals: Some(3),
                ..metadata
            }
        );
    }

    #[test]
    fn hash_and_address_are_over_the_serialised_bytes() {
        let metadata = parse(SPEC_EXTRA_METADATA_JSON);
        let bytes = to_json_bytes(&metadata, 0);
        let extra = metadata.extra_metadata_bytes().unwrap();
        let inner = Sha512_256::digest([AMJ_PREFIX, &bytes].concat());
        let expected: [u8; 32] =
            Sha512_256::digest([AM_PREFIX, inner.as_slice(), extra.as_deref().unwrap()].concat())
                .into();
        assert_eq!(metadata_hash(&bytes, extra.as_deref()), expected);

        let address = content_address(&bytes);
        assert_eq!(address, format!("arc3/{}.json", content_id(&bytes)));
        assert_eq!(content_id(&bytes).len(), 43);
        validate_object_key(&address).unwrap();
        assert_ne!(address, content_address(&to_json_bytes(&metadata, 1)));
    }

    #[test]
    fn draft_json_is_strict() {
        let unknown = serde_json::from_str::<Arc3Metadata>(r#"{"name":"x","nmae":"y"}"#);
        assert!(unknown.is_err());
        let unknown_nested = serde_json::from_str::<Arc3Metadata>(
            r#"{"localization":{"uri":"ipfs://a/{locale}","default":"en","locales":["en"],"x":1}}"#,
        );
        assert!(unknown_nested.is_err());
        let missing_required =
            serde_json::from_str::<Arc3Metadata>(r#"{"localization":{"uri":"ipfs://a/{locale}"}}"#);
        assert!(missing_required.is_err());
        let properties_not_object = serde_json::from_str::<Arc3Metadata>(r#"{"properties":[1]}"#);
        assert!(properties_not_object.is_err());
        assert_eq!(
            serde_json::from_str::<Arc3Metadata>("{}").unwrap(),
            Arc3Metadata::default()
        );
        // Stored drafts read back unchanged.
        let metadata = parse(SPEC_LOCALIZED_JSON);
        let stored = serde_json::to_string(&metadata).unwrap();
        assert_eq!(parse(&stored), metadata);
    }

    #[test]
    fn decimals_must_match_the_asset() {
        assert_eq!(
            codes_with(|m| m.decimals = Some(3), "decimals"),
            ["decimals_mismatch"]
        );
        assert!(codes_with(|m| m.decimals = Some(2), "decimals").is_empty());
        assert!(codes_with(|m| m.decimals = None, "decimals").is_empty());
    }

    #[test]
    fn integrity_must_be_a_sha256_sri_value() {
        for bad in [
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha384-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "sha256-AAAA",
            "sha256-!!!!",
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            assert_eq!(
                codes_with(|m| m.image_integrity = Some(bad.into()), "image_integrity"),
                ["invalid_integrity"],
                "{bad}"
            );
        }
        assert!(
            codes_with(
                |m| m.external_url_integrity =
                    Some("sha256-LwArA6xMdnFF3bvQjwODpeTG/RVn61weQSuoRyynA1I=".into()),
                "external_url_integrity"
            )
            .is_empty()
        );
    }

    #[test]
    fn integrity_and_mimetype_need_their_uri() {
        assert_eq!(
            codes_with(|m| m.animation_url = None, "animation_url_integrity"),
            ["integrity_without_uri"]
        );
        assert_eq!(
            codes_with(|m| m.animation_url = None, "animation_url_mimetype"),
            ["mimetype_without_uri"]
        );
        assert!(codes_with(|m| m.animation_url = None, "animation_url").is_empty());
    }

    #[test]
    fn mimetypes_are_type_slash_subtype_and_image_is_an_image() {
        for bad in [
            "png",
            "image/",
            "/png",
            "image/png/x",
            "image/ png",
            "audio/ogg; x=1",
        ] {
            assert_eq!(
                codes_with(
                    |m| m.animation_url_mimetype = Some(bad.into()),
                    "animation_url_mimetype"
                ),
                ["invalid_mimetype"],
                "{bad}"
            );
        }
        for good in ["video/mp4", "model/gltf+json", "application/vnd.ms-excel"] {
            assert!(
                codes_with(
                    |m| m.animation_url_mimetype = Some(good.into()),
                    "animation_url_mimetype"
                )
                .is_empty(),
                "{good}"
            );
        }
        assert_eq!(
            codes_with(
                |m| m.image_mimetype = Some("video/mp4".into()),
                "image_mimetype"
            ),
            ["image_mimetype_not_image"]
        );
        assert!(
            codes_with(
                |m| m.image_mimetype = Some("image/svg+xml".into()),
                "image_mimetype"
            )
            .is_empty()
        );
    }

    #[test]
    fn background_color_is_six_hex_digits_without_hash() {
        for bad in ["#ffffff", "fff", "fffffff", "gggggg", "ffffff "] {
            assert_eq!(
                codes_with(
                    |m| m.background_color = Some(bad.into()),
                    "background_color"
                ),
                ["invalid_background_color"],
                "{bad}"
            );
        }
        for good in ["ffffff", "1A2b3C"] {
            assert!(
                codes_with(
                    |m| m.background_color = Some(good.into()),
                    "background_color"
                )
                .is_empty()
            );
        }
    }

    #[test]
    fn uris_are_absolute_https_or_ipfs() {
        let cases: [(&str, Option<&str>); 13] = [
            ("https://example.com/a.png", None),
            (
                "ipfs://QmWS1VAdMD353A6SDk9wNyvkT14kyCiZrNDYAad4w1tKqT/a.png",
                None,
            ),
            ("https://example.com/{id}.png", None),
            ("https://example.com/a%20b.png", None),
            ("http://example.com/a.png", Some("unsupported_uri_scheme")),
            ("data:image/png;base64,AAAA", Some("unsupported_uri_scheme")),
            ("mysong.png", Some("relative_uri_unsupported")),
            ("https://example.com/a b.png", Some("invalid_uri")),
            ("https://example.com/a.png\n", Some("invalid_uri")),
            ("https://example.com/%zz", Some("invalid_uri")),
            ("https://exämple.com/", Some("invalid_uri")),
            ("", Some("invalid_uri")),
            ("ipfs://", Some("invalid_uri")),
        ];
        for (uri, expected) in cases {
            let codes = codes_with(|m| m.image = Some(uri.into()), "image");
            assert_eq!(codes, expected.into_iter().collect::<Vec<_>>(), "{uri:?}");
        }
    }

    fn localization(uri: &str, default: &str, locales: &[&str]) -> Arc3Metadata {
        Arc3Metadata {
            localization: Some(Arc3Localization {
                uri: uri.into(),
                default: default.into(),
                locales: locales.iter().map(|l| (*l).to_owned()).collect(),
                integrity: None,
            }),
            ..Arc3Metadata::default()
        }
    }

    #[test]
    fn localization_uri_needs_the_locale_placeholder() {
        let missing = check(&localization("ipfs://Qm/x.json", "en", &["en"]), 0);
        assert_eq!(
            codes_at(&missing, "localization.uri"),
            ["missing_locale_placeholder"]
        );
        let http = check(&localization("http://a/{locale}.json", "en", &["en"]), 0);
        assert_eq!(
            codes_at(&http, "localization.uri"),
            ["unsupported_uri_scheme"]
        );
        assert!(check(&localization("https://a/{locale}.json", "en", &["en"]), 0).is_empty());
    }

    #[test]
    fn localization_default_must_be_listed() {
        let issues = check(&localization("ipfs://Qm/{locale}", "de", &["en", "fr"]), 0);
        assert_eq!(
            codes_at(&issues, "localization.default"),
            ["default_locale_not_listed"]
        );
        let empty = check(&localization("ipfs://Qm/{locale}", "en", &[]), 0);
        assert_eq!(
            codes_at(&empty, "localization.default"),
            ["default_locale_not_listed"]
        );
        assert!(check(&localization("ipfs://Qm/{locale}", "fr", &["en", "fr"]), 0).is_empty());
    }

    #[test]
    fn locales_are_well_formed_and_unique() {
        let issues = check(
            &localization(
                "ipfs://Qm/{locale}",
                "en",
                &["en", "e n", "pt_BR", "en", "zh-Hant-TW", ""],
            ),
            0,
        );
        assert_eq!(
            codes_at(&issues, "localization.locales[0]"),
            [] as [&str; 0]
        );
        assert_eq!(
            codes_at(&issues, "localization.locales[1]"),
            ["invalid_locale"]
        );
        assert_eq!(
            codes_at(&issues, "localization.locales[2]"),
            [] as [&str; 0]
        );
        assert_eq!(
            codes_at(&issues, "localization.locales[3]"),
            ["duplicate_locale"]
        );
        assert_eq!(
            codes_at(&issues, "localization.locales[4]"),
            [] as [&str; 0]
        );
        assert_eq!(
            codes_at(&issues, "localization.locales[5]"),
            ["invalid_locale"]
        );
        assert_eq!(issues.len(), 3, "{issues:?}");
    }

    #[test]
    fn localization_integrity_is_per_listed_locale() {
        let mut metadata = parse(SPEC_LOCALIZED_JSON);
        let integrity = metadata
            .localization
            .as_mut()
            .and_then(|l| l.integrity.as_mut())
            .unwrap();
        integrity.insert("de".into(), "sha256-nope".into());
        let issues = check(&metadata, 0);
        assert_eq!(
            codes_at(&issues, "localization.integrity.de"),
            ["integrity_locale_not_listed", "invalid_integrity"]
        );
        assert_eq!(issues.len(), 2, "{issues:?}");
    }

    #[test]
    fn extra_metadata_must_be_base64() {
        for bad in ["not base64!", "AAE", "A"] {
            let metadata = Arc3Metadata {
                extra_metadata: Some(bad.into()),
                ..Arc3Metadata::default()
            };
            assert_eq!(
                codes_at(&check(&metadata, 0), "extra_metadata"),
                ["invalid_base64"],
                "{bad}"
            );
            assert!(metadata.extra_metadata_bytes().is_err());
        }
        for good in ["", "AAE=", "iHcUslDaL/jEM/oTxqEX++4CS8o3+IZp7/V5Rgchqwc="] {
            let metadata = Arc3Metadata {
                extra_metadata: Some(good.into()),
                ..Arc3Metadata::default()
            };
            assert!(check(&metadata, 0).is_empty(), "{good}");
        }
        assert_eq!(
            Arc3Metadata::default().extra_metadata_bytes().unwrap(),
            None
        );
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn arbitrary_metadata() -> impl Strategy<Value = Arc3Metadata> {
        let text = || prop::option::of(any::<String>());
        let localization = prop::option::of(
            (
                any::<String>(),
                any::<String>(),
                prop::collection::vec(any::<String>(), 0..4),
                prop::option::of(prop::collection::btree_map(
                    any::<String>(),
                    any::<String>(),
                    0..3,
                )),
            )
                .prop_map(|(uri, default, locales, integrity)| Arc3Localization {
                    uri,
                    default,
                    locales,
                    integrity,
                }),
        );
        let properties = prop::option::of(
            prop::collection::btree_map(any::<String>(), json_value(), 0..4)
                .prop_map(|map| map.into_iter().collect()),
        );
        (
            (
                text(),
                prop::option::of(any::<u64>()),
                text(),
                text(),
                text(),
                text(),
            ),
            (text(), text(), text(), text(), text(), text()),
            (text(), properties, text(), localization),
        )
            .prop_map(
                |(
                    (name, decimals, description, image, image_integrity, image_mimetype),
                    (
                        background_color,
                        external_url,
                        external_url_integrity,
                        external_url_mimetype,
                        animation_url,
                        animation_url_integrity,
                    ),
                    (animation_url_mimetype, properties, extra_metadata, localization),
                )| Arc3Metadata {
                    name,
                    decimals,
                    description,
                    image,
                    image_integrity,
                    image_mimetype,
                    background_color,
                    external_url,
                    external_url_integrity,
                    external_url_mimetype,
                    animation_url,
                    animation_url_integrity,
                    animation_url_mimetype,
                    properties,
                    extra_metadata,
                    localization,
                },
            )
    }

    proptest! {
        #[test]
        fn check_and_serialise_never_panic_and_bytes_round_trip(
            metadata in arbitrary_metadata(),
            asset_decimals in any::<u8>(),
        ) {
            let _ = check(&metadata, asset_decimals);
            let bytes = to_json_bytes(&metadata, asset_decimals);
            prop_assert_eq!(&bytes, &to_json_bytes(&metadata, asset_decimals));
            let reparsed: Arc3Metadata = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(
                reparsed,
                Arc3Metadata { decimals: Some(u64::from(asset_decimals)), ..metadata }
            );
            prop_assert!(validate_object_key(&content_address(&bytes)).is_ok());
        }

        #[test]
        fn string_escaping_matches_serde_json(text in any::<String>()) {
            let mut out = String::new();
            write_string(&mut out, &text);
            prop_assert_eq!(out, serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn check_never_panics_on_uri_like_strings(uri in "[a-z]{0,6}:?/{0,3}[ -~]{0,40}") {
            let metadata = Arc3Metadata {
                image: Some(uri.clone()),
                localization: Some(Arc3Localization {
                    uri,
                    default: String::new(),
                    locales: Vec::new(),
                    integrity: None,
                }),
                ..Arc3Metadata::default()
            };
            let _ = check(&metadata, 0);
        }
    }
}
