//! Signing primitives: HS256 JWTs for the emulator's own Entra tokens, an HMAC-signed envelope for embed tokens,
//! and RS256 / ES256 keys for the portal identity provider (`/__emulator/idp/*`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

pub fn unb64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s.trim_end_matches('=')).ok()
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand_core::RngCore;
    let mut b = [0u8; N];
    rand_core::OsRng.fill_bytes(&mut b);
    b
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("any key length works for HMAC");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hmac_ok(key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    let mut m = HmacSha256::new_from_slice(key).expect("any key length works for HMAC");
    m.update(data);
    m.verify_slice(sig).is_ok()
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
}

/// HS256 JWT with the given header extras and claims.
pub fn hs256_sign(key: &[u8], kid: &str, claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "HS256", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = hmac(key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig))
}

/// Verifies an HS256 JWT's signature and returns its claims (expiry is the caller's business).
pub fn hs256_verify(key: &[u8], token: &str) -> Result<Value, TokenError> {
    let mut parts = token.split('.');
    let (h, c, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(c), Some(s), None) => (h, c, s),
        _ => return Err(TokenError::Malformed),
    };
    let header: Value = unb64(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let sig = unb64(s).ok_or(TokenError::Malformed)?;
    if !hmac_ok(key, format!("{h}.{c}").as_bytes(), &sig) {
        return Err(TokenError::BadSignature);
    }
    unb64(c)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)
}

/// Embed tokens: `EGE1.<base64url payload>.<base64url HMAC-SHA256>`; opaque to clients, like the service's.
pub const EMBED_PREFIX: &str = "EGE1";

pub fn embed_sign(key: &[u8], payload: &Value) -> String {
    let body = b64(payload.to_string().as_bytes());
    let input = format!("{EMBED_PREFIX}.{body}");
    let sig = hmac(key, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

pub fn embed_verify(key: &[u8], token: &str) -> Result<Value, TokenError> {
    let mut parts = token.trim().split('.');
    let (p, body, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(b), Some(s), None) if p == EMBED_PREFIX => (p, b, s),
        _ => return Err(TokenError::Malformed),
    };
    let sig = unb64(s).ok_or(TokenError::Malformed)?;
    if !hmac_ok(key, format!("{p}.{body}").as_bytes(), &sig) {
        return Err(TokenError::BadSignature);
    }
    unb64(body)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)
}

/// One signing key of the portal identity provider.
pub enum IdpKey {
    Rsa {
        kid: String,
        key: Box<rsa::RsaPrivateKey>,
    },
    Ec {
        kid: String,
        key: p256::ecdsa::SigningKey,
    },
}

impl IdpKey {
    pub fn kid(&self) -> &str {
        match self {
            IdpKey::Rsa { kid, .. } | IdpKey::Ec { kid, .. } => kid,
        }
    }
    pub fn alg(&self) -> &'static str {
        match self {
            IdpKey::Rsa { .. } => "RS256",
            IdpKey::Ec { .. } => "ES256",
        }
    }

    pub fn generate(alg: &str) -> Option<IdpKey> {
        let kid = format!(
            "{}-{}",
            alg.to_ascii_lowercase(),
            &b64(&random_bytes::<9>())
        );
        match alg {
            "RS256" => {
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).ok()?;
                Some(IdpKey::Rsa {
                    kid,
                    key: Box::new(key),
                })
            }
            "ES256" => Some(IdpKey::Ec {
                kid,
                key: p256::ecdsa::SigningKey::random(&mut rand_core::OsRng),
            }),
            _ => None,
        }
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> Value {
        match self {
            IdpKey::Rsa { kid, key } => {
                use rsa::traits::PublicKeyParts;
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                       "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())})
            }
            IdpKey::Ec { kid, key } => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
                       "x": b64(point.x().expect("uncompressed point")),
                       "y": b64(point.y().expect("uncompressed point"))})
            }
        }
    }

    /// A compact JWS over `claims`; `kid_override` lets negative tests put a foreign kid in the header.
    pub fn sign_jwt(&self, claims: &Value, kid_override: Option<&str>) -> String {
        let header =
            json!({"typ": "JWT", "alg": self.alg(), "kid": kid_override.unwrap_or(self.kid())});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match self {
            IdpKey::Rsa { key, .. } => {
                let digest = Sha256::digest(input.as_bytes());
                key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
                    .expect("RSA signing with a valid key")
            }
            IdpKey::Ec { key, .. } => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
        };
        format!("{input}.{}", b64(&sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_roundtrip_and_tamper() {
        let key = b"k1";
        let t = hs256_sign(key, "x", &json!({"a": 1}));
        assert_eq!(hs256_verify(key, &t).unwrap()["a"], 1);
        assert_eq!(hs256_verify(b"k2", &t), Err(TokenError::BadSignature));
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64(br#"{"a":2}"#);
        parts[1] = &forged;
        assert_eq!(
            hs256_verify(key, &parts.join(".")),
            Err(TokenError::BadSignature)
        );
        assert_eq!(hs256_verify(key, "abc"), Err(TokenError::Malformed));
    }

    #[test]
    fn embed_roundtrip() {
        let t = embed_sign(b"k", &json!({"r": ["a"]}));
        assert!(t.starts_with("EGE1."));
        assert_eq!(embed_verify(b"k", &t).unwrap()["r"][0], "a");
        assert_eq!(embed_verify(b"j", &t), Err(TokenError::BadSignature));
    }

    #[test]
    fn es256_signature_verifies_with_public_key() {
        use p256::ecdsa::signature::Verifier;
        let k = IdpKey::generate("ES256").unwrap();
        let jwt = k.sign_jwt(&json!({"sub": "u"}), None);
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&unb64(sig).unwrap()).unwrap();
        let IdpKey::Ec { key, .. } = &k else {
            unreachable!()
        };
        key.verifying_key().verify(input.as_bytes(), &sig).unwrap();
        assert_eq!(k.jwk()["crv"], "P-256");
    }
}
