//! Signature verification for the portal user's JWT (RustCrypto, pure Rust, no I/O), constant-time secret
//! comparison, and randomness. Which key may verify which algorithm is decided in
//! `embedgate_edge::jwt` (no `none`, no HS/RS confusion); this module only does the math.

use embedgate_edge::jwt::{ec_components, rsa_components, Alg};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A parsed public key from the JWKS.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(Box<rsa::RsaPublicKey>),
    P256(Box<p256::ecdsa::VerifyingKey>),
}

impl PublicKey {
    /// Parses a JWK for the algorithm it was selected for. `None` for malformed or weak keys.
    pub fn from_jwk(jwk: &Value, alg: Alg) -> Option<PublicKey> {
        match alg {
            Alg::Rs256 => {
                let (n, e) = rsa_components(jwk)?;
                let key = rsa::RsaPublicKey::new_with_max_size(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                    8192,
                )
                .ok()?;
                Some(PublicKey::Rsa(Box::new(key)))
            }
            Alg::Es256 => {
                let (x, y) = ec_components(jwk)?;
                let point =
                    p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok()?;
                Some(PublicKey::P256(Box::new(key)))
            }
            Alg::Hs256 => None,
        }
    }

    /// Verifies `signature` over `input` with this key and algorithm. A key of the other family never
    /// verifies (defence in depth: the JWK selection already refuses it).
    pub fn verify(&self, alg: Alg, input: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::Rsa(key), Alg::Rs256) => {
                let digest = Sha256::digest(input);
                key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
                    .is_ok()
            }
            (PublicKey::P256(key), Alg::Es256) => {
                use p256::ecdsa::signature::Verifier;
                let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
                    return false;
                };
                key.verify(input, &sig).is_ok()
            }
            _ => false,
        }
    }
}

/// HS256 with a shared secret; the MAC comparison is constant-time.
pub fn verify_hs256(secret: &[u8], input: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(input);
    mac.verify_slice(signature).is_ok()
}

/// Compares two secrets without leaking where they differ (both are hashed first, so lengths leak nothing
/// either).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// A uniformly random u32 (crypto.getRandomValues in workerd). Falls back to 0 only if the platform
/// has no randomness, which only costs jitter quality.
pub fn random_u32() -> u32 {
    getrandom::u32().unwrap_or(0)
}

/// 16 hex characters for request ids.
pub fn request_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedgate_edge::jwt::{b64url_encode, decode, pick_jwk, KeyLookup};
    use serde_json::json;

    fn sign_rs256(key: &rsa::RsaPrivateKey, input: &str) -> Vec<u8> {
        key.sign(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(input.as_bytes()),
        )
        .unwrap()
    }

    fn rsa_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap()
    }

    fn rsa_jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
        use rsa::traits::PublicKeyParts;
        json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
               "n": b64url_encode(&key.n().to_bytes_be()), "e": b64url_encode(&key.e().to_bytes_be())})
    }

    fn jwt(header: Value, claims: Value) -> String {
        format!(
            "{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn rs256_roundtrip_tamper_and_wrong_key() {
        let key = rsa_key();
        let jwk = rsa_jwk(&key, "r1");
        let input = jwt(
            json!({"alg": "RS256", "kid": "r1"}),
            json!({"sub": "alice"}),
        );
        let sig = sign_rs256(&key, &input);
        let token = format!("{input}.{}", b64url_encode(&sig));
        let jws = decode(&token, &[Alg::Rs256]).unwrap();
        let jwks = json!({"keys": [jwk]});
        let KeyLookup::Found(found) = pick_jwk(&jwks, jws.kid.as_deref(), jws.alg).unwrap() else {
            panic!()
        };
        let pk = PublicKey::from_jwk(found, Alg::Rs256).unwrap();
        assert!(pk.verify(Alg::Rs256, jws.signing_input.as_bytes(), &jws.signature));
        // Tampered payload.
        let forged = jwt(
            json!({"alg": "RS256", "kid": "r1"}),
            json!({"sub": "mallory"}),
        );
        assert!(!pk.verify(Alg::Rs256, forged.as_bytes(), &jws.signature));
        // Tampered signature.
        let mut bad = jws.signature.clone();
        bad[10] ^= 1;
        assert!(!pk.verify(Alg::Rs256, jws.signing_input.as_bytes(), &bad));
        // Another key.
        let other = PublicKey::from_jwk(&rsa_jwk(&rsa_key(), "r2"), Alg::Rs256).unwrap();
        assert!(!other.verify(Alg::Rs256, jws.signing_input.as_bytes(), &jws.signature));
        // The RSA key never verifies another algorithm.
        assert!(!pk.verify(Alg::Es256, jws.signing_input.as_bytes(), &jws.signature));
    }

    #[test]
    fn hs256_with_the_public_key_as_secret_fails() {
        // The classic confusion attack: sign HS256 with the RSA public key's bytes.
        let key = rsa_key();
        let jwk = rsa_jwk(&key, "r1");
        let public_bytes = jwk.to_string();
        let input = jwt(
            json!({"alg": "HS256", "kid": "r1"}),
            json!({"sub": "mallory"}),
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(public_bytes.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        let sig = mac.finalize().into_bytes();
        // The JWKS will not hand out a key for HS256...
        assert!(pick_jwk(&json!({"keys": [jwk]}), Some("r1"), Alg::Hs256).is_err());
        // ...and the configured shared secret does not match.
        assert!(!verify_hs256(
            b"the-real-shared-secret-of-32-bytes!",
            input.as_bytes(),
            &sig
        ));
        assert!(verify_hs256(
            public_bytes.as_bytes(),
            input.as_bytes(),
            &sig
        ));
    }

    #[test]
    fn es256_roundtrip() {
        use p256::ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let point = sk.verifying_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "e1",
                         "x": b64url_encode(point.x().unwrap()), "y": b64url_encode(point.y().unwrap())});
        let input = jwt(
            json!({"alg": "ES256", "kid": "e1"}),
            json!({"sub": "alice"}),
        );
        let sig: p256::ecdsa::Signature = sk.sign(input.as_bytes());
        let pk = PublicKey::from_jwk(&jwk, Alg::Es256).unwrap();
        assert!(pk.verify(Alg::Es256, input.as_bytes(), &sig.to_bytes()));
        assert!(!pk.verify(Alg::Es256, b"other", &sig.to_bytes()));
        assert!(!pk.verify(Alg::Es256, input.as_bytes(), &[0u8; 64]));
        assert!(!pk.verify(Alg::Rs256, input.as_bytes(), &sig.to_bytes()));
        // A point not on the curve is refused at parse time.
        let off = json!({"kty": "EC", "crv": "P-256", "x": b64url_encode(&[1; 32]), "y": b64url_encode(&[1; 32])});
        assert!(PublicKey::from_jwk(&off, Alg::Es256).is_none());
    }

    #[test]
    fn secret_comparison_and_randomness() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
        assert_eq!(request_id().len(), 16);
        assert_ne!(request_id(), request_id());
    }
}
