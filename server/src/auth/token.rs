//! Access tokens (JWT, HS256 only, 15 minutes, required exp/iss/aud) and opaque refresh
//! tokens (random, stored as SHA-256, rotated on every use).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scope::{OrgLevel, Scope};

use super::Role;

pub const ISSUER: &str = "fieldstar";
pub const AUDIENCE: &str = "fieldstar-api";
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_DAYS: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// The user's org unit id.
    pub scope: String,
    pub scope_level: OrgLevel,
    pub county: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    pub fn scope(&self) -> Scope {
        Scope {
            unit_id: self.scope.clone(),
            level: self.scope_level,
            county_id: self.county.clone(),
        }
    }
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        // One algorithm only: a token naming `none`, RS256 or anything else is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 30;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(
        &self,
        user_id: &str,
        username: &str,
        role: Role,
        scope: &Scope,
        now: i64,
    ) -> String {
        let claims = Claims {
            sub: user_id.to_string(),
            name: username.to_string(),
            role,
            scope: scope.unit_id.clone(),
            scope_level: scope.level,
            county: scope.county_id.clone(),
            exp: now + ACCESS_TTL_SECS,
            iat: now,
            jti: uuid::Uuid::now_v7().to_string(),
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// A new opaque refresh token: 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How long after a refresh token was spent it may come back as a **retry**: its answer (the new
/// pair) was lost on the way, and the phone, still holding the spent token, asks again. The
/// phone gives up on an answer after 30 s and tries again within 10 s; two minutes leave room
/// for a signal that comes and goes.
pub const REFRESH_RETRY_SECS: i64 = 120;

/// What a presented refresh token is, and so what the server does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// Unused, unrevoked, unexpired: spend it and issue its successor.
    Fresh,
    /// Spent within `REFRESH_RETRY_SECS`, and nothing of its family was used since: the answer
    /// was lost. Its unused successor is revoked and a new one issued in its place.
    Retry,
    /// Two holders of one session: a spent token after its family moved on (or after the retry
    /// window), or a token replaced by a retry presented while its family lives. The family ends.
    Copied,
    /// Expired, or revoked with its whole family (logout, password change): refused, no more.
    Dead,
}

/// The state of a presented refresh token and its family, as read in the refresh's transaction.
#[derive(Debug, Clone, Copy)]
pub struct RefreshState {
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// The family has an unused, unrevoked token (it is not over). Read only for a token that
    /// is used or revoked: an unused one is fresh (or dead) whatever its family.
    pub family_lives: bool,
    /// Some token of the family was used after this one was.
    pub family_used_since: bool,
}

/// Judges a presented refresh token at `now` (rotation with reuse detection, and the lost
/// answer's retry). Pure: the clock comes in.
pub fn judge(t: &RefreshState, now: NaiveDateTime) -> Presented {
    if t.revoked_at.is_some() {
        // Revoked alone while the family lives: replaced by a retry, so someone else holds it.
        return if t.family_lives {
            Presented::Copied
        } else {
            Presented::Dead
        };
    }
    if t.expires_at <= now {
        return Presented::Dead;
    }
    match t.used_at {
        None => Presented::Fresh,
        Some(used) => {
            let recent = now - used <= chrono::Duration::seconds(REFRESH_RETRY_SECS);
            if recent && t.family_lives && !t.family_used_since {
                Presented::Retry
            } else {
                Presented::Copied
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    /// A token of a live family, spent at 10:00:00 unless told otherwise, expiring in May.
    fn spent(used: &str) -> RefreshState {
        RefreshState {
            expires_at: at("2026-05-01T00:00:00"),
            used_at: Some(at(used)),
            revoked_at: None,
            family_lives: true,
            family_used_since: false,
        }
    }

    #[test]
    fn an_unused_token_is_fresh_until_it_expires() {
        let t = RefreshState {
            used_at: None,
            ..spent("2026-04-01T10:00:00")
        };
        assert_eq!(judge(&t, at("2026-04-01T10:00:00")), Presented::Fresh);
        assert_eq!(judge(&t, at("2026-04-30T23:59:59")), Presented::Fresh);
        assert_eq!(judge(&t, at("2026-05-01T00:00:00")), Presented::Dead);
    }

    #[test]
    fn a_spent_token_back_within_two_minutes_is_a_retry_and_after_them_a_copy() {
        let t = spent("2026-04-01T10:00:00");
        assert_eq!(judge(&t, at("2026-04-01T10:00:00")), Presented::Retry);
        assert_eq!(judge(&t, at("2026-04-01T10:02:00")), Presented::Retry);
        assert_eq!(
            judge(&t, at("2026-04-01T10:02:00.000001")),
            Presented::Copied
        );
        assert_eq!(judge(&t, at("2026-04-02T10:00:00")), Presented::Copied);
    }

    #[test]
    fn a_spent_token_is_a_copy_once_its_family_moved_on_or_ended() {
        let moved_on = RefreshState {
            family_used_since: true,
            ..spent("2026-04-01T10:00:00")
        };
        assert_eq!(
            judge(&moved_on, at("2026-04-01T10:00:30")),
            Presented::Copied
        );
        let no_live_successor = RefreshState {
            family_lives: false,
            ..spent("2026-04-01T10:00:00")
        };
        assert_eq!(
            judge(&no_live_successor, at("2026-04-01T10:00:30")),
            Presented::Copied
        );
    }

    #[test]
    fn a_revoked_token_is_a_copy_while_its_family_lives_and_dead_after() {
        let replaced = RefreshState {
            used_at: None,
            revoked_at: Some(at("2026-04-01T10:00:10")),
            ..spent("2026-04-01T10:00:00")
        };
        assert_eq!(
            judge(&replaced, at("2026-04-01T10:05:00")),
            Presented::Copied
        );
        let ended = RefreshState {
            family_lives: false,
            ..replaced
        };
        assert_eq!(judge(&ended, at("2026-04-01T10:05:00")), Presented::Dead);
        // A spent token of an ended family (logout after a rotation) is refused without more.
        let spent_then_ended = RefreshState {
            revoked_at: Some(at("2026-04-01T10:01:00")),
            family_lives: false,
            ..spent("2026-04-01T10:00:00")
        };
        assert_eq!(
            judge(&spent_then_ended, at("2026-04-01T10:01:30")),
            Presented::Dead
        );
    }

    #[test]
    fn an_expired_token_is_dead_even_within_the_retry_window() {
        let t = RefreshState {
            expires_at: at("2026-04-01T10:00:30"),
            ..spent("2026-04-01T10:00:00")
        };
        assert_eq!(judge(&t, at("2026-04-01T10:00:31")), Presented::Dead);
    }

    fn scope() -> Scope {
        Scope {
            unit_id: "c".into(),
            level: OrgLevel::County,
            county_id: "c".into(),
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn sign(claims: &serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn good_claims() -> serde_json::Value {
        serde_json::json!({
            "sub": "u", "name": "n", "role": "admin", "scope": "c", "scope_level": "county",
            "county": "c", "exp": now() + 60, "iat": now(), "jti": "j", "iss": ISSUER, "aud": AUDIENCE
        })
    }

    #[test]
    fn an_issued_token_verifies_and_carries_the_scope() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let t = keys.issue("u1", "admin", Role::Admin, &scope(), now());
        let c = keys.verify(&t).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.role, c.scope()),
            ("u1", Role::Admin, scope())
        );
        assert_eq!(c.exp - c.iat, ACCESS_TTL_SECS);
    }

    #[test]
    fn forged_expired_and_mistyped_tokens_are_refused() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = TokenKeys::new(secret);
        assert!(keys
            .verify(&sign(&good_claims(), Algorithm::HS256, secret))
            .is_some());
        assert!(keys
            .verify(&sign(
                &good_claims(),
                Algorithm::HS256,
                b"another secret of 32 bytes......"
            ))
            .is_none());
        assert!(keys
            .verify(&sign(&good_claims(), Algorithm::HS512, secret))
            .is_none());
        for (field, value) in [
            ("exp", serde_json::json!(now() - 3600)),
            ("exp", serde_json::json!("9999999999")),
            ("iss", serde_json::json!("someone")),
            ("aud", serde_json::json!("other-api")),
        ] {
            let mut c = good_claims();
            c[field] = value;
            assert!(
                keys.verify(&sign(&c, Algorithm::HS256, secret)).is_none(),
                "{field}"
            );
        }
        for missing in ["exp", "iss", "aud"] {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(missing);
            assert!(
                keys.verify(&sign(&c, Algorithm::HS256, secret)).is_none(),
                "{missing}"
            );
        }
        // alg: none
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(good_claims().to_string());
        assert!(keys.verify(&format!("{header}.{body}.")).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
    }
}
