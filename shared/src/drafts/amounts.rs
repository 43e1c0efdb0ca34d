//! Token amounts: decimal strings in whole-token units ("1000.5") converted to and from base
//! units with integer arithmetic only.
//!
//! Chains count base units: `u64` for Algorand ASAs, 256-bit unsigned for ERC-20 and ARC-200.
//! Floating point would silently round, so every step here is exact: an amount that does not fit
//! the target width, or that is finer than the token's decimals, is an error, never rounded.
//!
//! Accepted amount syntax, deliberately narrow so that what the person typed is exactly what is
//! minted: ASCII digits with at most one `.`, at least one digit before the point and, when there
//! is a point, at least one digit after it. So `"0.5"`, `"5"`, `"5.0"` and `"0001.50"` are
//! accepted; `".5"` and `"5."` are refused (they read as typos, and the fix is obvious), as are
//! signs (`"+5"`, `"-5"`), exponents (`"1e3"`), spaces, underscores, thousands separators and
//! the empty string. Leading zeros are harmless and accepted; trailing fractional zeros beyond
//! the token's decimals are accepted too (`"1.500"` with 2 decimals is 150 base units).

use alloy_primitives::U256;

/// Longest amount string accepted, in characters. The largest 256-bit value has 78 digits, so
/// 100 leaves room for leading zeros and a fraction while bounding the parser's work.
pub const MAX_AMOUNT_LENGTH: usize = 100;

/// Most decimals a `u64` amount supports: 10^19 is the largest power of ten below `u64::MAX`.
pub const MAX_DECIMALS_U64: u8 = 19;

/// Most decimals a 256-bit amount supports: 10^77 is the largest power of ten below `U256::MAX`.
pub const MAX_DECIMALS_U256: u8 = 77;

/// Why an amount could not be converted to base units. `code()` is stable for API clients;
/// the message tells a person what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a plain decimal number (see the module documentation for the accepted syntax).
    #[error("amount must be a plain decimal number such as \"1000.5\": {reason}")]
    Malformed { reason: String },
    /// More significant fractional digits than the token's decimals.
    #[error(
        "amount has {}; this token has {}",
        places_phrase(*.places),
        token_decimals_phrase(*.decimals)
    )]
    TooPrecise { places: usize, decimals: u8 },
    /// The amount in base units does not fit the chain's integer width.
    #[error(
        "amount is too large: with {decimals} decimals the largest amount a {bits}-bit token \
         can hold is {max}"
    )]
    Overflow {
        bits: u16,
        decimals: u8,
        max: String,
    },
    /// Longer than [`MAX_AMOUNT_LENGTH`] characters.
    #[error("amount is longer than {max} characters")]
    TooLong { max: usize },
    /// The token's decimals exceed what the target width can represent even for one token.
    #[error("a {bits}-bit token supports at most {max} decimals, not {decimals}")]
    DecimalsOutOfRange { bits: u16, decimals: u8, max: u8 },
}

impl AmountError {
    /// Stable machine-readable code, part of the public API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "amount_malformed",
            Self::TooPrecise { .. } => "amount_too_precise",
            Self::Overflow { .. } => "amount_overflow",
            Self::TooLong { .. } => "amount_too_long",
            Self::DecimalsOutOfRange { .. } => "decimals_out_of_range",
        }
    }
}

fn places_phrase(places: usize) -> String {
    if places == 1 {
        "1 decimal place".to_owned()
    } else {
        format!("{places} decimal places")
    }
}

fn token_decimals_phrase(decimals: u8) -> String {
    if decimals == 0 {
        "0, so use a whole number".to_owned()
    } else {
        decimals.to_string()
    }
}

/// Converts a whole-token decimal string to `u64` base units (Algorand ASAs).
///
/// Checks, in order: length, syntax, `decimals` ≤ [`MAX_DECIMALS_U64`], precision, overflow.
pub fn to_base_units_u64(amount: &str, decimals: u8) -> Result<u64, AmountError> {
    to_base_units::<u64>(amount, decimals)
}

/// Converts a whole-token decimal string to 256-bit base units (ERC-20, ARC-200).
///
/// Checks, in order: length, syntax, `decimals` ≤ [`MAX_DECIMALS_U256`], precision, overflow.
pub fn to_base_units_u256(amount: &str, decimals: u8) -> Result<U256, AmountError> {
    to_base_units::<U256>(amount, decimals)
}

