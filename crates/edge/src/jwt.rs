//! The portal user's bearer JWT: compact JWS parsing, the algorithm policy, JWK selection and the claim
//! checks. Signature verification itself is done by the worker (RustCrypto) on what [`decode`] returns.
//!
//! Policy:
//! - Only `RS256`, `ES256` (keys from the JWKS) and `HS256` (a shared secret) exist; `none` and everything
//!   else is refused before any key is looked at.
//! - The algorithm decides the key family, and a JWK is only used with the algorithm it is for: an `RSA` key
//!   for `RS256`, an `EC`/`P-256` key for `ES256`, never a JWKS key as an HMAC secret (no HS/RS confusion).
//! - `iss` must equal the configured issuer, `aud` (string or array) must contain the configured audience,
//!   `exp` is required, `nbf` and `iat` are honoured, all with a small leeway.

use serde_json::{Map, Value};

use super::EdgeError;

/// Longest accepted token (bytes). Real ID tokens are well under 4 KB.
pub const MAX_TOKEN_LEN: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Rs256,
    Es256,
    Hs256,
}

/// What kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa,
    EcP256,
    Secret,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::Hs256 => "HS256",
        }
    }
    pub fn family(self) -> KeyFamily {
        match self {
            Alg::Rs256 => KeyFamily::Rsa,
            Alg::Es256 => KeyFamily::EcP256,
            Alg::Hs256 => KeyFamily::Secret,
        }
    }
    /// Exact, case-sensitive names (RFC 7518).
    pub fn from_name(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            "HS256" => Some(Alg::Hs256),
            _ => None,
        }
    }
}

/// A parsed, not yet verified, compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws {
    pub alg: Alg,
    pub kid: Option<String>,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

fn malformed(why: &str) -> EdgeError {
    EdgeError::unauthorized(
        "invalid_token",
        format!("The bearer token is not a valid JWT: {why}."),
    )
}

