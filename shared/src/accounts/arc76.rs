//! ARC-76 ("Password Account") derivation: email + password + slot → a 32-byte seed, used both
//! as an Algorand ed25519 key and as an EVM secp256k1 key.
//!
//! ```text
//! input = "ARC-0076-" + email + "-" + password + "-" + slot + "-PBKDF2-999999"   (UTF-8)
//! salt  = "ARC-0076-" + email + "-" + slot + "-PBKDF2-999999"                    (UTF-8)
//! seed  = PBKDF2-HMAC-SHA256(input, salt, 999999 iterations, 32 bytes)
//! ```
//! Without an email both strings drop `email + "-"`.
//!
//! The point of ARC-76 is that a user can recover their accounts with any public
//! implementation (the `arc76` npm package, the `arc76-*` PyPI packages, the .NET
//! `AlgorandARC76Account` library), so [`derive_seed`] refuses every input on which those
//! implementations disagree, rather than hand out an account some of them cannot re-derive:
//!
//! - **Email: canonical ASCII only.** The caller canonicalises (trims, lower-cases) before
//!   calling; a non-canonical email is refused ([`Arc76Error::EmailNotCanonical`]) because it
//!   would silently be a different account. Non-ASCII emails are refused
//!   ([`Arc76Error::NonAsciiEmail`]): npm and PyPI encode the salt as UTF-8, the .NET library
//!   as `Encoding.ASCII` (every non-ASCII character becomes `?`). With the password
//!   `correct horse battery staple!`, the npm package gives `josé@example.com` the seed
//!   `942aa190…`, the .NET salt (emulated) `95f084e5…`; for `jose@example.com` both give
//!   `f82f873d…`.
//! - **Empty email: refused** ([`Arc76Error::EmptyEmail`]); pass `None` for the password-only
//!   variant. npm treats `""` as no email, PyPI derives from `"ARC-0076--…"`.
//! - **Password: at least 16 characters** (Unicode scalar values), not merely 16 bytes. npm
//!   counts UTF-16 units, PyPI code points; counting characters is the strictest of the three
//!   and implies 16 bytes. Its UTF-8 bytes are used as given, without normalisation, because
//!   every implementation does the same.
//! - **Slot: at most `i32::MAX`**, the .NET library's `int slot`.
//!
//! Cost: 999,999 HMAC-SHA256 rounds. PBKDF2 comes from AWS-LC (`aws-lc-rs`, already linked
//! for TLS by the AWS SDK) rather than the generic `pbkdf2` crate: generic code is compiled in
//! the crate that instantiates it, so `pbkdf2_hmac::<Sha256>` ran at this crate's opt-level 0
//! in debug builds (3.4 s per derivation) whatever the profile overrides said; AWS-LC's native
//! code is fast in tests too. Its C is compiled at the profile's opt-level, so the root
//! `Cargo.toml` optimises `aws-lc-sys` in the dev profile (0.12 s per derivation rather than
//! 0.33 s), and the curve crates (one scalar multiplication each) as well.

use std::num::NonZeroU32;

use alloy_primitives::Address;
use aws_lc_rs::pbkdf2;
use data_encoding::BASE32_NOPAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha512_256};
use thiserror::Error;
use zeroize::Zeroizing;

/// PBKDF2 rounds fixed by ARC-76 (also part of the derived strings).
pub const ITERATIONS: NonZeroU32 = match NonZeroU32::new(999_999) {
    Some(iterations) => iterations,
    None => unreachable!(),
};
/// Length of the derived seed: an ed25519 secret seed and a secp256k1 private key.
pub const SEED_LEN: usize = 32;
/// The ARC-76 minimum password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 16;
/// The largest slot every implementation can represent (the .NET library takes an `int`).
pub const MAX_SLOT: u32 = i32::MAX as u32;

const PREFIX: &str = "ARC-0076-";
const SUFFIX: &str = "-PBKDF2-999999";
const ALGORAND_CHECKSUM_LEN: usize = 4;
const ALGORAND_ADDRESS_LEN: usize = 58;

