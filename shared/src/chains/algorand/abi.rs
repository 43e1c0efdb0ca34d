//! The ARC-4 ABI subset ARC-200 token calls need: method selectors, static argument
//! encoding (`uintN`, `bool`, `address`, `byte[N]`) and decoding of the return value log.
//!
//! A method call is an application call whose first argument is the 4-byte selector
//! (SHA-512/256 of the signature, e.g. `arc200_transfer(address,uint256)bool`) and whose next
//! arguments are the encoded values, one per application argument. The method's return value
//! is its last log: `151f7c75` followed by the encoded value.

use std::fmt;

use alloy_primitives::U256;
use sha2::{Digest, Sha512_256};
use thiserror::Error;

use super::transaction::Address;

/// The prefix of the log that carries a method's return value.
pub const RETURN_LOG_PREFIX: [u8; 4] = [0x15, 0x1f, 0x7c, 0x75];
/// Most method arguments passed one per application argument; beyond, ARC-4 packs the rest
/// into a tuple, which this subset does not encode.
pub const MAX_DIRECT_ARGS: usize = 15;

/// Why a method, an argument or a return value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AbiError {
    #[error("`{0}` is not a method signature `name(types)return`")]
    MalformedSignature(String),
    #[error("ABI type `{0}` is not supported (only uintN, bool, address and byte[N])")]
    UnsupportedType(String),
    #[error("the method takes {expected} arguments, {given} given")]
    ArgumentCount { expected: usize, given: usize },
    #[error("more than {MAX_DIRECT_ARGS} arguments need tuple packing, which is not supported")]
    TooManyArguments,
    #[error("a {value} value does not encode as `{ty}`")]
    TypeMismatch { ty: String, value: &'static str },
    #[error("the value does not fit in `{0}`")]
    OutOfRange(String),
    #[error("the method returns nothing")]
    NoReturnType,
    #[error("no log holds a return value (the last log must start with 151f7c75)")]
    NoReturnLog,
    #[error("`{ty}` takes {expected} bytes, {given} given")]
    WrongLength {
        ty: String,
        expected: usize,
        given: usize,
    },
    #[error("{0:#04x} is not an encoded bool")]
    InvalidBool(u8),
}

/// The 4-byte selector of a method or event signature: the first bytes of its SHA-512/256.
pub fn method_selector(signature: &str) -> [u8; 4] {
    let digest = Sha512_256::digest(signature.as_bytes());
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The ARC-200 interface: each method's signature with the selector the standard publishes.
pub const ARC200_METHODS: [(&str, &str); 9] = [
    ("arc200_name()byte[32]", "657d13ec"),
    ("arc200_symbol()byte[8]", "b6ae1a25"),
    ("arc200_decimals()uint8", "84ec13d5"),
    ("arc200_totalSupply()uint256", "ec996041"),
    ("arc200_balanceOf(address)uint256", "82e573c4"),
    ("arc200_transfer(address,uint256)bool", "da7025b9"),
    (
        "arc200_transferFrom(address,address,uint256)bool",
        "4a968f8f",
    ),
    ("arc200_approve(address,uint256)bool", "b5422125"),
    ("arc200_allowance(address,address)uint256", "bbb319f3"),
];

/// ARC-200's events (ARC-28 logs) with their published selectors.
pub const ARC200_EVENTS: [(&str, &str); 2] = [
    ("arc200_Transfer(address,address,uint256)", "7983c35c"),
    ("arc200_Approval(address,address,uint256)", "1969f865"),
];

/// The encoded return value in a call's logs: the last log, without its `151f7c75` prefix.
pub fn return_bytes<L: AsRef<[u8]>>(logs: &[L]) -> Result<&[u8], AbiError> {
    logs.last()
        .and_then(|log| log.as_ref().strip_prefix(&RETURN_LOG_PREFIX[..]))
        .ok_or(AbiError::NoReturnLog)
}

/// A static ABI type of the supported subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiType {
    /// `uintN`, N a multiple of 8 from 8 to 256.
    Uint(u16),
    Bool,
    Address,
    /// `byte[N]`.
    FixedBytes(usize),
}

impl AbiType {
    pub fn parse(ty: &str) -> Result<Self, AbiError> {
        let unsupported = || AbiError::UnsupportedType(ty.to_owned());
        match ty {
            "bool" => Ok(Self::Bool),
            "address" => Ok(Self::Address),
            _ => {
                if let Some(bits) = ty.strip_prefix("uint") {
                    let bits: u16 = parse_decimal(bits).ok_or_else(unsupported)?;
                    if bits == 0 || bits > 256 || bits % 8 != 0 {
                        return Err(unsupported());
                    }
                    Ok(Self::Uint(bits))
                } else if let Some(len) = ty
                    .strip_prefix("byte[")
                    .and_then(|rest| rest.strip_suffix(']'))
                {
                    parse_decimal(len)
                        .map(Self::FixedBytes)
                        .ok_or_else(unsupported)
                } else {
                    Err(unsupported())
                }
            }
        }
    }

