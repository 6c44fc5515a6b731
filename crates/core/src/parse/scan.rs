//! The text side of [`parse_str`](super::parse_str): typed structs straight from the text, unknown
//! fields from a scan of the text against the `FIELDS` lists, and type errors placed by their
//! position in canonical text. Every typed `Deserialize` is instantiated once, for serde_json's
//! text deserializer (what keeps the browser module small); no `Value` tree on the happy path.

use serde::de::Unexpected;
use serde_json::Value;

use super::{
    clean_message, error_message as message, struct_fields, to_pointer, Body, Parsed, Seg,
    ShapeError, UnknownField,
};
use crate::diag::{escape_token, Location};
use crate::powerbi::{GenerateTokenRequest, GenerateTokenRequestV2};
use crate::scenario::{Endpoint, Scenario};

/// The original text, when everything is usual: no type error, no duplicate or escaped key in a
/// typed object, nothing the scan is unsure about. `None` sends the caller to the slow route.
pub(super) fn fast(text: &str) -> Option<Parsed> {
    let mut sc = Scanner::new(text, true, Location::Scenario, false);
    sc.document()?;
    let scenario: Scenario = serde_json::from_str(text).ok()?;
    let mut unknown = sc.take_unknown();
    let req = request_text(text, sc.request);
    let v2 = scenario.endpoint.is_v2();
    let mut bs = Scanner::new(req, true, Location::Request, v2);
    bs.document()?;
    let body = if v2 {
        Body::V2(serde_json::from_str(req).ok()?)
    } else {
        Body::V1(serde_json::from_str(req).ok()?)
    };
    unknown.extend(bs.take_unknown());
    Some(Parsed {
        scenario: Some(scenario),
        body,
        unknown,
        shape_errors: Vec::new(),
    })
}

/// Canonical text (`serde_json::to_string` of a `Value`: keys sorted and unique, one line), so
/// that the typed parse meets the members in the order `Value`'s deserializer does and stops at
/// the same first error as [`parse_value`](super::parse_value).
pub(super) fn canonical(text: &str) -> Parsed {
    let mut unknown = Vec::new();
    let mut shape_errors = Vec::new();
    let mut sc = Scanner::new(text, false, Location::Scenario, false);
    let _ = sc.document();
    let scenario = match serde_json::from_str::<Scenario>(text) {
        Ok(s) => {
            unknown.extend(sc.take_unknown());
            Some(s)
        }
        Err(e) => {
            shape_errors.push(error_at(text, &e, Location::Scenario, sc.endpoint));
            None
        }
    };
    let body = match &scenario {
        None => Body::Unusable,
        Some(s) => {
            let req = request_text(text, sc.request);
            let v2 = s.endpoint.is_v2();
            let res = if v2 {
                serde_json::from_str::<GenerateTokenRequestV2>(req).map(Body::V2)
            } else {
                serde_json::from_str::<GenerateTokenRequest>(req).map(Body::V1)
            };
            match res {
                Ok(b) => {
                    let mut bs = Scanner::new(req, false, Location::Request, v2);
                    let _ = bs.document();
                    unknown.extend(bs.take_unknown());
                    b
                }
                Err(e) => {
                    shape_errors.push(error_at(req, &e, Location::Request, None));
                    Body::Unusable
                }
            }
        }
    };
    Parsed {
        scenario,
        body,
        unknown,
        shape_errors,
    }
}

/// The request body's text: the scenario's `request` member, `{}` when it is absent or null.
fn request_text(text: &str, span: Option<(usize, usize)>) -> &str {
    match span.map(|(s, e)| &text[s..e]) {
        Some(r) if r != "null" => r,
        _ => "{}",
    }
}

