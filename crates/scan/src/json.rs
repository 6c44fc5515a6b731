//! A small JSON reader for the scenario text. It replaces serde_json's text deserializer (and every
//! serde `Deserialize` impl behind it) in the browser module, where code size is the budget (the reader
//! itself is small, and compiled for speed: see the crate doc):
//! one non-generic recursive-descent pass over the bytes into a borrowed tree [`J`]. serde_json's
//! `Value` and serializer stay; [`J::to_value`] builds the `Value` serde_json would have built.
//!
//! The grammar, the numbers and the errors (message, line, column) are serde_json's 1.0.x as this
//! workspace builds it (default features: floats by its fast, not always correctly rounded,
//! non-`float_roundtrip` path), transliterated from its `de.rs`/`read.rs` and checked against it
//! by `tests/against_serde_json.rs`. Known differences: none for
//! `serde_json::from_str::<Value>`. They would appear only if another crate in the same build
//! turned on serde_json features: `float_roundtrip` or `arbitrary_precision` (other floats,
//! numbers), or `raw_value` (the emulator's axum does; serde_json then reads an object whose
//! first key is `"$serde_json::private::RawValue"` specially, this reader as an ordinary object).

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// JSON that is not JSON at all: where (serde_json's line and column) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid JSON at line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A parsed JSON value borrowing from its text.
#[derive(Debug, Clone, PartialEq)]
pub enum J<'a> {
    Null,
    Bool(bool),
    Num(Num),
    /// Borrowed from the text when it has no escapes.
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    /// Members in text order, duplicates kept (consumers decide; `to_value` keeps the last like
    /// serde_json).
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

/// Numbers classified exactly as serde_json classifies them: an integer literal (no fraction, no
/// exponent) that fits u64 is Pos, a negative one that fits i64 is Neg, everything else is Float
/// (so `-0` is `Float(-0.0)`, and an integer too long for u64 is a float of its first 19-20
/// digits scaled by ten, as serde_json does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Pos(u64),
    Neg(i64),
    Float(f64),
}

/// Parses JSON text as `serde_json::from_str::<Value>` would, errors included.
pub fn parse(text: &str) -> Result<J<'_>, SyntaxError> {
    let mut p = P::new(text);
    let r = match p.value() {
        Ok(v) => match p.ws() {
            Some(_) => Err(p.peek_err(TRAILING_CHARACTERS)),
            None => return Ok(v),
        },
        Err(e) => Err(e),
    };
    r.map_err(|e| syntax_error(text.as_bytes(), e))
}

/// The JSON string literal body (between the quotes, escapes undone); None if it is not a valid one.
pub fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    let mut p = P::new(raw);
    p.string(true).ok()
}

impl<'a> J<'a> {
    /// The `serde_json::Value` of this tree (the last of duplicate keys wins, as in serde_json).
    pub fn to_value(&self) -> Value {
        match self {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Num(Num::Pos(n)) => Value::Number((*n).into()),
            J::Num(Num::Neg(n)) => Value::Number((*n).into()),
            // Always finite: the reader rejects what would overflow.
            J::Num(Num::Float(f)) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            J::Str(s) => Value::String(s.to_string()),
            J::Arr(a) => Value::Array(a.iter().map(J::to_value).collect()),
            J::Obj(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    m.insert(k.to_string(), v.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// The tree of a `Value`, borrowing its strings (members in the map's order).
    pub fn from_value(v: &'a Value) -> J<'a> {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => J::Num(match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Num::Pos(u),
                (None, Some(i)) => Num::Neg(i),
                _ => Num::Float(n.as_f64().unwrap_or(0.0)),
            }),
            Value::String(s) => J::Str(Cow::Borrowed(s)),
            Value::Array(a) => J::Arr(a.iter().map(J::from_value).collect()),
            Value::Object(o) => J::Obj(
                o.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), J::from_value(v)))
                    .collect(),
            ),
        }
    }
}

