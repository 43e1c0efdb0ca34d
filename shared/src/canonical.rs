//! Canonical JSON: object keys sorted bytewise at every level, no insignificant whitespace,
//! serde_json's string escapes. Audit hashes are computed over it with integers only (as
//! specified in `docs/audit-chain.md`); idempotency request hashes accept any JSON number,
//! written as serde_json writes it.
//!
//! Written by hand rather than through `serde_json::to_vec`, because serde_json's key order
//! depends on a cargo feature (`preserve_order`) that any crate in the build can switch on, and
//! a hash must not change with the dependency graph.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Nesting deeper than this is refused, so a hostile payload cannot exhaust the stack (it is
/// serde_json's own parsing limit, so anything read from JSON text fits).
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Floats have no single decimal spelling across languages, so they cannot be hashed
    /// reproducibly; amounts belong in integers (base units) or strings.
    #[error("number at {path} is not an integer: audit payloads hold integers only")]
    NotAnInteger { path: String },
    #[error("value at {path} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep { path: String },
}

/// Which numbers an encoding takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbers {
    /// Integers only; any other number is refused (hashes other languages must reproduce).
    IntegersOnly,
    /// Any JSON number, written as serde_json writes it (hashes only this code recomputes).
    Any,
}

/// The canonical bytes of `value`, integers only (the audit encoding).
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    to_canonical_bytes_with(value, Numbers::IntegersOnly)
}

/// The canonical bytes of `value`, taking `numbers`.
pub fn to_canonical_bytes_with(value: &Value, numbers: Numbers) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write_value(value, &mut out, &mut String::from("$"), 0, numbers)?;
    Ok(out)
}

/// Lowercase hex SHA-256 of the canonical bytes of `value`.
pub fn canonical_sha256_hex(value: &Value) -> Result<String, CanonicalError> {
    Ok(hex::encode(Sha256::digest(to_canonical_bytes(value)?)))
}

/// Writes `value` at JSON path `path` (kept for error messages, restored on return).
fn write_value(
    value: &Value,
    out: &mut Vec<u8>,
    path: &mut String,
    depth: usize,
    numbers: Numbers,
) -> Result<(), CanonicalError> {
    if depth > MAX_DEPTH {
        return Err(CanonicalError::TooDeep { path: path.clone() });
    }
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            let digits = if let Some(unsigned) = number.as_u64() {
                unsigned.to_string()
            } else if let Some(signed) = number.as_i64() {
                signed.to_string()
            } else if numbers == Numbers::Any {
                number.to_string()
            } else {
                return Err(CanonicalError::NotAnInteger { path: path.clone() });
            };
            out.extend_from_slice(digits.as_bytes());
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                let restore = path.len();
                path.push_str(&format!("[{index}]"));
                write_value(item, out, path, depth + 1, numbers)?;
                path.truncate(restore);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // `str`'s `Ord` compares UTF-8 bytes, which is also Unicode code point order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                let restore = path.len();
                path.push('.');
                path.push_str(key);
                write_value(item, out, path, depth + 1, numbers)?;
                path.truncate(restore);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string with exactly serde_json's escapes: `"` and `\` escaped by a backslash, the
/// five short escapes `\b \t \n \f \r`, every other control character below U+0020 as
/// `\u00xx` (lowercase hex), and everything else (DEL, `/`, non-ASCII) as raw UTF-8.
fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for byte in text.bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            control @ 0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(control >> 4)]);
                out.push(HEX[usize::from(control & 0x0f)]);
            }
            // Multi-byte UTF-8 sequences pass through untouched: none of their bytes is
            // below 0x80.
            other => out.push(other),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn canonical(value: &Value) -> String {
        String::from_utf8(to_canonical_bytes(value).unwrap()).unwrap()
    }

    #[test]
    fn keys_are_sorted_bytewise_at_every_level() {
        let value = json!({
            "b": 1, "a": {"z": 1, "y": [ {"d": 1, "c": 2} ]}, "B": 2, "é": 3, "aa": 4
        });
        assert_eq!(
            canonical(&value),
            r#"{"B":2,"a":{"y":[{"c":2,"d":1}],"z":1},"aa":4,"b":1,"é":3}"#
        );
    }

    #[test]
    fn scalars_and_empty_containers_have_one_spelling() {
        let value = json!([null, true, false, 0, -1, u64::MAX, i64::MIN, "", [], {}]);
        assert_eq!(
            canonical(&value),
            r#"[null,true,false,0,-1,18446744073709551615,-9223372036854775808,"",[],{}]"#
        );
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        let samples = [
            every_control,
            "quote \" backslash \\ slash / del \u{7f}".to_owned(),
            "Grüße, 東京, 🦀, \u{2028}\u{2029}".to_owned(),
        ];
        for sample in samples {
            let ours = canonical(&Value::String(sample.clone()));
            assert_eq!(ours, serde_json::to_string(&sample).unwrap(), "{sample:?}");
        }
        assert_eq!(
            canonical(&json!("\u{0}\u{1f}\u{8}\t\n\u{c}\r")),
            r#""\u0000\u001f\b\t\n\f\r""#
        );
    }

    #[test]
    fn unicode_keys_sort_by_code_point_and_stay_raw() {
        let value = json!({"ü": 1, "z": 2, "🦀": 3, "\u{ff}": 4});
        assert_eq!(canonical(&value), "{\"z\":2,\"ü\":1,\"ÿ\":4,\"🦀\":3}");
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let value = json!({"payload": {"items": [1, {"price": 1.5}]}});
        assert_eq!(
            to_canonical_bytes(&value),
            Err(CanonicalError::NotAnInteger {
                path: "$.payload.items[1].price".into()
            })
        );
        // A float that happens to be whole is still a float.
        assert!(to_canonical_bytes(&json!(2.0)).is_err());
        assert!(to_canonical_bytes(&serde_json::from_str::<Value>("1e3").unwrap()).is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = json!(0);
        for _ in 0..=MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(matches!(
            to_canonical_bytes(&deep),
            Err(CanonicalError::TooDeep { .. })
        ));
    }

    #[test]
    fn hash_is_lowercase_hex_sha256_of_the_bytes() {
        // printf '{"a":1}' | sha256sum
        assert_eq!(
            canonical_sha256_hex(&json!({"a": 1})).unwrap(),
            "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
        );
    }
}