/// Canonical whole-token decimal string for display: no trailing fractional zeros, no trailing
/// '.', "0" for zero. Works for any `decimals` (it is pure digit placement), so it never fails.
pub fn from_base_units_u64(units: u64, decimals: u8) -> String {
    place_decimal_point(units.to_string(), decimals)
}

/// Canonical whole-token decimal string for a 256-bit amount; same rules as
/// [`from_base_units_u64`].
pub fn from_base_units_u256(units: U256, decimals: u8) -> String {
    place_decimal_point(units.to_string(), decimals)
}

/// 10^decimals as `u64`, or `None` above [`MAX_DECIMALS_U64`]. A fractional NFT's total must be
/// exactly one whole token, which is this many base units.
pub fn pow10_u64(decimals: u8) -> Option<u64> {
    10u64.checked_pow(u32::from(decimals))
}

/// 10^decimals as `U256`, or `None` above [`MAX_DECIMALS_U256`].
pub fn pow10_u256(decimals: u8) -> Option<U256> {
    (0..decimals).try_fold(U256::from(1u8), |acc, _| acc.checked_mul(U256::from(10u8)))
}

/// The two base-unit widths, so the parsing and checking logic exists once.
trait BaseUnits: Copy {
    const BITS: u16;
    const MAX_DECIMALS: u8;
    const ZERO: Self;
    const MAX: Self;
    /// `self * 10 + digit`, or `None` on overflow.
    fn shift_in_digit(self, digit: u8) -> Option<Self>;
    fn decimal_digits(self) -> String;
}

impl BaseUnits for u64 {
    const BITS: u16 = 64;
    const MAX_DECIMALS: u8 = MAX_DECIMALS_U64;
    const ZERO: Self = 0;
    const MAX: Self = u64::MAX;

    fn shift_in_digit(self, digit: u8) -> Option<Self> {
        self.checked_mul(10)?.checked_add(u64::from(digit))
    }

    fn decimal_digits(self) -> String {
        self.to_string()
    }
}

impl BaseUnits for U256 {
    const BITS: u16 = 256;
    const MAX_DECIMALS: u8 = MAX_DECIMALS_U256;
    const ZERO: Self = U256::ZERO;
    const MAX: Self = U256::MAX;

    fn shift_in_digit(self, digit: u8) -> Option<Self> {
        self.checked_mul(U256::from(10u8))?
            .checked_add(U256::from(digit))
    }

    fn decimal_digits(self) -> String {
        self.to_string()
    }
}

fn to_base_units<T: BaseUnits>(amount: &str, decimals: u8) -> Result<T, AmountError> {
    let parts = split_decimal(amount)?;
    if decimals > T::MAX_DECIMALS {
        return Err(AmountError::DecimalsOutOfRange {
            bits: T::BITS,
            decimals,
            max: T::MAX_DECIMALS,
        });
    }
    let decimals_len = usize::from(decimals);
    if parts.fraction.len() > decimals_len {
        return Err(AmountError::TooPrecise {
            places: parts.fraction.len(),
            decimals,
        });
    }
    let padding = std::iter::repeat_n(&b'0', decimals_len - parts.fraction.len());
    let overflow = || AmountError::Overflow {
        bits: T::BITS,
        decimals,
        max: place_decimal_point(T::MAX.decimal_digits(), decimals),
    };
    parts
        .integer
        .iter()
        .chain(parts.fraction)
        .chain(padding)
        .try_fold(T::ZERO, |value, digit| {
            value.shift_in_digit(digit - b'0').ok_or_else(overflow)
        })
}

/// A syntactically valid amount, split at the point; both sides are ASCII digits only.
#[derive(Debug)]
struct DecimalParts<'a> {
    integer: &'a [u8],
    /// Fractional digits with trailing zeros removed: only these need to fit the decimals.
    fraction: &'a [u8],
}