// Error codes: an index into MESSAGES (serde_json's `ErrorCode` texts).
const EOF_LIST: u8 = 0;
const EOF_OBJECT: u8 = 1;
const EOF_STRING: u8 = 2;
const EOF_VALUE: u8 = 3;
const EXPECTED_COLON: u8 = 4;
const EXPECTED_LIST_COMMA_OR_END: u8 = 5;
const EXPECTED_OBJECT_COMMA_OR_END: u8 = 6;
const EXPECTED_IDENT: u8 = 7;
const EXPECTED_VALUE: u8 = 8;
const INVALID_ESCAPE: u8 = 9;
const INVALID_NUMBER: u8 = 10;
const NUMBER_OUT_OF_RANGE: u8 = 11;
const CONTROL_CHARACTER: u8 = 12;
const KEY_MUST_BE_A_STRING: u8 = 13;
const LONE_LEADING_SURROGATE: u8 = 14;
const TRAILING_COMMA: u8 = 15;
const TRAILING_CHARACTERS: u8 = 16;
const UNEXPECTED_END_OF_HEX_ESCAPE: u8 = 17;
const RECURSION_LIMIT: u8 = 18;

static MESSAGES: [&str; 19] = [
    "EOF while parsing a list",
    "EOF while parsing an object",
    "EOF while parsing a string",
    "EOF while parsing a value",
    "expected `:`",
    "expected `,` or `]`",
    "expected `,` or `}`",
    "expected ident",
    "expected value",
    "invalid escape",
    "invalid number",
    "number out of range",
    "control character (\\u0000-\\u001F) found while parsing a string",
    "key must be a string",
    "lone leading surrogate in hex escape",
    "trailing comma",
    "trailing characters",
    "unexpected end of hex escape",
    "recursion limit exceeded",
];

/// An error code and the byte offset serde_json reports it at.
struct E {
    code: u8,
    at: usize,
}

/// The length of the leading run of bytes a string holds as they are (no `"`, `\\` or control
/// character), eight bytes at a time: the scan is most of the reader's time on GUID-heavy text.
fn plain_len(s: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Classic zero-byte tests: exact for the lowest flagged byte, which is all that is used.
        let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
        let hit = zero(w ^ (LO * u64::from(b'"')))
            | zero(w ^ (LO * u64::from(b'\\')))
            | (w.wrapping_sub(LO * 0x20) & !w & HI);
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = s.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// serde_json's position of a byte offset: 1-based line, column = bytes since the line's `\n`.
#[cold]
fn syntax_error(s: &[u8], e: E) -> SyntaxError {
    let before = s.get(..e.at).unwrap_or(s);
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    SyntaxError {
        line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
        column: e.at - start,
        message: MESSAGES[e.code as usize].to_string(),
    }
}

/// The reader: `i` moves exactly as serde_json's `SliceRead::index`, so that `err` (its
/// `error`, at `i`) and `peek_err` (its `peek_error`, at `i + 1`) land where serde_json's do.
struct P<'a> {
    src: &'a str,
    s: &'a [u8],
    i: usize,
    /// serde_json's `remaining_depth`: the 128th nested `[`/`{` is an error.
    depth: u8,
    /// Open arrays' elements and open objects' members, stacked: each array or object is moved
    /// out at its end into a `Vec` of exactly its size (one allocation, no regrowth).
    items: Vec<J<'a>>,
    members: Vec<(Cow<'a, str>, J<'a>)>,
}

impl<'a> P<'a> {
    fn new(src: &'a str) -> Self {
        P {
            src,
            s: src.as_bytes(),
            i: 0,
            depth: 128,
            items: Vec::new(),
            members: Vec::new(),
        }
    }

    #[cold]
    fn err(&self, code: u8) -> E {
        E { code, at: self.i }
    }