/// Splits and decodes a compact JWS and applies the algorithm policy. `allowed` lists the algorithms this
/// deployment accepts (HS256 only when a shared secret is configured).
pub fn decode(token: &str, allowed: &[Alg]) -> Result<Jws, EdgeError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed("it is too long"));
    }
    let mut parts = token.split('.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => (h, p, s),
        _ => return Err(malformed("a JWT has three dot-separated parts")),
    };
    let header = json_object(h).ok_or_else(|| malformed("the header is not base64url JSON"))?;
    let alg_name = match header.get("alg") {
        Some(Value::String(a)) => a.as_str(),
        _ => return Err(malformed("the header has no alg")),
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(EdgeError::unauthorized(
            "alg_not_allowed",
            "Unsigned tokens (alg \"none\") are refused.",
        ));
    }
    let alg = Alg::from_name(alg_name)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
            EdgeError::unauthorized(
                "alg_not_allowed",
                format!(
                    "Token algorithm {alg_name:?} is not accepted here (accepted: {}).",
                    names.join(", ")
                ),
            )
        })?;
    if header.contains_key("crit") {
        return Err(EdgeError::unauthorized(
            "invalid_token",
            "Tokens with critical header extensions (crit) are refused.",
        ));
    }
    if header.contains_key("jku")
        || header.contains_key("x5u")
        || header.contains_key("jwk")
        || header.contains_key("x5c")
    {
        // Keys come from the configured JWKS only, never from the token itself.
        return Err(EdgeError::unauthorized(
            "invalid_token",
            "Tokens that name their own key (jku, x5u, jwk, x5c) are refused.",
        ));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= 256 => Some(k.clone()),
        Some(_) => return Err(malformed("kid must be a short string")),
    };
    let claims = json_object(p).ok_or_else(|| malformed("the payload is not base64url JSON"))?;
    let signature = b64url_decode(s).ok_or_else(|| malformed("the signature is not base64url"))?;
    let sig_ok = match alg {
        Alg::Es256 => signature.len() == 64,
        Alg::Rs256 => (256..=1024).contains(&signature.len()),
        Alg::Hs256 => signature.len() == 32,
    };
    if !sig_ok {
        return Err(EdgeError::unauthorized(
            "invalid_signature",
            "The token signature is not valid.",
        ));
    }
    Ok(Jws {
        alg,
        kid,
        header,
        claims,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

fn json_object(b64: &str) -> Option<Map<String, Value>> {
    let bytes = b64url_decode(b64)?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Strict base64url (RFC 4648 §5) without padding, canonical trailing bits only.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    }
    let b = s.as_bytes();
    if b.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for chunk in b.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i as u32);
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => {
                if acc & 0xff != 0 {
                    return None;
                }
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8]);
            }
            2 => {
                if acc & 0xffff != 0 {
                    return None;
                }
                out.push((acc >> 16) as u8);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// base64url without padding.
pub fn b64url_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Outcome of looking a key up in the JWKS.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLookup<'a> {
    Found(&'a Value),
    /// No key with that kid: the JWKS may have rotated, refetch (rate-limited) and look again.
    UnknownKid,
}

fn key_fits(jwk: &Value, alg: Alg) -> bool {
    let kty = jwk.get("kty").and_then(Value::as_str);
    let family_ok = match alg.family() {
        KeyFamily::Rsa => kty == Some("RSA"),
        KeyFamily::EcP256 => {
            kty == Some("EC") && jwk.get("crv").and_then(Value::as_str) == Some("P-256")
        }
        // A shared secret never comes from the JWKS.
        KeyFamily::Secret => false,
    };
    let use_ok = jwk.get("use").is_none_or(|u| u == "sig");
    let alg_ok = jwk.get("alg").is_none_or(|a| a == alg.as_str());
    let ops_ok = match jwk.get("key_ops") {
        None => true,
        Some(Value::Array(ops)) => ops.iter().any(|o| o == "verify"),
        Some(_) => false,
    };
    family_ok && use_ok && alg_ok && ops_ok
}

/// Picks the verification key for a token from a JWKS document (`{"keys": [...]}`).
///
/// A kid that names a key of another type or algorithm is refused outright (algorithm confusion), not
/// treated as unknown. Without a kid the JWKS must hold exactly one key that fits.
pub fn pick_jwk<'a>(
    jwks: &'a Value,
    kid: Option<&str>,
    alg: Alg,
) -> Result<KeyLookup<'a>, EdgeError> {
    if alg.family() == KeyFamily::Secret {
        return Err(EdgeError::unauthorized(
            "alg_key_mismatch",
            "HS256 tokens are verified with the shared secret, never a JWKS key.",
        ));
    }
    let keys: &[Value] = jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    match kid {
        Some(kid) => {
            let mut named = keys
                .iter()
                .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .peekable();
            if named.peek().is_none() {
                return Ok(KeyLookup::UnknownKid);
            }
            named.find(|k| key_fits(k, alg)).map(KeyLookup::Found).ok_or_else(|| {
                EdgeError::unauthorized(
                    "alg_key_mismatch",
                    format!("Key {kid:?} is not a {} key: the token's algorithm does not match its key.", alg.as_str()),
                )
            })
        }
        None => {
            let fitting: Vec<&Value> = keys.iter().filter(|k| key_fits(k, alg)).collect();
            match fitting.as_slice() {
                [one] => Ok(KeyLookup::Found(one)),
                [] => Ok(KeyLookup::UnknownKid),
                _ => Err(EdgeError::unauthorized(
                    "kid_required",
                    "The token has no kid and the JWKS holds several keys.",
                )),
            }
        }
    }
}

/// RSA public key parts (`n`, `e`, big-endian) of a JWK.
pub fn rsa_components(jwk: &Value) -> Option<(Vec<u8>, Vec<u8>)> {
    let n = b64url_decode(jwk.get("n")?.as_str()?)?;
    let e = b64url_decode(jwk.get("e")?.as_str()?)?;
    // 2048..=8192-bit moduli; smaller keys are refused.
    let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
    if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
        return None;
    }
    Some((n, e))
}