fn split_decimal(amount: &str) -> Result<DecimalParts<'_>, AmountError> {
    // Bounded count: an enormous string costs no more than a short one.
    if amount.chars().take(MAX_AMOUNT_LENGTH + 1).count() > MAX_AMOUNT_LENGTH {
        return Err(AmountError::TooLong {
            max: MAX_AMOUNT_LENGTH,
        });
    }
    let malformed = |reason: String| AmountError::Malformed { reason };
    if amount.is_empty() {
        return Err(malformed("it is empty".to_owned()));
    }
    if amount.starts_with(['+', '-']) {
        return Err(malformed(
            "it has a sign; write the number without '+' or '-'".to_owned(),
        ));
    }
    if let Some(bad) = amount.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
        let what = if bad.is_whitespace() {
            "whitespace".to_owned()
        } else {
            format!("'{}'", bad.escape_debug())
        };
        return Err(malformed(format!(
            "it contains {what}; use only the digits 0-9 and at most one '.'"
        )));
    }
    let (integer, fraction) = match amount.split_once('.') {
        None => (amount, ""),
        Some((_, after)) if after.contains('.') => {
            return Err(malformed("it has more than one '.'".to_owned()));
        }
        Some(("", _)) => {
            return Err(malformed(
                "write a digit before the '.', e.g. \"0.5\"".to_owned(),
            ));
        }
        Some((_, "")) => {
            return Err(malformed(
                "write a digit after the '.' or drop the '.', e.g. \"5\"".to_owned(),
            ));
        }
        Some(split) => split,
    };
    Ok(DecimalParts {
        integer: integer.as_bytes(),
        fraction: fraction.trim_end_matches('0').as_bytes(),
    })
}