    #[cold]
    fn peek_err(&self, code: u8) -> E {
        E {
            code,
            at: self.s.len().min(self.i + 1),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn peek_or_null(&self) -> u8 {
        self.peek().unwrap_or(0)
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.i += 1;
        }
        c
    }

    /// Skips whitespace; the next byte, not consumed.
    fn ws(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
        self.peek()
    }

    fn value(&mut self) -> Result<J<'a>, E> {
        let Some(c) = self.ws() else {
            return Err(self.peek_err(EOF_VALUE));
        };
        match c {
            b'n' => self.ident(b"null").map(|_| J::Null),
            b't' => self.ident(b"true").map(|_| J::Bool(true)),
            b'f' => self.ident(b"false").map(|_| J::Bool(false)),
            b'-' => {
                self.i += 1;
                self.number(false).map(J::Num)
            }
            b'0'..=b'9' => self.number(true).map(J::Num),
            b'"' => {
                self.i += 1;
                self.string(false).map(J::Str)
            }
            b'[' | b'{' => {
                self.depth -= 1;
                if self.depth == 0 {
                    return Err(self.peek_err(RECURSION_LIMIT));
                }
                self.i += 1;
                let r = if c == b'[' {
                    self.array()
                } else {
                    self.object()
                };
                self.depth += 1;
                r
            }
            _ => Err(self.peek_err(EXPECTED_VALUE)),
        }
    }

    /// `ident` with its first byte still unread (serde_json eats it, then reads the rest).
    fn ident(&mut self, ident: &[u8]) -> Result<(), E> {
        self.i += 1;
        for &b in &ident[1..] {
            match self.next() {
                None => return Err(self.err(EOF_VALUE)),
                Some(c) if c != b => return Err(self.err(EXPECTED_IDENT)),
                _ => {}
            }
        }
        Ok(())
    }