/// Why no account was derived. Never carries the password or the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Arc76Error {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the email is empty: derive the password-only account with no email instead")]
    EmptyEmail,
    #[error("the email has non-ASCII characters, which ARC-76 implementations derive differently")]
    NonAsciiEmail,
    #[error("the email is not canonical: trim it and lower-case it before deriving")]
    EmailNotCanonical,
    #[error("slot {slot} is above {MAX_SLOT}, the largest every ARC-76 implementation accepts")]
    SlotOutOfRange { slot: u32 },
    /// Probability about 2^-128: the seed is zero or not below the secp256k1 group order.
    #[error("the seed is not a valid secp256k1 private key")]
    SeedNotSecp256k1Key,
}

/// Why a string is not an Algorand address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AlgorandAddressError {
    #[error("an Algorand address is {ALGORAND_ADDRESS_LEN} base32 characters")]
    Malformed,
    #[error("the Algorand address checksum does not match")]
    ChecksumMismatch,
}

/// The ARC-76 seed of `email` (already canonical: trimmed and lower-cased by the caller; `None`
/// for the password-only variant), `password` and `slot` (0 for the first account).
///
/// CPU-bound for about 0.1 s: async callers run it in `spawn_blocking`.
pub fn derive_seed(
    email: Option<&str>,
    password: &SecretString,
    slot: u32,
) -> Result<Zeroizing<[u8; SEED_LEN]>, Arc76Error> {
    let password = password.expose_secret();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Arc76Error::PasswordTooShort);
    }
    if let Some(email) = email {
        check_email(email)?;
    }
    if slot > MAX_SLOT {
        return Err(Arc76Error::SlotOutOfRange { slot });
    }

    let slot = slot.to_string();
    let email_part_len = email.map_or(0, |e| e.len() + 1);
    let mut salt = String::with_capacity(PREFIX.len() + email_part_len + slot.len() + SUFFIX.len());
    // The input holds the password: exact capacity, so no reallocation leaves a copy behind.
    let mut input = Zeroizing::new(String::with_capacity(
        PREFIX.len() + email_part_len + password.len() + 1 + slot.len() + SUFFIX.len(),
    ));
    for s in [&mut salt, &mut *input] {
        s.push_str(PREFIX);
        if let Some(email) = email {
            s.push_str(email);
            s.push('-');
        }
    }
    input.push_str(password);
    input.push('-');
    for s in [&mut salt, &mut *input] {
        s.push_str(&slot);
        s.push_str(SUFFIX);
    }

    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ITERATIONS,
        salt.as_bytes(),
        input.as_bytes(),
        &mut seed[..],
    );
    Ok(seed)
}

fn check_email(email: &str) -> Result<(), Arc76Error> {
    if email.is_empty() {
        return Err(Arc76Error::EmptyEmail);
    }
    if !email.is_ascii() {
        return Err(Arc76Error::NonAsciiEmail);
    }
    if email.trim() != email || email.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Arc76Error::EmailNotCanonical);
    }
    Ok(())
}

/// The public addresses of one ARC-76 seed. Holds nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arc76Accounts {
    /// 58 characters of base32, checksummed.
    pub algorand_address: String,
    /// `0x` + 40 hex digits with the EIP-55 checksum.
    pub evm_address: String,
}

impl Arc76Accounts {
    /// Both addresses of a seed (from [`derive_seed`] or [`crate::accounts::mnemonic`]).
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Result<Self, Arc76Error> {
        Ok(Self {
            algorand_address: algorand_address(seed),
            evm_address: evm_address(seed)?,
        })
    }
}

/// The Algorand address of a seed used as an RFC 8032 ed25519 secret seed.
pub fn algorand_address(seed: &[u8; SEED_LEN]) -> String {
    // SigningKey zeroizes itself on drop.
    let signing_key = ed25519_dalek::SigningKey::from_bytes(seed);
    algorand_address_from_public_key(&signing_key.verifying_key().to_bytes())
}

/// base32 (RFC 4648, no padding) of `public_key || last 4 bytes of SHA-512/256(public_key)`.
pub fn algorand_address_from_public_key(public_key: &[u8; 32]) -> String {
    let digest = Sha512_256::digest(public_key);
    let mut bytes = [0u8; 32 + ALGORAND_CHECKSUM_LEN];
    bytes[..32].copy_from_slice(public_key);
    bytes[32..].copy_from_slice(&digest[digest.len() - ALGORAND_CHECKSUM_LEN..]);
    BASE32_NOPAD.encode(&bytes)
}

