//! Tenancy: the tenant comes from a signed bearer token (HS256 JWT, `sub` =
//! customer id, `exp`), never from a path or body field.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use crate::telemetry::TenantId;

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    #[error("the token is not a well-formed HS256 JWT")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's subject is not a valid tenant id")]
    BadTenant,
}

/// `[a-z0-9_-]{1,64}`: tenant ids end up in logs, metrics and paths.
pub fn valid_tenant(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Signs and checks tenant tokens with one shared secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    /// A token for `tenant` that expires `ttl_secs` from now (negative: already expired).
    pub fn mint(&self, tenant: &TenantId, ttl_secs: i64) -> Result<String, AuthError> {
        if !valid_tenant(tenant.as_str()) {
            return Err(AuthError::BadTenant);
        }
        let now = now_secs();
        let exp = now.saturating_add_signed(ttl_secs);
        let claims = Claims { sub: tenant.to_string(), exp, iat: now };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| AuthError::Malformed)
    }

    /// The tenant a token speaks for.
    pub fn verify(&self, token: &str) -> Result<TenantId, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            _ => AuthError::Malformed,
        })?;
        if !valid_tenant(&data.claims.sub) {
            return Err(AuthError::BadTenant);
        }
        Ok(TenantId::new(data.claims.sub))
    }

    /// The tenant of an `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<TenantId, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header.strip_prefix("Bearer ").ok_or(AuthError::Missing)?;
        self.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_tenant_and_nothing_else_will_do() {
        let keys = TokenKeys::new(b"secret-one");
        let acme = TenantId::new("acme");
        let token = keys.mint(&acme, 60).expect("mint");
        assert_eq!(keys.verify(&token), Ok(acme.clone()));
        assert_eq!(keys.verify_header(Some(&format!("Bearer {token}"))), Ok(acme.clone()));
        assert_eq!(keys.verify_header(Some(&token)), Err(AuthError::Missing));
        assert_eq!(keys.verify_header(None), Err(AuthError::Missing));

        let expired = keys.mint(&acme, -120).expect("mint");
        assert_eq!(keys.verify(&expired), Err(AuthError::Expired));
        let other_key = TokenKeys::new(b"secret-two").mint(&acme, 60).expect("mint");
        assert_eq!(keys.verify(&other_key), Err(AuthError::BadSignature));
        assert_eq!(keys.verify("not.a.token"), Err(AuthError::Malformed));

        // A forged payload (sub changed, signature kept) fails the signature check.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = r#"{"sub":"globex","exp":9999999999,"iat":0}"#;
        let forged_payload = base64_url(forged_claims.as_bytes());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(keys.verify(&forged), Err(AuthError::BadSignature));
        assert_eq!(keys.mint(&TenantId::new("Not Valid"), 60), Err(AuthError::BadTenant));
    }

    fn base64_url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}
