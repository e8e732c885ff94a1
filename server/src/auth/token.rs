//! Access tokens (JWT, HS256 only, 15 minutes, required exp/iss/aud) and opaque refresh
//! tokens (random, stored as SHA-256, rotated on every use).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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

#[cfg(test)]
mod tests {
    use super::*;

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