/// P-256 public point (`x`, `y`, 32 bytes each) of a JWK.
pub fn ec_components(jwk: &Value) -> Option<([u8; 32], [u8; 32])> {
    let x: [u8; 32] = b64url_decode(jwk.get("x")?.as_str()?)?.try_into().ok()?;
    let y: [u8; 32] = b64url_decode(jwk.get("y")?.as_str()?)?.try_into().ok()?;
    Some((x, y))
}

/// What the claims must satisfy.
#[derive(Debug, Clone)]
pub struct ClaimPolicy<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: u64,
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, EdgeError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(EdgeError::unauthorized(
            "invalid_claims",
            format!("Claim {name} must be a NumericDate."),
        )),
    }
}

/// Checks `iss`, `aud`, `exp`, `nbf`, `iat` at `now` (Unix seconds).
pub fn check_claims(
    claims: &Map<String, Value>,
    policy: &ClaimPolicy,
    now: u64,
) -> Result<(), EdgeError> {
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == policy.issuer => {}
        _ => {
            return Err(EdgeError::unauthorized(
                "invalid_issuer",
                "The token was not issued by the configured identity provider.",
            ))
        }
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == policy.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a == policy.audience),
        _ => false,
    };
    if !aud_ok {
        return Err(EdgeError::unauthorized(
            "invalid_audience",
            "The token is not meant for this service (aud).",
        ));
    }
    let now = now as f64;
    let leeway = policy.leeway as f64;
    let exp = numeric(claims, "exp")?.ok_or_else(|| {
        EdgeError::unauthorized("invalid_claims", "The token has no expiry (exp).")
    })?;
    if now > exp + leeway {
        return Err(EdgeError::unauthorized(
            "token_expired",
            "The token has expired.",
        ));
    }
    if let Some(nbf) = numeric(claims, "nbf")? {
        if now + leeway < nbf {
            return Err(EdgeError::unauthorized(
                "token_not_yet_valid",
                "The token is not valid yet (nbf).",
            ));
        }
    }
    if let Some(iat) = numeric(claims, "iat")? {
        if now + leeway < iat {
            return Err(EdgeError::unauthorized(
                "token_not_yet_valid",
                "The token was issued in the future (iat).",
            ));
        }
    }
    Ok(())
}

fn lookup<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    // `a.b.c` reaches into nested objects when no claim has that literal name.
    let mut parts = name.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// A claim as a non-empty string (numbers are written out), by name or dotted path.