    /// After `[`; consumes the closing `]`.
    fn array(&mut self) -> Result<J<'a>, E> {
        let base = self.items.len();
        loop {
            let Some(c) = self.ws() else {
                return Err(self.peek_err(EOF_LIST));
            };
            if c == b']' {
                self.i += 1;
                return Ok(J::Arr(self.items.split_off(base)));
            }
            if self.items.len() > base {
                if c != b',' {
                    return Err(self.peek_err(EXPECTED_LIST_COMMA_OR_END));
                }
                self.i += 1;
                match self.ws() {
                    Some(b']') => return Err(self.peek_err(TRAILING_COMMA)),
                    Some(_) => {}
                    None => return Err(self.peek_err(EOF_VALUE)),
                }
            }
            let v = self.value()?;
            self.items.push(v);
        }
    }

    /// After `{`; consumes the closing `}`.
    fn object(&mut self) -> Result<J<'a>, E> {
        let base = self.members.len();
        loop {
            let Some(c) = self.ws() else {
                return Err(self.peek_err(EOF_OBJECT));
            };
            if c == b'}' {
                self.i += 1;
                return Ok(J::Obj(self.members.split_off(base)));
            }
            let c = if self.members.len() == base {
                c
            } else if c == b',' {
                self.i += 1;
                match self.ws() {
                    Some(b'}') => return Err(self.peek_err(TRAILING_COMMA)),
                    Some(c) => c,
                    None => return Err(self.peek_err(EOF_VALUE)),
                }
            } else {
                return Err(self.peek_err(EXPECTED_OBJECT_COMMA_OR_END));
            };
            if c != b'"' {
                return Err(self.peek_err(KEY_MUST_BE_A_STRING));
            }
            self.i += 1;
            let key = self.string(false)?;
            match self.ws() {
                Some(b':') => self.i += 1,
                Some(_) => return Err(self.peek_err(EXPECTED_COLON)),
                None => return Err(self.peek_err(EOF_OBJECT)),
            }
            let v = self.value()?;
            self.members.push((key, v));
        }
    }

    /// After the opening quote; consumes the closing one. `body`: the whole input is a string
    /// body with no quotes ([`unescape`]), so the end of input closes it and a `"` is an error.
    fn string(&mut self, body: bool) -> Result<Cow<'a, str>, E> {
        let mut start = self.i;
        let mut owned: Option<String> = None;
        loop {
            self.i += plain_len(&self.s[self.i..]);
            let c = match self.peek() {
                Some(c) => c,
                None if body => b'"',
                None => return Err(self.err(EOF_STRING)),
            };
            match c {
                b'"' if !(body && self.i < self.s.len()) => {
                    let tail = self.slice(start);
                    self.i += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut o) => {
                            o.push_str(tail);
                            Cow::Owned(o)
                        }
                    });
                }
                b'\\' => {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(self.slice(start));
                    self.i += 1;
                    let ch = self.escape()?;
                    o.push(ch);
                    start = self.i;
                }
                _ => {
                    // A control character, or a quote inside an `unescape` body.
                    self.i += 1;
                    return Err(self.err(CONTROL_CHARACTER));
                }
            }
        }
    }

    /// The text from `start` to here: both ends are at ASCII bytes (quotes, backslashes, escape
    /// ends), so this never falls back; `get` only spares the module the slicing panic code.
    fn slice(&self, start: usize) -> &'a str {
        self.src.get(start..self.i).unwrap_or_default()
    }

    /// After a backslash: the escaped character (serde_json's `parse_escape`, validating).
    fn escape(&mut self) -> Result<char, E> {
        let c = match self.next() {
            Some(c) => c,
            None => return Err(self.err(EOF_STRING)),
        };
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => return Err(self.err(INVALID_ESCAPE)),
        })
    }

    /// After `\u`: a BMP character or a surrogate pair (`\uD83D\uDE00`).
    #[cold]
    fn unicode_escape(&mut self) -> Result<char, E> {
        let n = self.hex4()?;
        if (0xDC00..=0xDFFF).contains(&n) {
            return Err(self.err(LONE_LEADING_SURROGATE));
        }
        if !(0xD800..=0xDBFF).contains(&n) {
            return Ok(char::from_u32(n).unwrap_or('\u{FFFD}'));
        }
        for expected in [b'\\', b'u'] {
            match self.peek() {
                None => return Err(self.err(EOF_STRING)),
                Some(c) => {
                    self.i += 1;
                    if c != expected {
                        return Err(self.err(UNEXPECTED_END_OF_HEX_ESCAPE));
                    }
                }
            }
        }
        let n2 = self.hex4()?;
        if !(0xDC00..=0xDFFF).contains(&n2) {
            return Err(self.err(LONE_LEADING_SURROGATE));
        }
        Ok(char::from_u32((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000).unwrap_or('\u{FFFD}'))
    }

    /// Four hex digits (serde_json's `decode_hex_escape`: it steps over four bytes, whatever
    /// they are, then reports a bad one after them).
    fn hex4(&mut self) -> Result<u32, E> {
        let Some(quad) = self.s.get(self.i..self.i + 4) else {
            self.i = self.s.len();
            return Err(self.err(EOF_STRING));
        };
        self.i += 4;
        let mut n = 0;
        for &c in quad {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.err(INVALID_ESCAPE)),
            };
            n = (n << 4) | d as u32;
        }
        Ok(n)
    }

    /// After an optional `-`: serde_json's `parse_integer`/`parse_number`.
    fn number(&mut self, positive: bool) -> Result<Num, E> {
        let mut sig = match self.next() {
            None => return Err(self.err(EOF_VALUE)),
            Some(b'0') => {
                if self.peek_or_null().is_ascii_digit() {
                    return Err(self.peek_err(INVALID_NUMBER));
                }
                0
            }
            Some(c @ b'1'..=b'9') => (c - b'0') as u64,
            Some(_) => return Err(self.err(INVALID_NUMBER)),
        };
        while let c @ b'0'..=b'9' = self.peek_or_null() {
            let d = (c - b'0') as u64;
            if overflows(sig, d) {
                return self.long_integer(positive, sig).map(Num::Float);
            }
            self.i += 1;
            sig = sig * 10 + d;
        }
        match self.peek_or_null() {
            b'.' => self.decimal(positive, sig, 0).map(Num::Float),
            b'e' | b'E' => self.exponent(positive, sig, 0).map(Num::Float),
            _ if positive => Ok(Num::Pos(sig)),
            _ => {
                // `-0` and integers below i64::MIN are floats, as in serde_json.
                let neg = (sig as i64).wrapping_neg();
                Ok(if neg >= 0 {
                    Num::Float(-(sig as f64))
                } else {
                    Num::Neg(neg)
                })
            }
        }
    }

    /// More integer digits than u64 holds: serde_json drops them, keeping their count as a
    /// power of ten.
    #[cold]
    fn long_integer(&mut self, positive: bool, sig: u64) -> Result<f64, E> {
        let mut exp = 0i32;
        loop {
            match self.peek_or_null() {
                b'0'..=b'9' => {
                    self.i += 1;
                    exp = exp.wrapping_add(1);
                }
                b'.' => return self.decimal(positive, sig, exp),
                b'e' | b'E' => return self.exponent(positive, sig, exp),
                _ => return self.f64_from_parts(positive, sig, exp),
            }
        }
    }

    /// At the `.`.
    fn decimal(&mut self, positive: bool, mut sig: u64, exp_before: i32) -> Result<f64, E> {
        self.i += 1;
        let mut exp_after = 0i32;
        while let c @ b'0'..=b'9' = self.peek_or_null() {
            let d = (c - b'0') as u64;
            if overflows(sig, d) {
                // The digits u64 cannot hold are dropped.
                while self.peek_or_null().is_ascii_digit() {
                    self.i += 1;
                }
                return self.after_fraction(positive, sig, exp_before.wrapping_add(exp_after));
            }
            self.i += 1;
            sig = sig * 10 + d;
            exp_after = exp_after.wrapping_sub(1);
        }
        if exp_after == 0 {
            let code = if self.i < self.s.len() {
                INVALID_NUMBER
            } else {
                EOF_VALUE
            };
            return Err(self.peek_err(code));
        }
        self.after_fraction(positive, sig, exp_before.wrapping_add(exp_after))
    }

    fn after_fraction(&mut self, positive: bool, sig: u64, exp: i32) -> Result<f64, E> {
        match self.peek_or_null() {
            b'e' | b'E' => self.exponent(positive, sig, exp),
            _ => self.f64_from_parts(positive, sig, exp),
        }
    }

    /// At the `e`/`E`.
    fn exponent(&mut self, positive: bool, sig: u64, starting: i32) -> Result<f64, E> {
        self.i += 1;
        let positive_exp = match self.peek_or_null() {
            b'+' => {
                self.i += 1;
                true
            }
            b'-' => {
                self.i += 1;
                false
            }
            _ => true,
        };
        let mut exp = match self.next() {
            None => return Err(self.err(EOF_VALUE)),
            Some(c @ b'0'..=b'9') => (c - b'0') as i32,
            Some(_) => return Err(self.err(INVALID_NUMBER)),
        };
        while let c @ b'0'..=b'9' = self.peek_or_null() {
            self.i += 1;
            let d = (c - b'0') as i32;
            if exp >= i32::MAX / 10 && (exp > i32::MAX / 10 || d > i32::MAX % 10) {
                // An exponent beyond i32: out of range, or zero.
                if sig != 0 && positive_exp {
                    return Err(self.err(NUMBER_OUT_OF_RANGE));
                }
                while self.peek_or_null().is_ascii_digit() {
                    self.i += 1;
                }
                return Ok(if positive { 0.0 } else { -0.0 });
            }
            exp = exp * 10 + d;
        }
        let exp = if positive_exp {
            starting.saturating_add(exp)
        } else {
            starting.saturating_sub(exp)
        };
        self.f64_from_parts(positive, sig, exp)
    }

    /// serde_json's float: `sig` times or divided by a table power of ten (not always correctly
    /// rounded, e.g. for 17+ significant digits; `str::parse::<f64>` is, so it would differ).
    fn f64_from_parts(&self, positive: bool, sig: u64, mut exp: i32) -> Result<f64, E> {
        let mut f = sig as f64;
        loop {
            match POW10.get(exp.wrapping_abs() as u32 as usize) {
                Some(&pow) => {
                    if exp >= 0 {
                        f *= pow;
                        if f.is_infinite() {
                            return Err(self.err(NUMBER_OUT_OF_RANGE));
                        }
                    } else {
                        f /= pow;
                    }
                    break;
                }
                None => {
                    if f == 0.0 {
                        break;
                    }
                    if exp >= 0 {
                        return Err(self.err(NUMBER_OUT_OF_RANGE));
                    }
                    f /= 1e308;
                    exp += 308;
                }
            }
        }
        Ok(if positive { f } else { -f })
    }
}

