//! The password: the rule it must meet, and how it is stored.
//!
//! With ARC-76 the password *is* the key: anyone who guesses it (with the email) holds the
//! user's accounts, and the addresses are public, so guesses can be checked offline against
//! them at the cost of one PBKDF2 (999,999 rounds) each. The rule therefore asks for what
//! zxcvbn calls strong protection against an offline slow-hash attack (score 4, about 10^10
//! guesses or more), on top of the ARC-76 minimum of 16 characters, and it counts the user's
//! own email and name as known to the attacker.
//!
//! The password's exact UTF-8 bytes are used, without normalisation, because every ARC-76
//! implementation does the same: a user recovering their accounts elsewhere must type the
//! same characters.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

/// The ARC-76 minimum.
pub const MIN_CHARS: usize = 16;
/// Long enough for any passphrase, short enough that hashing it is cheap.
pub const MAX_BYTES: usize = 256;

/// Why a password was refused, with what the user can do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeakPassword {
    /// Stable codes: `too_short`, `too_long`, `control_characters`, `too_guessable`.
    pub reasons: Vec<&'static str>,
    /// Sentences a person can act on.
    pub feedback: Vec<String>,
}

/// Check the rule. `known_to_attacker` are the user's own strings (email, its parts, display
/// name), which an attacker would try first.
pub fn check_strength(password: &str, known_to_attacker: &[&str]) -> Result<(), WeakPassword> {
    let mut weak = WeakPassword {
        reasons: Vec::new(),
        feedback: Vec::new(),
    };
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        weak.reasons.push("too_short");
        weak.feedback.push(format!(
            "Use at least {MIN_CHARS} characters (this one has {chars}); a few unrelated words make a long password easy to remember."
        ));
    }
    if password.len() > MAX_BYTES {
        weak.reasons.push("too_long");
        weak.feedback
            .push(format!("Use at most {MAX_BYTES} bytes."));
    }
    if password.chars().any(char::is_control) {
        weak.reasons.push("control_characters");
        weak.feedback
            .push("Remove control characters such as tabs and line breaks.".into());
    }
    if weak.reasons.is_empty() {
        let estimate = zxcvbn::zxcvbn(password, known_to_attacker);
        if estimate.score() < zxcvbn::Score::Four {
            weak.reasons.push("too_guessable");
            if let Some(feedback) = estimate.feedback() {
                if let Some(warning) = feedback.warning() {
                    weak.feedback.push(warning.to_string());
                }
                weak.feedback
                    .extend(feedback.suggestions().iter().map(ToString::to_string));
            }
            weak.feedback.push(
                "Avoid names, dates, keyboard patterns and parts of your email; add more unrelated words."
                    .into(),
            );
        }
    }
    if weak.reasons.is_empty() {
        Ok(())
    } else {
        Err(weak)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("stored password hash is malformed: {0}")]
    Malformed(String),
}

/// Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). A stolen hash is
/// never the weakest link here: the public address already allows an offline attack on the
/// password through PBKDF2, so a costlier setting would buy latency, not safety, and 19 MiB
/// fits small Lambda functions.
fn argon2() -> Result<Argon2<'static>, PasswordHashError> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| PasswordHashError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with a random salt.
/// CPU- and memory-bound: call it from a blocking thread.
pub fn hash(password: &SecretString) -> Result<String, PasswordHashError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()?
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordHashError::Hashing(e.to_string()))
}

/// Whether `password` matches the stored PHC string (constant-time comparison).
/// CPU- and memory-bound: call it from a blocking thread.
pub fn verify(password: &SecretString, stored: &str) -> Result<bool, PasswordHashError> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| PasswordHashError::Malformed(e.to_string()))?;
    Ok(argon2()?
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_guessable_and_control_passwords_are_refused_with_reasons() {
        let weak = check_strength("Password1!", &[]).unwrap_err();
        assert_eq!(weak.reasons, ["too_short"]);
        assert!(weak.feedback[0].contains("16"));

        let weak = check_strength("passwordpassword1234", &[]).unwrap_err();
        assert_eq!(weak.reasons, ["too_guessable"]);
        assert!(weak.feedback.len() >= 2, "{weak:?}");

        let weak = check_strength("correct horse\nbattery staple x", &[]).unwrap_err();
        assert_eq!(weak.reasons, ["control_characters"]);

        assert_eq!(
            check_strength(&"x".repeat(300), &[]).unwrap_err().reasons,
            ["too_long"]
        );
    }

    #[test]
    fn the_users_own_strings_count_against_the_password() {
        // Strong on its own, but nothing an attacker who knows the user would not try first.
        let password = "maple-thunder-wolfhound";
        assert!(check_strength(password, &[]).is_ok());
        let weak = check_strength(
            password,
            &[
                "maple-thunder-wolfhound@example.com",
                "maple-thunder-wolfhound",
                "maple",
                "thunder",
                "wolfhound",
            ],
        )
        .unwrap_err();
        assert_eq!(weak.reasons, ["too_guessable"]);
    }

    #[test]
    fn a_long_unrelated_passphrase_passes() {
        assert!(check_strength("lunar cactus violin 42 drizzle", &["bob@example.com"]).is_ok());
        assert!(check_strength("Tq8#vL2!pZ9@wX4$", &[]).is_ok());
    }

    #[test]
    fn hashes_verify_only_their_password_and_are_salted() {
        let password = SecretString::from("lunar cactus violin 42 drizzle");
        let first = hash(&password).unwrap();
        let second = hash(&password).unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second);
        assert!(verify(&password, &first).unwrap());
        assert!(
            !verify(
                &SecretString::from("lunar cactus violin 42 drizzlE"),
                &first
            )
            .unwrap()
        );
        assert!(verify(&password, "not a hash").is_err());
    }
}
