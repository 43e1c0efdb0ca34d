//! The Algorand 25-word account mnemonic: how a user takes the ARC-76 seed into any Algorand
//! wallet (Pera, Defly, algosdk's `mnemonicToSecretKey`).
//!
//! It borrows the BIP-39 English word list but not BIP-39 itself: the 32-byte seed is read as a
//! little-endian bit stream and cut into 24 eleven-bit word indices (the last one carries only
//! the 3 remaining bits); the 25th word is the first 11 bits (same split) of
//! SHA-512/256(seed). The mnemonic encodes the seed itself, so the two convert both ways.
//!
//! Every intermediate (word indices, bit buffers, strings) is zeroized: a mnemonic is the key.

use bip39::Language;
use sha2::{Digest, Sha512_256};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

/// Words in an Algorand account mnemonic: 24 carrying the seed plus one checksum word.
pub const MNEMONIC_WORDS: usize = 25;

const SEED_LEN: usize = 32;
const DATA_WORDS: usize = MNEMONIC_WORDS - 1;
const WORD_BITS: u32 = 11;
const WORD_MASK: u32 = (1 << WORD_BITS) - 1;

/// Why a mnemonic was refused. The offending word itself is never included: it is a fragment
/// of a secret and error messages end up in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MnemonicError {
    #[error("an Algorand mnemonic has {MNEMONIC_WORDS} words, found {found}")]
    WordCount { found: usize },
    /// `position` counts from 1, as a person reads the mnemonic.
    #[error("word {position} of the mnemonic is not in the BIP-39 English word list")]
    UnknownWord { position: usize },
    /// The 24th word carries only 3 bits of the seed; its other 8 bits must be zero.
    #[error("the 24th word of the mnemonic encodes bits beyond the 32-byte seed")]
    NonCanonical,
    #[error("the mnemonic checksum (25th word) does not match: a word is wrong or misplaced")]
    ChecksumMismatch,
}

/// The 25-word mnemonic of a 32-byte seed, words separated by single spaces.
pub fn seed_to_mnemonic(seed: &[u8; SEED_LEN]) -> Zeroizing<String> {
    let mut indices = Zeroizing::new([0u16; MNEMONIC_WORDS]);
    let data_words = bytes_to_indices(seed, &mut indices[..DATA_WORDS]);
    debug_assert_eq!(data_words, DATA_WORDS);
    indices[DATA_WORDS] = checksum_index(seed);

    let words = Language::English.word_list();
    // Exact capacity, so that no reallocation leaves an unzeroized copy behind.
    let length = indices
        .iter()
        .map(|&i| words[usize::from(i)].len())
        .sum::<usize>()
        + DATA_WORDS;
    let mut mnemonic = Zeroizing::new(String::with_capacity(length));
    for (n, &index) in indices.iter().enumerate() {
        if n > 0 {
            mnemonic.push(' ');
        }
        mnemonic.push_str(words[usize::from(index)]);
    }
    mnemonic
}

/// The seed of a 25-word mnemonic, its checksum verified. Words may be separated by any
/// whitespace and are matched case-insensitively (people type them back by hand).
pub fn mnemonic_to_seed(mnemonic: &str) -> Result<Zeroizing<[u8; SEED_LEN]>, MnemonicError> {
    let found = mnemonic.split_whitespace().count();
    if found != MNEMONIC_WORDS {
        return Err(MnemonicError::WordCount { found });
    }
    let mut indices = Zeroizing::new([0u16; MNEMONIC_WORDS]);
    for (n, word) in mnemonic.split_whitespace().enumerate() {
        indices[n] = find_word(word).ok_or(MnemonicError::UnknownWord { position: n + 1 })?;
    }

    // 24 words × 11 bits = 264 bits: the 32 seed bytes and one byte that must be zero.
    let mut bytes = Zeroizing::new([0u8; SEED_LEN + 1]);
    indices_to_bytes(&indices[..DATA_WORDS], &mut bytes[..]);
    if bytes[SEED_LEN] != 0 {
        return Err(MnemonicError::NonCanonical);
    }
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    seed.copy_from_slice(&bytes[..SEED_LEN]);
    if checksum_index(&seed) != indices[DATA_WORDS] {
        return Err(MnemonicError::ChecksumMismatch);
    }
    Ok(seed)
}

/// Looks a word up in the English list without copying it unless it has upper-case letters.
fn find_word(word: &str) -> Option<u16> {
    let english = Language::English;
    if word.bytes().any(|b| b.is_ascii_uppercase()) {
        let lower = Zeroizing::new(word.to_ascii_lowercase());
        english.find_word(&lower)
    } else {
        english.find_word(word)
    }
}

/// The checksum word: the first 11 bits of SHA-512/256(seed), split like the seed.
fn checksum_index(seed: &[u8; SEED_LEN]) -> u16 {
    let mut digest = Sha512_256::digest(seed);
    let mut first = [0u16; 2];
    bytes_to_indices(&digest[..2], &mut first);
    digest.zeroize();
    first[0]
}

/// Cuts bytes, read as a little-endian bit stream, into 11-bit values (a last partial group
/// becomes one more value). Returns how many values were written.
fn bytes_to_indices(bytes: &[u8], out: &mut [u16]) -> usize {
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut written = 0;
    for &byte in bytes {
        buffer |= u32::from(byte) << bits;
        bits += 8;
        if bits >= WORD_BITS {
            out[written] = (buffer & WORD_MASK) as u16;
            written += 1;
            buffer >>= WORD_BITS;
            bits -= WORD_BITS;
        }
    }
    if bits > 0 {
        out[written] = (buffer & WORD_MASK) as u16;
        written += 1;
    }
    buffer.zeroize();
    written
}