/// `a * 10 + d` would overflow u64.
fn overflows(a: u64, d: u64) -> bool {
    a >= u64::MAX / 10 && (a > u64::MAX / 10 || d > u64::MAX % 10)
}

/// 1e0..=1e308, serde_json's table (each literal correctly rounded by the compiler).
static POW10: [f64; 309] = [
    1e000, 1e001, 1e002, 1e003, 1e004, 1e005, 1e006, 1e007, 1e008, 1e009, //
    1e010, 1e011, 1e012, 1e013, 1e014, 1e015, 1e016, 1e017, 1e018, 1e019, //
    1e020, 1e021, 1e022, 1e023, 1e024, 1e025, 1e026, 1e027, 1e028, 1e029, //
    1e030, 1e031, 1e032, 1e033, 1e034, 1e035, 1e036, 1e037, 1e038, 1e039, //
    1e040, 1e041, 1e042, 1e043, 1e044, 1e045, 1e046, 1e047, 1e048, 1e049, //
    1e050, 1e051, 1e052, 1e053, 1e054, 1e055, 1e056, 1e057, 1e058, 1e059, //
    1e060, 1e061, 1e062, 1e063, 1e064, 1e065, 1e066, 1e067, 1e068, 1e069, //
    1e070, 1e071, 1e072, 1e073, 1e074, 1e075, 1e076, 1e077, 1e078, 1e079, //
    1e080, 1e081, 1e082, 1e083, 1e084, 1e085, 1e086, 1e087, 1e088, 1e089, //
    1e090, 1e091, 1e092, 1e093, 1e094, 1e095, 1e096, 1e097, 1e098, 1e099, //
    1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109, //
    1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119, //
    1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129, //
    1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139, //
    1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149, //
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159, //
    1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169, //
    1e170, 1e171, 1e172, 1e173, 1e174, 1e175, 1e176, 1e177, 1e178, 1e179, //
    1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188, 1e189, //
    1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199, //
    1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209, //
    1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219, //
    1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229, //
    1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239, //
    1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249, //
    1e250, 1e251, 1e252, 1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259, //
    1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266, 1e267, 1e268, 1e269, //
    1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279, //
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289, //
    1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, //
    1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-at-a-time scan against a byte loop: every stop byte (and bytes next to the
    /// boundaries: 0x1f/0x20, 0x7f/0x80, 0xff) at every position of runs up to 24 bytes, over
    /// backgrounds that stress the borrow of the zero-byte test.
    #[test]
    fn plain_len_matches_a_byte_loop() {
        let naive = |s: &[u8]| {
            s.iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(s.len())
        };
        for len in 0..24 {
            for fill in [b'a', 0x21, 0x80, 0xff, b'#', b'[', 0x5d] {
                for at in 0..=len {
                    for b in [
                        b'"', b'\\', 0, 0x1f, 0x20, 0x01, 0x7f, 0x80, 0xff, 0x23, 0x5b, 0x5d, 0x21,
                    ] {
                        let mut v = vec![fill; len];
                        if at < len {
                            v[at] = b;
                            if at + 1 < len {
                                v[at + 1] = b'"';
                            }
                        }
                        assert_eq!(plain_len(&v), naive(&v), "{v:?}");
                    }
                }
            }
        }
    }
}
