//! Passwords: argon2id hashes, the length rule, and a dummy verification for unknown users so
//! that an unknown username and a wrong password take the same time.

use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::i18n::{Msg, Rule};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 1024;

pub fn check_rules(password: &str) -> Result<(), Msg> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(Rule::TooShort.with("min", MIN_LENGTH));
    }
    if n > MAX_LENGTH {
        return Err(Rule::TooLong.with("max", MAX_LENGTH));
    }
    Ok(())
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

pub fn verify(stored_hash: &str, password: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same work as a real verification, for usernames that do not exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let h = DUMMY.get_or_init(|| hash("fieldstar-dummy-password"));
    let _ = verify(h, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "correct horse batterx"));
        assert!(!verify("not a hash", "x"));
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert!(check_rules("123456789").is_err());
        assert!(check_rules("一二三四五六七八九十").is_ok());
    }
}