/// The inverse of [`bytes_to_indices`]: packs 11-bit values little-endian into bytes.
fn indices_to_bytes(indices: &[u16], out: &mut [u8]) {
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut written = 0;
    for &index in indices {
        buffer |= u32::from(index) << bits;
        bits += WORD_BITS;
        while bits >= 8 {
            out[written] = (buffer & 0xff) as u8;
            written += 1;
            buffer >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out[written] = (buffer & 0xff) as u8;
    }
    buffer.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The seed and mnemonic of the first ARC-76 reference vector (email@example.com).
    const VECTOR_SEED: &str = "e1078b9af5d2b58abc819135f6b8f358a3a36dd04d4707eb51f481d766a86915";
    const VECTOR_MNEMONIC: &str = "wire clown snap consider hill cargo assume muscle shop toilet \
        keep culture elder bread hub elder genius element when job soap head prize abandon borrow";

    fn vector_seed() -> [u8; 32] {
        hex::decode(VECTOR_SEED).unwrap().try_into().unwrap()
    }

    fn words(mnemonic: &str) -> Vec<String> {
        mnemonic.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn seed_to_mnemonic_matches_the_reference_vector() {
        assert_eq!(seed_to_mnemonic(&vector_seed()).as_str(), VECTOR_MNEMONIC);
    }

    #[test]
    fn mnemonic_to_seed_matches_the_reference_vector() {
        assert_eq!(*mnemonic_to_seed(VECTOR_MNEMONIC).unwrap(), vector_seed());
    }

    #[test]
    fn mnemonic_is_read_case_insensitively_with_any_whitespace() {
        let messy = format!(
            "  {}\n",
            VECTOR_MNEMONIC.to_uppercase().replace(' ', " \t ")
        );
        assert_eq!(*mnemonic_to_seed(&messy).unwrap(), vector_seed());
    }

    #[test]
    fn wrong_word_count_is_refused() {
        let mut w = words(VECTOR_MNEMONIC);
        w.pop();
        assert_eq!(
            mnemonic_to_seed(&w.join(" ")),
            Err(MnemonicError::WordCount { found: 24 })
        );
        assert_eq!(
            mnemonic_to_seed(""),
            Err(MnemonicError::WordCount { found: 0 })
        );
        let long = format!("{VECTOR_MNEMONIC} abandon");
        assert_eq!(
            mnemonic_to_seed(&long),
            Err(MnemonicError::WordCount { found: 26 })
        );
    }

    #[test]
    fn unknown_word_is_refused_by_position_without_echoing_it() {
        let mut w = words(VECTOR_MNEMONIC);
        w[6] = "zzzsecretzzz".to_owned();
        let err = mnemonic_to_seed(&w.join(" ")).unwrap_err();
        assert_eq!(err, MnemonicError::UnknownWord { position: 7 });
        assert!(!err.to_string().contains("zzzsecretzzz"));
    }

    #[test]
    fn changed_or_swapped_word_fails_the_checksum() {
        let mut w = words(VECTOR_MNEMONIC);
        w[0] = "abandon".to_owned();
        assert_eq!(
            mnemonic_to_seed(&w.join(" ")),
            Err(MnemonicError::ChecksumMismatch)
        );

        let mut w = words(VECTOR_MNEMONIC);
        w.swap(1, 2);
        assert_eq!(
            mnemonic_to_seed(&w.join(" ")),
            Err(MnemonicError::ChecksumMismatch)
        );

        let mut w = words(VECTOR_MNEMONIC);
        w[24] = "abandon".to_owned();
        assert_eq!(
            mnemonic_to_seed(&w.join(" ")),
            Err(MnemonicError::ChecksumMismatch)
        );
    }

    #[test]
    fn bits_beyond_the_seed_in_the_24th_word_are_refused() {
        // The 24th word may only use its low 3 bits (indices 0..8): "abandon".."absurd".
        let mut w = words(VECTOR_MNEMONIC);
        w[23] = Language::English.word_list()[8].to_owned();
        assert_eq!(
            mnemonic_to_seed(&w.join(" ")),
            Err(MnemonicError::NonCanonical)
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_mnemonic() {
        let mnemonic = seed_to_mnemonic(&vector_seed());
        assert!(!format!("{mnemonic:?}").contains("wire"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_seed_round_trips(seed in any::<[u8; 32]>()) {
            let mnemonic = seed_to_mnemonic(&seed);
            prop_assert_eq!(mnemonic.split(' ').count(), MNEMONIC_WORDS);
            prop_assert_eq!(*mnemonic_to_seed(&mnemonic).unwrap(), seed);
        }

        /// Any 25 words either decode to a seed that encodes back to exactly those words, or
        /// are refused: no two mnemonics open the same account.
        #[test]
        fn arbitrary_words_never_panic_and_accepted_ones_are_canonical(indices in proptest::collection::vec(0usize..2048, 25)) {
            let list = Language::English.word_list();
            let text = indices.iter().map(|&i| list[i]).collect::<Vec<_>>().join(" ");
            if let Ok(seed) = mnemonic_to_seed(&text) {
                let encoded = seed_to_mnemonic(&seed);
                prop_assert_eq!(encoded.as_str(), text.as_str());
            }
        }
    }
}