/// Places the point `decimals` digits from the right of a plain digit string and trims
/// the fractional zeros, giving the canonical display form.
fn place_decimal_point(digits: String, decimals: u8) -> String {
    let decimals = usize::from(decimals);
    if decimals == 0 {
        return digits;
    }
    let padded = if digits.len() <= decimals {
        let mut padded = "0".repeat(decimals + 1 - digits.len());
        padded.push_str(&digits);
        padded
    } else {
        digits
    };
    let (integer, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        integer.to_owned()
    } else {
        format!("{integer}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code_u64(amount: &str, decimals: u8) -> Result<u64, &'static str> {
        to_base_units_u64(amount, decimals).map_err(|e| e.code())
    }

    fn code_u256(amount: &str, decimals: u8) -> Result<U256, &'static str> {
        to_base_units_u256(amount, decimals).map_err(|e| e.code())
    }

    fn u256(decimal: &str) -> U256 {
        decimal.parse().unwrap()
    }

    #[test]
    fn valid_amounts_u64() {
        let cases: &[(&str, u8, u64)] = &[
            ("0", 0, 0),
            ("0", 6, 0),
            ("0.0", 6, 0),
            ("0.0", 0, 0),
            ("000", 2, 0),
            ("1", 0, 1),
            ("1000.5", 1, 10_005),
            ("1000.5", 6, 1_000_500_000),
            ("1.500", 2, 150),
            ("1.5000000000", 1, 15),
            ("0001.50", 2, 150),
            ("0001.50", 6, 1_500_000),
            ("0.000001", 6, 1),
            ("1", 19, 10_000_000_000_000_000_000),
            ("1.8446744073709551615", 19, u64::MAX),
            ("18446744073709551615", 0, u64::MAX),
            ("18446744073709.551615", 6, u64::MAX),
            ("18446744073709.5516150000", 6, u64::MAX),
            (
                "00000000000000000000000000000018446744073709551615",
                0,
                u64::MAX,
            ),
        ];
        for &(amount, decimals, expected) in cases {
            assert_eq!(
                code_u64(amount, decimals),
                Ok(expected),
                "{amount:?} with {decimals} decimals"
            );
        }
    }

    #[test]
    fn malformed_amounts_are_refused() {
        let cases = [
            "", ".5", "5.", ".", "+5", "-5", "+0", "-0", "1e3", "1E3", "1.5e2", " 1", "1 ",
            "1 000", "1_000", "1,000.5", "1.000,5", "1..5", "1.2.3", "0x10", "١٢", "1\u{0}", "NaN",
            "inf", "٫5", "５",
        ];
        for amount in cases {
            assert_eq!(code_u64(amount, 6), Err("amount_malformed"), "{amount:?}");
            assert_eq!(code_u256(amount, 6), Err("amount_malformed"), "{amount:?}");
        }
    }

    #[test]
    fn too_precise_amounts_are_refused() {
        let cases: &[(&str, u8, usize)] = &[
            ("1.234", 2, 3),
            ("1.2340", 2, 3),
            ("0.5", 0, 1),
            ("1.00000000000000000001", 19, 20),
        ];
        for &(amount, decimals, places) in cases {
            let expected = AmountError::TooPrecise { places, decimals };
            assert_eq!(to_base_units_u64(amount, decimals), Err(expected.clone()));
            assert_eq!(to_base_units_u256(amount, decimals), Err(expected));
        }
    }

    #[test]
    fn overflow_is_refused() {
        let cases: &[(&str, u8)] = &[
            ("18446744073709551616", 0),
            ("18446744073709.551616", 6),
            ("1.8446744073709551616", 19),
            ("2", 19),
            ("99999999999999999999999", 0),
        ];
        for &(amount, decimals) in cases {
            assert_eq!(
                code_u64(amount, decimals),
                Err("amount_overflow"),
                "{amount:?}"
            );
        }
        let hundred_digits = "9".repeat(MAX_AMOUNT_LENGTH);
        assert_eq!(code_u64(&hundred_digits, 0), Err("amount_overflow"));
        assert_eq!(code_u256(&hundred_digits, 0), Err("amount_overflow"));
    }

    #[test]
    fn u256_bounds() {
        let max = U256::MAX.to_string();
        assert_eq!(code_u256(&max, 0), Ok(U256::MAX));
        let max_plus_one = format!("{}6", &max[..max.len() - 1]);
        assert_eq!(
            max,
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        assert_eq!(code_u256(&max_plus_one, 0), Err("amount_overflow"));
        assert_eq!(code_u256(&"9".repeat(78), 0), Err("amount_overflow"));
        assert_eq!(code_u256(&"9".repeat(77), 0), Ok(u256(&"9".repeat(77))));
        // The same maximum written with the point 77 places in.
        let scaled = format!("{}.{}", &max[..1], &max[1..]);
        assert_eq!(code_u256(&scaled, 77), Ok(U256::MAX));
        assert_eq!(code_u256("1", 77), Ok(pow10_u256(77).unwrap()));
        assert_eq!(code_u256("12", 77), Err("amount_overflow"));
        assert_eq!(
            code_u256("1000000000000.000000000000000001", 18),
            Ok(u256("1000000000000000000000000000001"))
        );
    }

    #[test]
    fn too_long_is_refused_before_parsing() {
        let at_limit = format!("1.{}", "0".repeat(MAX_AMOUNT_LENGTH - 2));
        assert_eq!(code_u64(&at_limit, 0), Ok(1));
        let over = "0".repeat(MAX_AMOUNT_LENGTH + 1);
        assert_eq!(code_u64(&over, 0), Err("amount_too_long"));
        assert_eq!(code_u256(&over, 0), Err("amount_too_long"));
        let garbage = "x".repeat(1_000_000);
        assert_eq!(code_u256(&garbage, 6), Err("amount_too_long"));
        // Counted in characters, so 60 multi-byte characters are malformed, not too long.
        assert_eq!(code_u64(&"é".repeat(60), 0), Err("amount_malformed"));
    }

    #[test]
    fn decimals_out_of_range() {
        assert_eq!(code_u64("1", 19), Ok(10_000_000_000_000_000_000));
        assert_eq!(code_u64("0", 20), Err("decimals_out_of_range"));
        assert_eq!(code_u64("1", u8::MAX), Err("decimals_out_of_range"));
        assert!(code_u256("0", 77).is_ok());
        assert_eq!(code_u256("0", 78), Err("decimals_out_of_range"));
        assert_eq!(code_u256("1", u8::MAX), Err("decimals_out_of_range"));
        // Syntax is reported first: the amount itself is wrong regardless of the token.
        assert_eq!(code_u64("abc", 20), Err("amount_malformed"));
    }

    #[test]
    fn messages_are_actionable() {
        let message = |r: Result<u64, AmountError>| r.unwrap_err().to_string();
        assert_eq!(
            message(to_base_units_u64("1.234", 2)),
            "amount has 3 decimal places; this token has 2"
        );
        assert_eq!(
            message(to_base_units_u64("1.5", 0)),
            "amount has 1 decimal place; this token has 0, so use a whole number"
        );
        assert_eq!(
            message(to_base_units_u64("18446744073709.551616", 6)),
            "amount is too large: with 6 decimals the largest amount a 64-bit token can hold \
             is 18446744073709.551615"
        );
        assert_eq!(
            message(to_base_units_u64("1 000", 2)),
            "amount must be a plain decimal number such as \"1000.5\": it contains whitespace; \
             use only the digits 0-9 and at most one '.'"
        );
        assert!(message(to_base_units_u64(".5", 2)).contains("\"0.5\""));
        assert!(message(to_base_units_u64("-5", 2)).contains("sign"));
        assert!(message(to_base_units_u64("1_0", 2)).contains("'_'"));
        assert_eq!(
            message(to_base_units_u64("1", 20)),
            "a 64-bit token supports at most 19 decimals, not 20"
        );
        assert_eq!(
            message(to_base_units_u64(&"1".repeat(101), 0)),
            "amount is longer than 100 characters"
        );
    }

    #[test]
    fn display_is_canonical() {
        let cases: &[(u64, u8, &str)] = &[
            (0, 0, "0"),
            (0, 6, "0"),
            (0, 200, "0"),
            (1, 0, "1"),
            (1, 6, "0.000001"),
            (150, 2, "1.5"),
            (100, 2, "1"),
            (10_005, 1, "1000.5"),
            (1_000_500_000, 6, "1000.5"),
            (u64::MAX, 0, "18446744073709551615"),
            (u64::MAX, 6, "18446744073709.551615"),
            (u64::MAX, 19, "1.8446744073709551615"),
            (u64::MAX, 20, "0.18446744073709551615"),
            (5, u8::MAX, &format!("0.{}5", "0".repeat(254))),
        ];
        for &(units, decimals, expected) in cases {
            assert_eq!(from_base_units_u64(units, decimals), expected);
            assert_eq!(from_base_units_u256(U256::from(units), decimals), expected);
        }
        assert_eq!(
            from_base_units_u256(U256::MAX, 77),
            "1.15792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        assert_eq!(from_base_units_u256(U256::ZERO, 77), "0");
    }

    #[test]
    fn powers_of_ten() {
        assert_eq!(pow10_u64(0), Some(1));
        assert_eq!(pow10_u64(6), Some(1_000_000));
        assert_eq!(pow10_u64(19), Some(10_000_000_000_000_000_000));
        assert_eq!(pow10_u64(20), None);
        assert_eq!(pow10_u64(u8::MAX), None);
        assert_eq!(pow10_u256(0), Some(U256::from(1u8)));
        assert_eq!(
            pow10_u256(19),
            Some(U256::from(10_000_000_000_000_000_000u64))
        );
        assert_eq!(pow10_u256(77), Some(u256(&format!("1{}", "0".repeat(77)))));
        assert_eq!(pow10_u256(78), None);
        assert_eq!(pow10_u256(u8::MAX), None);
        for decimals in 0..=MAX_DECIMALS_U64 {
            assert_eq!(to_base_units_u64("1", decimals).ok(), pow10_u64(decimals));
        }
        for decimals in 0..=MAX_DECIMALS_U256 {
            assert_eq!(to_base_units_u256("1", decimals).ok(), pow10_u256(decimals));
        }
    }

    fn arbitrary_u256() -> impl Strategy<Value = U256> {
        prop_oneof![
            any::<[u64; 4]>().prop_map(U256::from_limbs),
            any::<u64>().prop_map(U256::from),
            Just(U256::MAX),
            Just(U256::ZERO),
        ]
    }

    proptest! {
        #[test]
        fn u64_round_trip(units in any::<u64>(), decimals in 0..=MAX_DECIMALS_U64) {
            let shown = from_base_units_u64(units, decimals);
            prop_assert_eq!(to_base_units_u64(&shown, decimals), Ok(units));
        }

        #[test]
        fn u256_round_trip(units in arbitrary_u256(), decimals in 0..=MAX_DECIMALS_U256) {
            let shown = from_base_units_u256(units, decimals);
            prop_assert_eq!(to_base_units_u256(&shown, decimals), Ok(units));
        }

        #[test]
        fn u64_and_u256_agree(
            amount in "[0-9]{1,22}(\\.[0-9]{1,22})?",
            decimals in 0..=MAX_DECIMALS_U64,
        ) {
            let narrow = to_base_units_u64(&amount, decimals);
            let wide = to_base_units_u256(&amount, decimals);
            match narrow {
                Ok(units) => prop_assert_eq!(wide, Ok(U256::from(units))),
                Err(AmountError::Overflow { .. }) => {
                    prop_assert!(wide.unwrap() > U256::from(u64::MAX));
                }
                Err(other) => prop_assert_eq!(wide.map_err(|e| e.code()), Err(other.code())),
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(amount in "\\PC{0,120}", decimals in any::<u8>()) {
            let _ = to_base_units_u64(&amount, decimals);
            let _ = to_base_units_u256(&amount, decimals);
        }

        #[test]
        fn amount_like_strings_never_panic(
            amount in "[0-9.+\\-eE_ ,]{0,110}",
            decimals in any::<u8>(),
        ) {
            let _ = to_base_units_u64(&amount, decimals);
            let _ = to_base_units_u256(&amount, decimals);
        }

        #[test]
        fn display_never_panics(units in arbitrary_u256(), decimals in any::<u8>()) {
            let shown = from_base_units_u256(units, decimals);
            prop_assert!(!shown.ends_with('.'));
            prop_assert!(!shown.contains('.') || !shown.ends_with('0'));
        }
    }
}