/// A type error of the typed parse of canonical `text`, placed and worded as
/// `serde_path_to_error` over `serde_json::Value` does.
fn error_at(
    text: &str,
    e: &serde_json::Error,
    location: Location,
    endpoint: Option<(usize, usize)>,
) -> ShapeError {
    let off = byte_offset(text, e.line(), e.column());
    // The endpoint is an internally tagged enum: serde buffers it and its errors carry no position
    // (serde_json places them after it). They belong to `/endpoint`, as `Value` reports them.
    if let Some((s, end)) = endpoint {
        if off >= s {
            // (Errors the text deserializer itself raised are placed like any other.)
            if let Err(e) = serde_json::from_str::<Endpoint>(&text[s..end]) {
                if e.line() == 0 {
                    return ShapeError {
                        location,
                        pointer: "/endpoint".into(),
                        message: clean_message(&message(&e)),
                    };
                }
            }
        }
    }
    let mut sc = Scanner::new(text, false, location, false);
    sc.check = false;
    sc.target = Some(off);
    let _ = sc.document();
    // The values around the position, innermost first (each the parent of the one before).
    let chain = sc.chain;
    let mut msg = message(e);
    let single_key = "invalid value: map, expected map with a single key";
    // serde_json's text deserializer places an error after what it consumed (the end of a
    // scalar or struct), at a container it refused (its start), or one past a byte it peeked at.
    let peeked = chain.iter().position(|f| f.start + 1 == off);
    let mut at = 0;
    // Where the text deserializer words a case differently from the `Value` one.
    if msg == "trailing characters" {
        // A struct given as a longer array: the error is at the first extra element.
        if let Some(i) = peeked.filter(|&i| i + 1 < chain.len()) {
            at = i + 1;
            msg = format!(
                "invalid length {}, expected fewer elements in array",
                chain[at].count
            );
        }
    } else if msg == "expected value" {
        // A unit enum given something other than a string.
        match peeked {
            Some(i) if chain[i].kind != b'{' => {
                at = i;
                let f = &chain[i];
                msg = not_a_variant(&text[f.start..f.end]);
            }
            _ => {
                // `{}`, or `{"Variant": null, ...}` (the error after the first member).
                if chain.first().is_some_and(|f| f.kind != b'{') {
                    at = 1;
                }
                msg = single_key.into();
            }
        }
    } else if msg.ends_with(", expected unit") {
        // A unit enum given `{"Variant": not null}`.
        at = 1;
        if chain.get(1).is_some_and(|p| p.count != 1) {
            msg = single_key.into();
        }
    } else if msg.starts_with("unknown variant")
        && chain
            .first()
            .is_some_and(|f| f.kind == b'{' && f.count != 1)
    {
        msg = single_key.into();
    }
    let pointer = chain
        .get(at.min(chain.len().saturating_sub(1)))
        .map(|f| to_pointer(&f.segs))
        .unwrap_or_default();
    ShapeError {
        location,
        pointer,
        message: clean_message(&msg),
    }
}

/// `Value`'s error for a unit enum given JSON that is neither a string nor an object.
fn not_a_variant(raw: &str) -> String {
    use serde::de::Error as _;
    let v: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    let unexp = match &v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (_, Some(i)) => Unexpected::Signed(i),
            _ => Unexpected::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    };
    serde_json::Error::invalid_type(unexp, &"string or map").to_string()
}

/// Byte offset of serde_json's 1-based line and (byte) column: the position of its reader when
/// it raised the error (just after the last byte it consumed).
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (start + column).min(text.len())
}

/// A value around the error position: where it starts and ends, its kind (first byte) and its
/// number of members or elements.
struct Found {
    start: usize,
    end: usize,
    kind: u8,
    count: usize,
    segs: Vec<String>,
}

/// A single-pass scan of JSON text. In strict mode (the original text) it gives up (`None`) on
/// anything it is not sure serde_json reads the same way; on canonical text it never needs to.
struct Scanner<'a> {
    t: &'a str,
    b: &'a [u8],
    i: usize,
    strict: bool,
    /// Report unknown members of typed objects.
    check: bool,
    location: Location,
    v2: bool,
    segs: Vec<Seg<'a>>,
    unknown: Vec<(Vec<Seg<'a>>, UnknownField)>,
    /// Spans of the root's `request` and `endpoint` members.
    request: Option<(usize, usize)>,
    endpoint: Option<(usize, usize)>,
    /// Error mode: the values around this offset, innermost first.
    target: Option<usize>,
    chain: Vec<Found>,
}

impl<'a> Scanner<'a> {
    fn new(t: &'a str, strict: bool, location: Location, v2: bool) -> Self {
        Scanner {
            t,
            b: t.as_bytes(),
            i: 0,
            strict,
            check: true,
            location,
            v2,
            segs: Vec::new(),
            unknown: Vec::new(),
            request: None,
            endpoint: None,
            target: None,
            chain: Vec::new(),
        }
    }

    /// Unknown fields in the order `Value`'s sorted maps give them.
    fn take_unknown(&mut self) -> Vec<UnknownField> {
        let mut u = std::mem::take(&mut self.unknown);
        // Canonical text is already in that order (and its keys may be escaped).
        if self.strict {
            u.sort_by(|a, b| a.0.cmp(&b.0));
        }
        u.into_iter().map(|(_, f)| f).collect()
    }

