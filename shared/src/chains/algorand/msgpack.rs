//! Algorand's canonical msgpack, for the values transactions are made of.
//!
//! A transaction's id and signature cover its encoding, so the bytes must be exactly those
//! go-algorand produces when it re-encodes what it received (py-algorand-sdk and the other
//! SDKs produce the same):
//!
//! - maps (go structs) have their keys sorted bytewise and omit every zero-valued entry:
//!   `0`, `false`, `""`, empty bytes, empty arrays, all-zero fixed-size byte arrays (the zero
//!   address, an unset hash or signature), and maps whose entries are all zero;
//! - array elements are never omitted (an empty argument is still an argument);
//! - unsigned integers take their shortest form; byte arrays are `bin`, strings `str`.
//!
//! Small on purpose: a tree of [`Value`]s built by the transaction code and one encoder.

/// One msgpack value, borrowing its bytes from the transaction it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Uint(u64),
    Bool(bool),
    Str(&'a str),
    /// Variable-length bytes (go's `[]byte`): zero when empty.
    Bin(&'a [u8]),
    /// Fixed-size bytes (go's `[N]byte`: addresses, hashes, signatures): zero when every byte
    /// is zero.
    FixedBin(&'a [u8]),
    Array(Vec<Value<'a>>),
    /// A struct: encoded with its zero entries omitted and its keys sorted.
    Map(Vec<(&'static str, Value<'a>)>),
}

impl Value<'_> {
    /// Whether go-algorand's `omitempty` leaves this value out of a map.
    pub fn is_zero(&self) -> bool {
        match self {
            Value::Uint(n) => *n == 0,
            Value::Bool(b) => !*b,
            Value::Str(s) => s.is_empty(),
            Value::Bin(bytes) => bytes.is_empty(),
            Value::FixedBin(bytes) => bytes.iter().all(|&b| b == 0),
            Value::Array(items) => items.is_empty(),
            Value::Map(entries) => entries.iter().all(|(_, value)| value.is_zero()),
        }
    }

    /// The canonical encoding of this value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding of this value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Uint(n) => write_uint(out, *n),
            Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Str(s) => write_str(out, s),
            Value::Bin(bytes) | Value::FixedBin(bytes) => write_bin(out, bytes),
            Value::Array(items) => {
                write_header(out, items.len(), 0x90, 16, 0xdc, 0xdd);
                for item in items {
                    item.encode_into(out);
                }
            }
            Value::Map(entries) => {
                let mut present: Vec<&(&'static str, Value<'_>)> = entries
                    .iter()
                    .filter(|(_, value)| !value.is_zero())
                    .collect();
                present.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
                write_header(out, present.len(), 0x80, 16, 0xde, 0xdf);
                for (key, value) in present {
                    write_str(out, key);
                    value.encode_into(out);
                }
            }
        }
    }
}

fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.push(0xcc);
        out.push(n);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xcd);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0xce);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else {
        write_sized_len(out, len, 0xd9, 0xda, 0xdb);
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, bytes: &[u8]) {
    write_sized_len(out, bytes.len(), 0xc4, 0xc5, 0xc6);
    out.extend_from_slice(bytes);
}

