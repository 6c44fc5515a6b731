//! Finds the text a JSON Pointer names inside a JSON document, for rustc-like snippets in the CLI
//! and line markers in the browser editor. Tolerant: a pointer to a missing member resolves to
//! its nearest existing ancestor.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Byte offsets into the source.
    pub start: usize,
    pub end: usize,
    /// 1-based line and column (in characters) of `start`.
    pub line: usize,
    pub column: usize,
    /// False when the pointer's target does not exist and an ancestor was used.
    pub exact: bool,
}

/// Locates `pointer` (RFC 6901) in `src`. For an object member the span covers `"key": value`.
pub fn locate(src: &str, pointer: &str) -> Option<Span> {
    let segments: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut s = Scanner {
        b: src.as_bytes(),
        pos: 0,
    };
    s.ws();
    let (mut start, mut end) = (s.pos, s.value_end()?);
    let mut exact = true;
    for seg in &segments {
        let mut inner = Scanner {
            b: src.as_bytes(),
            pos: value_start(src, start),
        };
        match inner.find(seg) {
            Some((k, vs, ve)) => {
                start = k;
                end = ve;
                let _ = vs;
            }
            None => {
                exact = false;
                break;
            }
        }
    }
    let (line, column) = line_col(src, start);
    Some(Span {
        start,
        end,
        line,
        column,
        exact,
    })
}

/// Where the value begins when `at` may point at a member's key.
fn value_start(src: &str, at: usize) -> usize {
    let b = src.as_bytes();
    if b.get(at) == Some(&b'"') {
        let mut s = Scanner { b, pos: at };
        if s.string().is_some() {
            s.ws();
            if s.peek() == Some(b':') {
                s.pos += 1;
                s.ws();
                return s.pos;
            }
        }
    }
    at
}

pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }
    /// Reads a string, returning its decoded text.
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        let mut raw_end = None;
        while let Some(c) = self.peek() {
            match c {
                b'\\' => self.pos += 2,
                b'"' => {
                    raw_end = Some(self.pos);
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        let raw = std::str::from_utf8(&self.b[start..raw_end?]).ok()?;
        if !raw.contains('\\') {
            return Some(raw.to_string());
        }
        crate::json::unescape(raw).map(String::from)
    }
    /// Skips one value and returns the offset after it.
    fn value_end(&mut self) -> Option<usize> {
        self.ws();
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
            }
        }
        Some(self.pos)
    }
    /// In the container at `pos`, finds member/element `seg`: (span start, value start, value end).
    fn find(&mut self, seg: &str) -> Option<(usize, usize, usize)> {
        self.ws();
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                loop {
                    self.ws();
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let kstart = self.pos;
                    let key = self.string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.pos += 1;
                    self.ws();
                    let vstart = self.pos;
                    let vend = self.value_end()?;
                    if key == seg {
                        return Some((kstart, vstart, vend));
                    }
                    self.ws();
                    if self.peek()? == b',' {
                        self.pos += 1;
                    }
                }
            }
            b'[' => {
                let want: usize = seg.parse().ok()?;
                self.pos += 1;
                let mut i = 0;
                loop {
                    self.ws();
                    if self.peek()? == b']' {
                        return None;
                    }
                    let vstart = self.pos;
                    let vend = self.value_end()?;
                    if i == want {
                        return Some((vstart, vstart, vend));
                    }
                    i += 1;
                    self.ws();
                    if self.peek()? == b',' {
                        self.pos += 1;
                    }
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_members_elements_and_ancestors() {
        let src = "{\n  \"a\": {\"b\": [1, {\"c\": \"x\"}]},\n  \"d\": true\n}";
        let s = locate(src, "/a/b/1/c").unwrap();
        assert_eq!(&src[s.start..s.end], "\"c\": \"x\"");
        assert_eq!((s.line, s.exact), (2, true));
        let s = locate(src, "/d").unwrap();
        assert_eq!(&src[s.start..s.end], "\"d\": true");
        assert_eq!(s.line, 3);
        let s = locate(src, "/a/zz").unwrap();
        assert!(!s.exact);
        assert_eq!(&src[s.start..s.end], "\"a\": {\"b\": [1, {\"c\": \"x\"}]}");
        let s = locate(src, "").unwrap();
        assert_eq!((s.start, s.end), (0, src.len()));
    }

    #[test]
    fn never_panics_on_garbage() {
        for src in ["", "{", "[1,", "{\"a\":", "\"\\", "{\"a\" 1}", "]]]"] {
            let _ = locate(src, "/a/0/b");
        }
    }
}