/// The ed25519 public key of an Algorand address, its checksum verified.
pub fn decode_algorand_address(address: &str) -> Result<[u8; 32], AlgorandAddressError> {
    if address.len() != ALGORAND_ADDRESS_LEN {
        return Err(AlgorandAddressError::Malformed);
    }
    let bytes = BASE32_NOPAD
        .decode(address.as_bytes())
        .map_err(|_| AlgorandAddressError::Malformed)?;
    let public_key: [u8; 32] = bytes
        .get(..32)
        .and_then(|key| key.try_into().ok())
        .ok_or(AlgorandAddressError::Malformed)?;
    if algorand_address_from_public_key(&public_key) != address {
        return Err(AlgorandAddressError::ChecksumMismatch);
    }
    Ok(public_key)
}

/// The EIP-55 checksummed EVM address of a seed used as a secp256k1 private key.
pub fn evm_address(seed: &[u8; SEED_LEN]) -> Result<String, Arc76Error> {
    // SigningKey zeroizes its scalar on drop.
    let signing_key =
        k256::ecdsa::SigningKey::from_slice(seed).map_err(|_| Arc76Error::SeedNotSecp256k1Key)?;
    Ok(Address::from_private_key(&signing_key).to_checksum(None))
}

/// The seed as an EVM private key, as wallets import it: `0x` + 64 lower-case hex digits.
pub fn evm_private_key_hex(seed: &[u8; SEED_LEN]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = Zeroizing::new(String::with_capacity(2 + 2 * SEED_LEN));
    hex.push_str("0x");
    for &byte in seed {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    const VECTOR_PASSWORD: &str = "12345678901234567890123456789012345678901234567890";

    fn password(s: &str) -> SecretString {
        SecretString::from(s)
    }

    fn seed_from_hex(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn reference_vector_with_email() {
        let started = Instant::now();
        let seed = derive_seed(Some("email@example.com"), &password(VECTOR_PASSWORD), 0).unwrap();
        eprintln!("one ARC-76 derivation took {:?}", started.elapsed());
        assert_eq!(
            hex::encode(*seed),
            "e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915"
        );
        let accounts = Arc76Accounts::from_seed(&seed).unwrap();
        assert_eq!(
            accounts.algorand_address,
            "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM"
        );
        assert_eq!(
            accounts.evm_address,
            "0x0b6CEF2E7844F27019Fce92205F5FedF684c6926"
        );
    }

    #[test]
    fn reference_vector_without_email() {
        let seed = derive_seed(None, &password(VECTOR_PASSWORD), 0).unwrap();
        assert_eq!(
            hex::encode(*seed),
            "9365ff3d966fdb3b8765e27007677440e67382ed4503c2d00a39638548e13c22"
        );
        let accounts = Arc76Accounts::from_seed(&seed).unwrap();
        assert_eq!(
            accounts.algorand_address,
            "GIMN3RFDRRWFD7KIFSVRMXC4JXYD5ZXKT7KSN57OG4RAZPPC3L3YDM46NQ"
        );
        assert_eq!(
            accounts.evm_address,
            "0x6fD4983EaC3F958d1BF2009be4FCc0E8792A8AC6"
        );
    }

    #[test]
    fn evm_private_key_is_the_seed_in_prefixed_lower_case_hex() {
        let seed =
            seed_from_hex("e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915");
        assert_eq!(
            evm_private_key_hex(&seed).as_str(),
            "0xe1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915"
        );
    }

    #[test]
    fn passwords_shorter_than_16_characters_are_refused() {
        let refused = [
            "",
            "123456789012345",
            // 30 bytes but 15 characters: npm would take it, PyPI would not.
            "ééééééééééééééé",
            // 32 bytes and 16 UTF-16 units but 8 characters: npm would take it, PyPI would not.
            "😀😀😀😀😀😀😀😀",
        ];
        for p in refused {
            assert_eq!(
                derive_seed(Some("a@b.c"), &password(p), 0).err(),
                Some(Arc76Error::PasswordTooShort),
                "{p:?}"
            );
            assert_eq!(
                derive_seed(None, &password(p), 0).err(),
                Some(Arc76Error::PasswordTooShort)
            );
        }
    }

    #[test]
    fn emails_some_implementation_would_derive_differently_are_refused() {
        let p = password(VECTOR_PASSWORD);
        assert_eq!(
            derive_seed(Some(""), &p, 0).err(),
            Some(Arc76Error::EmptyEmail)
        );
        for email in ["josé@example.com", "用户@例子.广告", "a@b.c\u{a0}"] {
            assert_eq!(
                derive_seed(Some(email), &p, 0).err(),
                Some(Arc76Error::NonAsciiEmail)
            );
        }
        for email in [
            "Email@example.com",
            " email@example.com",
            "email@example.com\n",
        ] {
            assert_eq!(
                derive_seed(Some(email), &p, 0).err(),
                Some(Arc76Error::EmailNotCanonical)
            );
        }
    }

    #[test]
    fn slots_beyond_i32_are_refused() {
        let p = password(VECTOR_PASSWORD);
        assert_eq!(
            derive_seed(None, &p, MAX_SLOT + 1).err(),
            Some(Arc76Error::SlotOutOfRange { slot: MAX_SLOT + 1 })
        );
        assert_eq!(
            derive_seed(None, &p, u32::MAX).err(),
            Some(Arc76Error::SlotOutOfRange { slot: u32::MAX })
        );
    }

    #[test]
    fn seeds_outside_the_secp256k1_scalar_range_are_refused() {
        assert_eq!(
            Arc76Accounts::from_seed(&[0; 32]),
            Err(Arc76Error::SeedNotSecp256k1Key)
        );
        assert_eq!(
            evm_address(&[0xff; 32]),
            Err(Arc76Error::SeedNotSecp256k1Key)
        );
    }

    #[test]
    fn algorand_address_decodes_to_its_public_key_and_checks_the_checksum() {
        let address = "5AHWQJ5D52K4GRW4JWQ5GMR53F7PDSJEGT4PXVFSBQYE7VXDVG3WSPWSBM";
        let seed =
            seed_from_hex("e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915");
        let public_key = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        assert_eq!(decode_algorand_address(address), Ok(public_key));

        let altered = address.replacen('5', "6", 1);
        assert_eq!(
            decode_algorand_address(&altered),
            Err(AlgorandAddressError::ChecksumMismatch)
        );
        assert_eq!(
            decode_algorand_address(&address[1..]),
            Err(AlgorandAddressError::Malformed)
        );
        assert_eq!(
            decode_algorand_address(&address.to_lowercase()),
            Err(AlgorandAddressError::Malformed)
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let seed = Zeroizing::new(seed_from_hex(
            "e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915",
        ));
        let key = evm_private_key_hex(&seed);
        for shown in [
            format!("{seed:?}"),
            format!("{key:?}"),
            format!("{:?}", password(VECTOR_PASSWORD)),
        ] {
            assert!(
                !shown.contains("e1") && !shown.contains("225") && !shown.contains("1234"),
                "{shown}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Works on seeds, not derivations: PBKDF2 is far too slow for property tests.
        #[test]
        fn addresses_of_any_seed_carry_valid_checksums(seed in any::<[u8; 32]>()) {
            let accounts = match Arc76Accounts::from_seed(&seed) {
                Ok(accounts) => accounts,
                Err(_) => return Err(TestCaseError::reject("not a secp256k1 scalar")),
            };

            // Algorand: decode the base32 by hand and recompute the checksum.
            prop_assert_eq!(accounts.algorand_address.len(), 58);
            let bytes = BASE32_NOPAD.decode(accounts.algorand_address.as_bytes()).unwrap();
            prop_assert_eq!(bytes.len(), 36);
            let public_key = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            prop_assert_eq!(&bytes[..32], &public_key[..]);
            prop_assert_eq!(&bytes[32..], &Sha512_256::digest(&bytes[..32])[28..]);
            prop_assert_eq!(decode_algorand_address(&accounts.algorand_address), Ok(public_key));

            // EVM: alloy's own EIP-55 parser accepts the checksum.
            prop_assert!(Address::parse_checksummed(&accounts.evm_address, None).is_ok());
            prop_assert!(accounts.evm_address.starts_with("0x"));
            prop_assert_eq!(accounts.evm_address.len(), 42);
        }
    }
}