pub fn claim_string(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match lookup(claims, name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A claim as a list of strings: an array of strings, or one string.
pub fn claim_strings(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match lookup(claims, name) {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(header: Value, claims: Value, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.to_string().as_bytes()),
            b64url_encode(sig)
        )
    }
    const ALL: &[Alg] = &[Alg::Rs256, Alg::Es256, Alg::Hs256];

    #[test]
    fn base64url_roundtrip_and_strictness() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(b64url_decode(&b64url_encode(&data)).unwrap(), data);
        }
        assert_eq!(b64url_encode(b"hi?"), "aGk_");
        assert!(b64url_decode("aGk=").is_none(), "padding refused");
        assert!(b64url_decode("aGk+").is_none(), "standard alphabet refused");
        assert!(b64url_decode("a").is_none());
        // "aB" would decode to the same byte as "aA" if non-canonical trailing bits were accepted.
        assert!(b64url_decode("aA").is_some());
        assert!(b64url_decode("aB").is_none());
    }

    #[test]
    fn decode_accepts_well_formed() {
        let t = token(
            json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
            json!({"sub": "u"}),
            &[7; 64],
        );
        let j = decode(&t, ALL).unwrap();
        assert_eq!(j.alg, Alg::Es256);
        assert_eq!(j.kid.as_deref(), Some("k1"));
        assert_eq!(j.claims["sub"], "u");
        assert_eq!(j.signature, vec![7; 64]);
        assert_eq!(j.signing_input, t.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn alg_none_and_unknown_algs_are_refused() {
        for alg in ["none", "None", "NONE"] {
            let t = token(json!({"alg": alg}), json!({"sub": "u"}), b"");
            assert_eq!(decode(&t, ALL).unwrap_err().code, "alg_not_allowed");
            let unsigned = format!("{}.", t.rsplit_once('.').unwrap().0);
            assert_eq!(decode(&unsigned, ALL).unwrap_err().code, "alg_not_allowed");
        }
        for alg in ["HS512", "RS512", "PS256", "EdDSA", "rs256"] {
            let t = token(json!({"alg": alg}), json!({}), &[1; 256]);
            assert_eq!(
                decode(&t, ALL).unwrap_err().code,
                "alg_not_allowed",
                "{alg}"
            );
        }
        // HS256 is refused when no shared secret is configured.
        let t = token(json!({"alg": "HS256"}), json!({}), &[1; 32]);
        assert_eq!(
            decode(&t, &[Alg::Rs256, Alg::Es256]).unwrap_err().code,
            "alg_not_allowed"
        );
        assert!(decode(&t, ALL).is_ok());
    }

    #[test]
    fn malformed_tokens() {
        for t in ["", "abc", "a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.AA"] {
            let e = decode(t, ALL).unwrap_err();
            assert_eq!(e.status, 401, "{t}");
        }
        let big = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(decode(&big, ALL).unwrap_err().code, "invalid_token");
        let t = token(
            json!({"alg": "RS256", "crit": ["exp"]}),
            json!({}),
            &[1; 256],
        );
        assert_eq!(decode(&t, ALL).unwrap_err().code, "invalid_token");
        let t = token(
            json!({"alg": "RS256", "jku": "https://evil.example/jwks"}),
            json!({}),
            &[1; 256],
        );
        assert_eq!(decode(&t, ALL).unwrap_err().code, "invalid_token");
        let t = token(json!({"alg": "RS256"}), json!([1, 2]), &[1; 256]);
        assert_eq!(decode(&t, ALL).unwrap_err().code, "invalid_token");
        let t = token(json!({"alg": "ES256"}), json!({}), &[1; 70]);
        assert_eq!(decode(&t, ALL).unwrap_err().code, "invalid_signature");
    }

    fn jwks() -> Value {
        json!({"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "EC", "kid": "e384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}
        ]})
    }

    #[test]
    fn jwk_selection_blocks_confusion() {
        let j = jwks();
        assert!(
            matches!(pick_jwk(&j, Some("r1"), Alg::Rs256).unwrap(), KeyLookup::Found(k) if k["kid"] == "r1")
        );
        assert!(
            matches!(pick_jwk(&j, Some("e1"), Alg::Es256).unwrap(), KeyLookup::Found(k) if k["kid"] == "e1")
        );
        assert_eq!(
            pick_jwk(&j, Some("nope"), Alg::Rs256).unwrap(),
            KeyLookup::UnknownKid
        );
        // A kid naming a key of another family is confusion, not rotation.
        assert_eq!(
            pick_jwk(&j, Some("r1"), Alg::Es256).unwrap_err().code,
            "alg_key_mismatch"
        );
        assert_eq!(
            pick_jwk(&j, Some("e1"), Alg::Rs256).unwrap_err().code,
            "alg_key_mismatch"
        );
        assert_eq!(
            pick_jwk(&j, Some("e384"), Alg::Es256).unwrap_err().code,
            "alg_key_mismatch"
        );
        assert_eq!(
            pick_jwk(&j, Some("enc"), Alg::Rs256).unwrap_err().code,
            "alg_key_mismatch"
        );
        // HS256 never takes a JWKS key (the RSA public key as HMAC secret attack).
        assert_eq!(
            pick_jwk(&j, Some("r1"), Alg::Hs256).unwrap_err().code,
            "alg_key_mismatch"
        );
        // Without kid: exactly one fitting key.
        assert!(
            matches!(pick_jwk(&j, None, Alg::Es256).unwrap(), KeyLookup::Found(k) if k["kid"] == "e1")
        );
        let two = json!({"keys": [{"kty": "EC", "kid": "a", "crv": "P-256"}, {"kty": "EC", "kid": "b", "crv": "P-256"}]});
        assert_eq!(
            pick_jwk(&two, None, Alg::Es256).unwrap_err().code,
            "kid_required"
        );
        assert_eq!(
            pick_jwk(&json!({}), None, Alg::Rs256).unwrap(),
            KeyLookup::UnknownKid
        );
        // A JWK whose alg says RS256 is not used for ES256 even with the right kty.
        let odd = json!({"keys": [{"kty": "EC", "kid": "x", "crv": "P-256", "alg": "RS256"}]});
        assert_eq!(
            pick_jwk(&odd, Some("x"), Alg::Es256).unwrap_err().code,
            "alg_key_mismatch"
        );
    }

    #[test]
    fn key_components() {
        let n = vec![0xC5u8; 256];
        let jwk = json!({"n": b64url_encode(&n), "e": "AQAB"});
        assert_eq!(rsa_components(&jwk).unwrap(), (n, vec![1, 0, 1]));
        let weak = json!({"n": b64url_encode(&[0xC5u8; 128]), "e": "AQAB"});
        assert!(rsa_components(&weak).is_none(), "1024-bit RSA refused");
        let ec = json!({"x": b64url_encode(&[1; 32]), "y": b64url_encode(&[2; 32])});
        assert_eq!(ec_components(&ec).unwrap(), ([1; 32], [2; 32]));
        assert!(ec_components(&json!({"x": "AA", "y": "AA"})).is_none());
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }
    const P: ClaimPolicy = ClaimPolicy {
        issuer: "https://idp/",
        audience: "portal",
        leeway: 30,
    };

    #[test]
    fn claim_checks() {
        let now = 1_000_000;
        let good = json!({"iss": "https://idp/", "aud": "portal", "exp": now + 60, "nbf": now - 5, "iat": now - 5});
        check_claims(&claims(good.clone()), &P, now).unwrap();
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            check_claims(&claims(c), &P, now).map_err(|e| e.code)
        };
        assert_eq!(with("iss", json!("https://evil/")), Err("invalid_issuer"));
        assert_eq!(with("iss", json!("https://idp")), Err("invalid_issuer"));
        assert_eq!(with("aud", json!("other")), Err("invalid_audience"));
        assert_eq!(with("aud", json!(["other", "portal"])), Ok(()));
        assert_eq!(with("aud", json!(["other"])), Err("invalid_audience"));
        assert_eq!(with("exp", json!(now - 31)), Err("token_expired"));
        assert_eq!(with("exp", json!(now - 29)), Ok(()), "inside the leeway");
        assert_eq!(with("exp", json!("soon")), Err("invalid_claims"));
        assert_eq!(with("exp", Value::Null), Err("invalid_claims"));
        assert_eq!(with("nbf", json!(now + 31)), Err("token_not_yet_valid"));
        assert_eq!(with("nbf", json!(now + 29)), Ok(()));
        assert_eq!(with("iat", json!(now + 120)), Err("token_not_yet_valid"));
        let mut no_aud = good.clone();
        no_aud.as_object_mut().unwrap().remove("aud");
        assert_eq!(
            check_claims(&claims(no_aud), &P, now).unwrap_err().code,
            "invalid_audience"
        );
    }

    #[test]
    fn claim_extraction() {
        let c = claims(
            json!({"sub": "u1", "org": {"id": "contoso"}, "n": 42, "roles": ["A", "", "B"], "role": "C",
                              "org.flat": "flat", "blank": "  "}),
        );
        assert_eq!(claim_string(&c, "sub").as_deref(), Some("u1"));
        assert_eq!(claim_string(&c, "org.id").as_deref(), Some("contoso"));
        assert_eq!(claim_string(&c, "org.flat").as_deref(), Some("flat"));
        assert_eq!(claim_string(&c, "n").as_deref(), Some("42"));
        assert_eq!(claim_string(&c, "blank"), None);
        assert_eq!(claim_string(&c, "org"), None);
        assert_eq!(claim_string(&c, "missing"), None);
        assert_eq!(claim_strings(&c, "roles"), vec!["A", "B"]);
        assert_eq!(claim_strings(&c, "role"), vec!["C"]);
        assert!(claim_strings(&c, "missing").is_empty());
    }
}