/// The length prefix of `str` and `bin`: an 8, 16 or 32-bit length after its marker.
fn write_sized_len(out: &mut Vec<u8>, len: usize, marker8: u8, marker16: u8, marker32: u8) {
    if let Ok(len) = u8::try_from(len) {
        out.push(marker8);
        out.push(len);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(marker16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(marker32);
        out.extend_from_slice(&saturating_u32(len).to_be_bytes());
    }
}

/// The header of an array or map: the fix form below `fix_limit` entries, else a 16 or 32-bit
/// count after its marker.
fn write_header(
    out: &mut Vec<u8>,
    len: usize,
    fix_marker: u8,
    fix_limit: usize,
    marker16: u8,
    marker32: u8,
) {
    if len < fix_limit {
        out.push(fix_marker | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(marker16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(marker32);
        out.extend_from_slice(&saturating_u32(len).to_be_bytes());
    }
}

/// msgpack cannot express 2^32 or more entries or bytes; Algorand's limits (a transaction is
/// a few kilobytes) keep every length far below that.
fn saturating_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(value: &Value<'_>) -> String {
        hex::encode(value.encode())
    }

    #[test]
    fn unsigned_integers_take_their_shortest_form() {
        let cases: [(u64, &str); 11] = [
            (0, "00"),
            (127, "7f"),
            (128, "cc80"),
            (255, "ccff"),
            (256, "cd0100"),
            (65_535, "cdffff"),
            (65_536, "ce00010000"),
            (u64::from(u32::MAX), "ceffffffff"),
            (1 << 32, "cf0000000100000000"),
            (1000, "cd03e8"),
            (u64::MAX, "cfffffffffffffffff"),
        ];
        for (n, expected) in cases {
            assert_eq!(hex_of(&Value::Uint(n)), expected, "{n}");
        }
    }

    #[test]
    fn strings_use_fixstr_then_str8_str16() {
        assert_eq!(hex_of(&Value::Str("")), "a0");
        assert_eq!(hex_of(&Value::Str("pay")), "a3706179");
        let s31 = "x".repeat(31);
        assert!(hex_of(&Value::Str(&s31)).starts_with("bf78"));
        let s32 = "x".repeat(32);
        assert!(hex_of(&Value::Str(&s32)).starts_with("d92078"));
        let s255 = "x".repeat(255);
        assert!(hex_of(&Value::Str(&s255)).starts_with("d9ff78"));
        let s256 = "x".repeat(256);
        assert!(hex_of(&Value::Str(&s256)).starts_with("da010078"));
        let s65536 = "x".repeat(65_536);
        assert!(hex_of(&Value::Str(&s65536)).starts_with("db0001000078"));
    }

    #[test]
    fn bytes_use_the_bin_family() {
        assert_eq!(hex_of(&Value::Bin(&[])), "c400");
        assert_eq!(hex_of(&Value::Bin(&[1, 2])), "c4020102");
        assert!(hex_of(&Value::Bin(&[7; 255])).starts_with("c4ff07"));
        assert!(hex_of(&Value::Bin(&[7; 256])).starts_with("c5010007"));
        assert!(hex_of(&Value::Bin(&vec![7; 65_536])).starts_with("c60001000007"));
        assert_eq!(hex_of(&Value::FixedBin(&[0; 2])), "c4020000");
    }

    #[test]
    fn booleans() {
        assert_eq!(hex_of(&Value::Bool(true)), "c3");
        assert_eq!(hex_of(&Value::Bool(false)), "c2");
    }

    #[test]
    fn arrays_keep_zero_elements_and_switch_to_array16_at_16() {
        let zeros = Value::Array(vec![Value::Uint(0), Value::Bin(&[]), Value::Map(vec![])]);
        assert_eq!(hex_of(&zeros), "9300c40080");
        let fifteen = Value::Array(vec![Value::Uint(1); 15]);
        assert_eq!(hex_of(&fifteen), format!("9f{}", "01".repeat(15)));
        let sixteen = Value::Array(vec![Value::Uint(1); 16]);
        assert_eq!(hex_of(&sixteen), format!("dc0010{}", "01".repeat(16)));
        let big = Value::Array(vec![Value::Uint(1); 65_536]);
        assert!(hex_of(&big).starts_with("dd0001000001"));
    }

    #[test]
    fn maps_sort_keys_bytewise_and_omit_zero_values() {
        let map = Value::Map(vec![
            ("type", Value::Str("pay")),
            ("amt", Value::Uint(5)),
            ("fee", Value::Uint(0)),
            ("close", Value::FixedBin(&[0; 32])),
            ("note", Value::Bin(&[])),
            ("gen", Value::Str("")),
            ("df", Value::Bool(false)),
            ("apat", Value::Array(vec![])),
            ("apgs", Value::Map(vec![("nui", Value::Uint(0))])),
            // Upper case sorts before lower case, bytewise.
            ("Z", Value::Uint(1)),
        ]);
        assert_eq!(hex_of(&map), "83a15a01a3616d7405a474797065a3706179");
    }

    #[test]
    fn a_map_with_any_non_zero_entry_is_not_zero() {
        let inner = Value::Map(vec![("nbs", Value::Uint(0)), ("nui", Value::Uint(2))]);
        assert!(!inner.is_zero());
        let outer = Value::Map(vec![("apgs", inner)]);
        assert_eq!(hex_of(&outer), "81a46170677381a36e756902");
        assert!(Value::FixedBin(&[0, 0, 1]).is_zero().eq(&false));
    }

    #[test]
    fn maps_switch_to_map16_at_16_entries() {
        const KEYS: [&str; 16] = [
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
        ];
        let map = Value::Map(KEYS.iter().map(|k| (*k, Value::Uint(1))).collect());
        assert!(hex_of(&map).starts_with("de0010a16101"));
        let map15 = Value::Map(KEYS[..15].iter().map(|k| (*k, Value::Uint(1))).collect());
        assert!(hex_of(&map15).starts_with("8fa16101"));
    }
}