    fn document(&mut self) -> Option<()> {
        self.ws();
        self.value(true)?;
        self.ws();
        (self.i == self.b.len() || !self.strict).then_some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn value(&mut self, typed: bool) -> Option<()> {
        let start = self.i;
        let mut count = 0;
        let kind = *self.b.get(self.i)?;
        if self.strict && self.segs.len() > 100 {
            return None;
        }
        match kind {
            b'{' => {
                self.i += 1;
                let fields = if typed && self.check {
                    struct_fields(self.location, self.v2, &self.segs)
                } else {
                    None
                };
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let ks = self.i;
                        let escaped = self.string()?;
                        let ke = self.i;
                        let raw = &self.t[ks + 1..ke - 1];
                        self.eat(b':')?;
                        self.ws();
                        count += 1;
                        let root = self.segs.is_empty();
                        if let Some(known) = fields {
                            // (A repeated known field is serde's duplicate-field error.)
                            if self.strict && escaped {
                                return None;
                            }
                            if !known.contains(&raw) {
                                let key = if escaped {
                                    serde_json::from_str(&self.t[ks..ke])
                                        .unwrap_or_else(|_| raw.to_string())
                                } else {
                                    raw.to_string()
                                };
                                let mut path = self.segs.clone();
                                path.push(Seg::Key(raw));
                                // A repeated unknown field: `Value` keeps one.
                                if self.strict && self.unknown.iter().any(|(p, _)| *p == path) {
                                    return None;
                                }
                                let mut pointer = super::pointer_of(&self.segs);
                                pointer.push('/');
                                pointer.push_str(&escape_token(&key));
                                self.unknown.push((
                                    path,
                                    UnknownField {
                                        location: self.location,
                                        pointer,
                                        key,
                                        known,
                                    },
                                ));
                                self.member(raw, false)?;
                                if !self.next_member()? {
                                    break;
                                }
                                continue;
                            }
                        }
                        let vs = self.i;
                        let typed_member =
                            !(root && self.location == Location::Scenario && raw == "request");
                        self.member(raw, typed && typed_member)?;
                        if root {
                            if raw == "request" {
                                self.request = Some((vs, self.i));
                            } else if raw == "endpoint" {
                                self.endpoint = Some((vs, self.i));
                            }
                        }
                        if !self.next_member()? {
                            break;
                        }
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        self.segs.push(Seg::Index(count));
                        let r = self.value(typed);
                        self.segs.pop();
                        r?;
                        count += 1;
                        self.ws();
                        match self.b.get(self.i)? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            b't' => self.lit(b"true")?,
            b'f' => self.lit(b"false")?,
            b'n' => self.lit(b"null")?,
            _ => self.number()?,
        }
        if let Some(t) = self.target {
            if start <= t && t <= self.i {
                self.chain.push(Found {
                    start,
                    end: self.i,
                    kind,
                    count,
                    segs: self.segs.iter().map(seg_string).collect(),
                });
            }
        }
        Some(())
    }

    fn member(&mut self, key: &'a str, typed: bool) -> Option<()> {
        self.segs.push(Seg::Key(key));
        let r = self.value(typed);
        self.segs.pop();
        r
    }

    /// After a member: `true` on `,`, `false` on `}`.
    fn next_member(&mut self) -> Option<bool> {
        self.ws();
        let c = *self.b.get(self.i)?;
        self.i += 1;
        match c {
            b',' => Some(true),
            b'}' => Some(false),
            _ => None,
        }
    }

    fn lit(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end) == Some(word)).then(|| self.i = end)
    }

    /// A string; `Some(true)` when it has escapes.
    fn string(&mut self) -> Option<bool> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let mut escaped = false;
        loop {
            // Plain characters in one go.
            let rest = self.b.get(self.i..)?;
            self.i += rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(rest.len());
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    match *self.b.get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = self.b.get(self.i + 2..self.i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            // Surrogates: serde_json's rules for lone ones are its own business.
                            if self.strict && matches!(hex[0], b'd' | b'D') && hex[1] >= b'8' {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }

    fn number(&mut self) -> Option<()> {
        let start = self.i;
        let digits = |s: &mut Self| {
            let from = s.i;
            while s.b.get(s.i).is_some_and(u8::is_ascii_digit) {
                s.i += 1;
            }
            s.i - from
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        let mut exp = 0;
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            exp = digits(self);
            if exp == 0 {
                return None;
            }
        }
        // Out-of-range numbers are serde_json's to report.
        (!self.strict || (self.i - start <= 24 && exp <= 2)).then_some(())
    }
}

fn seg_string(s: &Seg) -> String {
    match s {
        Seg::Key(k) if k.contains('\\') => {
            serde_json::from_str(&format!("\"{k}\"")).unwrap_or_else(|_| k.to_string())
        }
        Seg::Key(k) => k.to_string(),
        Seg::Index(i) => i.to_string(),
    }
}