    /// The length of every encoded value of this type.
    pub fn byte_len(self) -> usize {
        match self {
            Self::Uint(bits) => usize::from(bits / 8),
            Self::Bool => 1,
            Self::Address => 32,
            Self::FixedBytes(len) => len,
        }
    }

    pub fn encode(self, value: &AbiValue) -> Result<Vec<u8>, AbiError> {
        match (self, value) {
            (Self::Uint(bits), AbiValue::Uint(n)) => {
                if n.bit_len() > usize::from(bits) {
                    return Err(AbiError::OutOfRange(self.to_string()));
                }
                let bytes = n.to_be_bytes::<32>();
                Ok(bytes[32 - self.byte_len()..].to_vec())
            }
            (Self::Bool, AbiValue::Bool(b)) => Ok(vec![if *b { 0x80 } else { 0x00 }]),
            (Self::Address, AbiValue::Address(address)) => Ok(address.0.to_vec()),
            (Self::FixedBytes(len), AbiValue::Bytes(bytes)) => {
                if bytes.len() != len {
                    return Err(AbiError::WrongLength {
                        ty: self.to_string(),
                        expected: len,
                        given: bytes.len(),
                    });
                }
                Ok(bytes.clone())
            }
            (_, value) => Err(AbiError::TypeMismatch {
                ty: self.to_string(),
                value: value.kind(),
            }),
        }
    }

    pub fn decode(self, bytes: &[u8]) -> Result<AbiValue, AbiError> {
        if bytes.len() != self.byte_len() {
            return Err(AbiError::WrongLength {
                ty: self.to_string(),
                expected: self.byte_len(),
                given: bytes.len(),
            });
        }
        match self {
            Self::Uint(_) => Ok(AbiValue::Uint(U256::from_be_slice(bytes))),
            Self::Bool => match bytes {
                [0x80] => Ok(AbiValue::Bool(true)),
                [0x00] => Ok(AbiValue::Bool(false)),
                [other, ..] => Err(AbiError::InvalidBool(*other)),
                [] => Err(AbiError::InvalidBool(0)),
            },
            Self::Address => {
                let mut key = [0u8; 32];
                key.copy_from_slice(bytes);
                Ok(AbiValue::Address(Address(key)))
            }
            Self::FixedBytes(_) => Ok(AbiValue::Bytes(bytes.to_vec())),
        }
    }
}

impl fmt::Display for AbiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uint(bits) => write!(f, "uint{bits}"),
            Self::Bool => f.write_str("bool"),
            Self::Address => f.write_str("address"),
            Self::FixedBytes(len) => write!(f, "byte[{len}]"),
        }
    }
}

/// Decimal digits only (no sign, no leading zero), as type names write their sizes.
fn parse_decimal<T: std::str::FromStr>(digits: &str) -> Option<T> {
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

/// A value of an [`AbiType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbiValue {
    /// Any `uintN`.
    Uint(U256),
    Bool(bool),
    Address(Address),
    /// `byte[N]`: exactly N bytes (pad names and symbols before encoding).
    Bytes(Vec<u8>),
}

impl AbiValue {
    pub fn uint(n: u64) -> Self {
        Self::Uint(U256::from(n))
    }

    pub fn as_u256(&self) -> Option<U256> {
        match self {
            Self::Uint(n) => Some(*n),
            _ => None,
        }
    }

    /// The value as a `u64`, if it is an integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_u256().and_then(|n| u64::try_from(n).ok())
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_address(&self) -> Option<Address> {
        match self {
            Self::Address(address) => Some(*address),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Uint(_) => "integer",
            Self::Bool(_) => "bool",
            Self::Address(_) => "address",
            Self::Bytes(_) => "bytes",
        }
    }
}

/// A parsed method signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiMethod {
    name: String,
    args: Vec<AbiType>,
    returns: Option<AbiType>,
    selector: [u8; 4],
}

