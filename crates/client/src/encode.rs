//! Percent-encoding for URL path segments, query values and form bodies.

/// `application/x-www-form-urlencoded` value encoding.
pub fn form_encode(s: &str) -> String {
    percent(s, b"-_.*", true)
}

/// Percent-encodes one URL path segment or query value (RFC 3986 unreserved characters pass).
pub fn path_segment(s: &str) -> String {
    percent(s, b"-_.~", false)
}

fn percent(s: &str, also_keep: &[u8], space_plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || also_keep.contains(&b) {
            out.push(b as char);
        } else if b == b' ' && space_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(form_encode("a+b&c=d e"), "a%2Bb%26c%3Dd+e");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(path_segment("../x?y#z"), "..%2Fx%3Fy%23z");
    }
}