impl AbiMethod {
    /// Parses `name(type,…)return`; `void` returns nothing.
    pub fn parse(signature: &str) -> Result<Self, AbiError> {
        let malformed = || AbiError::MalformedSignature(signature.to_owned());
        let (name, rest) = signature.split_once('(').ok_or_else(malformed)?;
        let (args, returns) = rest.split_once(')').ok_or_else(malformed)?;
        if name.is_empty() || returns.is_empty() {
            return Err(malformed());
        }
        if args.contains('(') || returns.contains('(') || returns.contains(')') {
            return Err(AbiError::UnsupportedType(format!("({args}){returns}")));
        }
        let args = if args.is_empty() {
            Vec::new()
        } else {
            args.split(',')
                .map(AbiType::parse)
                .collect::<Result<Vec<_>, _>>()?
        };
        if args.len() > MAX_DIRECT_ARGS {
            return Err(AbiError::TooManyArguments);
        }
        let returns = match returns {
            "void" => None,
            ty => Some(AbiType::parse(ty)?),
        };
        Ok(Self {
            name: name.to_owned(),
            args,
            returns,
            selector: method_selector(signature),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn args(&self) -> &[AbiType] {
        &self.args
    }

    pub fn returns(&self) -> Option<AbiType> {
        self.returns
    }

    pub fn selector(&self) -> [u8; 4] {
        self.selector
    }

    /// The application arguments of a call: the selector, then each value encoded as its
    /// declared type.
    pub fn app_args(&self, values: &[AbiValue]) -> Result<Vec<Vec<u8>>, AbiError> {
        if values.len() != self.args.len() {
            return Err(AbiError::ArgumentCount {
                expected: self.args.len(),
                given: values.len(),
            });
        }
        let mut app_args = Vec::with_capacity(1 + values.len());
        app_args.push(self.selector.to_vec());
        for (ty, value) in self.args.iter().zip(values) {
            app_args.push(ty.encode(value)?);
        }
        Ok(app_args)
    }

    /// The return value of a confirmed call, from its logs.
    pub fn decode_return<L: AsRef<[u8]>>(&self, logs: &[L]) -> Result<AbiValue, AbiError> {
        let ty = self.returns.ok_or(AbiError::NoReturnType)?;
        ty.decode(return_bytes(logs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc200_selectors_match_the_standard() {
        for (signature, selector) in ARC200_METHODS {
            assert_eq!(
                hex::encode(method_selector(signature)),
                selector,
                "{signature}"
            );
            let method = AbiMethod::parse(signature).unwrap();
            assert_eq!(hex::encode(method.selector()), selector, "{signature}");
        }
        // Events use the same hash.
        for (signature, selector) in ARC200_EVENTS {
            assert_eq!(
                hex::encode(method_selector(signature)),
                selector,
                "{signature}"
            );
        }
    }

    #[test]
    fn parses_signatures() {
        let method = AbiMethod::parse("arc200_transferFrom(address,address,uint256)bool").unwrap();
        assert_eq!(method.name(), "arc200_transferFrom");
        assert_eq!(
            method.args(),
            [AbiType::Address, AbiType::Address, AbiType::Uint(256)]
        );
        assert_eq!(method.returns(), Some(AbiType::Bool));
        let void = AbiMethod::parse("init(byte[32],byte[8],uint8,uint256)void").unwrap();
        assert_eq!(void.returns(), None);
        assert_eq!(void.args()[0], AbiType::FixedBytes(32));
        assert_eq!(void.args()[2].byte_len(), 1);

        for malformed in ["", "()void", "name", "name()", "name(uint64"] {
            assert!(
                matches!(
                    AbiMethod::parse(malformed),
                    Err(AbiError::MalformedSignature(_))
                ),
                "{malformed}"
            );
        }
        for unsupported in [
            "f(string)void",
            "f(byte[])void",
            "f((uint64,bool))void",
            "f(uint7)void",
            "f(uint264)void",
            "f(uint0)void",
            "f(uint064)void",
            "f(byte[-1])void",
            "f()string",
        ] {
            assert!(
                matches!(
                    AbiMethod::parse(unsupported),
                    Err(AbiError::UnsupportedType(_))
                ),
                "{unsupported}"
            );
        }
        let sixteen = format!("f({})void", vec!["bool"; 16].join(","));
        assert_eq!(AbiMethod::parse(&sixteen), Err(AbiError::TooManyArguments));
    }

    #[test]
    fn encodes_transfer_arguments() {
        let method = AbiMethod::parse("arc200_transfer(address,uint256)bool").unwrap();
        let to = Address([7; 32]);
        let args = method
            .app_args(&[AbiValue::Address(to), AbiValue::uint(1_000_000)])
            .unwrap();
        assert_eq!(args.len(), 3);
        assert_eq!(hex::encode(&args[0]), "da7025b9");
        assert_eq!(args[1], [7; 32]);
        let mut amount = [0u8; 32];
        amount[29..].copy_from_slice(&[0x0f, 0x42, 0x40]);
        assert_eq!(args[2], amount);

        assert_eq!(
            method.app_args(&[AbiValue::Address(to)]),
            Err(AbiError::ArgumentCount {
                expected: 2,
                given: 1
            })
        );
        assert!(matches!(
            method.app_args(&[AbiValue::uint(1), AbiValue::uint(1)]),
            Err(AbiError::TypeMismatch { .. })
        ));
    }

    #[test]
    fn encodes_each_type_at_its_edges() {
        let uint64 = AbiType::parse("uint64").unwrap();
        assert_eq!(uint64.encode(&AbiValue::uint(u64::MAX)).unwrap(), [0xff; 8]);
        assert_eq!(uint64.encode(&AbiValue::uint(0)).unwrap(), [0; 8]);
        assert_eq!(
            uint64.encode(&AbiValue::Uint(U256::from(u64::MAX) + U256::from(1))),
            Err(AbiError::OutOfRange("uint64".into()))
        );
        let uint8 = AbiType::parse("uint8").unwrap();
        assert_eq!(uint8.encode(&AbiValue::uint(255)).unwrap(), [0xff]);
        assert!(uint8.encode(&AbiValue::uint(256)).is_err());
        let uint256 = AbiType::parse("uint256").unwrap();
        assert_eq!(
            uint256.encode(&AbiValue::Uint(U256::MAX)).unwrap(),
            [0xff; 32]
        );
        let boolean = AbiType::parse("bool").unwrap();
        assert_eq!(boolean.encode(&AbiValue::Bool(true)).unwrap(), [0x80]);
        assert_eq!(boolean.encode(&AbiValue::Bool(false)).unwrap(), [0x00]);
        let symbol = AbiType::parse("byte[8]").unwrap();
        assert_eq!(
            symbol
                .encode(&AbiValue::Bytes(b"TOK\0\0\0\0\0".to_vec()))
                .unwrap(),
            b"TOK\0\0\0\0\0"
        );
        assert_eq!(
            symbol.encode(&AbiValue::Bytes(b"TOK".to_vec())),
            Err(AbiError::WrongLength {
                ty: "byte[8]".into(),
                expected: 8,
                given: 3
            })
        );
    }

    #[test]
    fn decodes_return_logs() {
        let balance = AbiMethod::parse("arc200_balanceOf(address)uint256").unwrap();
        let mut log = RETURN_LOG_PREFIX.to_vec();
        log.extend_from_slice(&[0; 24]);
        log.extend_from_slice(&u64::MAX.to_be_bytes());
        let logs = vec![b"an event".to_vec(), log];
        let value = balance.decode_return(&logs).unwrap();
        assert_eq!(value.as_u64(), Some(u64::MAX));
        assert_eq!(value.as_u256(), Some(U256::from(u64::MAX)));

        let transfer = AbiMethod::parse("arc200_transfer(address,uint256)bool").unwrap();
        let ok = [[0x15, 0x1f, 0x7c, 0x75, 0x80]];
        assert_eq!(transfer.decode_return(&ok).unwrap().as_bool(), Some(true));
        let refused = [[0x15, 0x1f, 0x7c, 0x75, 0x00]];
        assert_eq!(
            transfer.decode_return(&refused).unwrap().as_bool(),
            Some(false)
        );
        let garbled = [[0x15, 0x1f, 0x7c, 0x75, 0x01]];
        assert_eq!(
            transfer.decode_return(&garbled),
            Err(AbiError::InvalidBool(1))
        );

        let name = AbiMethod::parse("arc200_name()byte[32]").unwrap();
        let mut log = RETURN_LOG_PREFIX.to_vec();
        log.extend_from_slice(b"Token");
        log.resize(4 + 32, 0);
        let value = name.decode_return(&[log]).unwrap();
        assert_eq!(&value.as_bytes().unwrap()[..5], b"Token");

        let owner = AbiType::Address.decode(&[9; 32]).unwrap();
        assert_eq!(owner.as_address(), Some(Address([9; 32])));
    }

    #[test]
    fn return_decoding_refuses_missing_and_short_logs() {
        let balance = AbiMethod::parse("arc200_balanceOf(address)uint256").unwrap();
        let none: [Vec<u8>; 0] = [];
        assert_eq!(balance.decode_return(&none), Err(AbiError::NoReturnLog));
        // The return value is the last log, not any log.
        let not_last = [RETURN_LOG_PREFIX.to_vec(), b"event".to_vec()];
        assert_eq!(balance.decode_return(&not_last), Err(AbiError::NoReturnLog));
        let short = [[0x15, 0x1f, 0x7c, 0x75, 0x01]];
        assert_eq!(
            balance.decode_return(&short),
            Err(AbiError::WrongLength {
                ty: "uint256".into(),
                expected: 32,
                given: 1
            })
        );
        let void = AbiMethod::parse("noop()void").unwrap();
        assert_eq!(void.decode_return(&short), Err(AbiError::NoReturnType));
    }
}
