//! A small DAX-like filter language for the emulator's row-level security roles.
//!
//! ```text
//! expr    := and ( ("||" | "OR") and )*
//! and     := unary ( ("&&" | "AND") unary )*
//! unary   := "NOT" unary | "(" expr ")" | "TRUE()" | "FALSE()" | operand op operand
//! op      := "=" | "==" | "<>" | "!="
//! operand := [Column] | Table[Column] | 'Table'[Column] | USERNAME() | USERPRINCIPALNAME() | CUSTOMDATA()
//!          | "text" | number
//! ```
//! Text comparison is case-insensitive, as in DAX.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Column(String),
    Username,
    CustomData,
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Const(bool),
    Cmp {
        left: Operand,
        negate: bool,
        right: Operand,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// The values the DAX functions return while filtering.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    pub username: String,
    pub custom_data: String,
}

struct P<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> P<'a> {
    fn ws(&mut self) {
        while self.s[self.i..].starts_with(|c: char| c.is_whitespace()) {
            self.i += self.s[self.i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        let rest = &self.s[self.i..];
        if rest.len() >= tok.len() && rest[..tok.len()].eq_ignore_ascii_case(tok) {
            // keywords must not run into an identifier
            let alpha = tok.chars().all(|c| c.is_ascii_alphabetic());
            if alpha
                && rest[tok.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            {
                return false;
            }
            self.i += tok.len();
            true
        } else {
            false
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {} in `{}`", self.i, self.s))
    }
    fn expr(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.eat("||") || self.eat("OR") {
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        while self.eat("&&") || self.eat("AND") {
            let r = self.unary()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("NOT") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("TRUE()") {
            return Ok(Expr::Const(true));
        }
        if self.eat("FALSE()") {
            return Ok(Expr::Const(false));
        }
        if self.eat("(") {
            let e = self.expr()?;
            if !self.eat(")") {
                return self.err("expected )");
            }
            return Ok(e);
        }
        let left = self.operand()?;
        let negate = if self.eat("==") || self.eat("=") {
            false
        } else if self.eat("<>") || self.eat("!=") {
            true
        } else {
            return self.err("expected = or <>");
        };
        let right = self.operand()?;
        Ok(Expr::Cmp {
            left,
            negate,
            right,
        })
    }
    fn operand(&mut self) -> Result<Operand, String> {
        self.ws();
        if self.eat("USERNAME()") || self.eat("USERPRINCIPALNAME()") {
            return Ok(Operand::Username);
        }
        if self.eat("CUSTOMDATA()") {
            return Ok(Operand::CustomData);
        }
        let rest = &self.s[self.i..];
        if let Some(r) = rest.strip_prefix('"') {
            // DAX escapes a quote by doubling it
            let mut out = String::new();
            let mut chars = r.char_indices().peekable();
            while let Some((k, c)) = chars.next() {
                if c == '"' {
                    if matches!(chars.peek(), Some((_, '"'))) {
                        chars.next();
                        out.push('"');
                        continue;
                    }
                    self.i += 1 + k + 1;
                    return Ok(Operand::Text(out));
                }
                out.push(c);
            }
            return self.err("unterminated string");
        }
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            let n: f64 = rest[..end]
                .parse()
                .map_err(|_| format!("bad number in `{}`", self.s))?;
            self.i += end;
            return Ok(Operand::Number(n));
        }
        // optional table name: 'Table Name' or Table
        let mut j = 0;
        if let Some(r) = rest.strip_prefix('\'') {
            match r.find('\'') {
                Some(e) => j = e + 2,
                None => return self.err("unterminated table name"),
            }
        } else {
            let e = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if rest[e..].starts_with('[') {
                j = e;
            }
        }
        let r = &rest[j..];
        if let Some(r) = r.strip_prefix('[') {
            if let Some(e) = r.find(']') {
                let col = r[..e].to_string();
                self.i += j + 1 + e + 1;
                return Ok(Operand::Column(col));
            }
        }
        self.err("expected a column, USERNAME(), CUSTOMDATA(), text or number")
    }
}

pub fn parse(src: &str) -> Result<Expr, String> {
    let mut p = P { s: src, i: 0 };
    let e = p.expr()?;
    p.ws();
    if p.i != src.len() {
        return p.err("unexpected trailing input");
    }
    Ok(e)
}

enum V {
    T(String),
    N(f64),
    Blank,
}

fn value(op: &Operand, row: &Map<String, Value>, ctx: &Ctx) -> V {
    match op {
        Operand::Username => V::T(ctx.username.clone()),
        Operand::CustomData => V::T(ctx.custom_data.clone()),
        Operand::Text(t) => V::T(t.clone()),
        Operand::Number(n) => V::N(*n),
        Operand::Column(c) => {
            let v = row
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(c))
                .map(|(_, v)| v);
            match v {
                Some(Value::String(s)) => V::T(s.clone()),
                Some(Value::Number(n)) => V::N(n.as_f64().unwrap_or(f64::NAN)),
                Some(Value::Bool(b)) => V::T(b.to_string()),
                _ => V::Blank,
            }
        }
    }
}

fn eq(a: V, b: V) -> bool {
    match (a, b) {
        (V::N(x), V::N(y)) => x == y,
        (V::T(x), V::T(y)) => x.to_lowercase() == y.to_lowercase(),
        (V::N(x), V::T(y)) | (V::T(y), V::N(x)) => {
            y.trim().parse::<f64>().map(|y| y == x).unwrap_or(false)
        }
        (V::Blank, V::Blank) => true,
        (V::Blank, V::T(t)) | (V::T(t), V::Blank) => t.is_empty(),
        (V::Blank, V::N(n)) | (V::N(n), V::Blank) => n == 0.0,
    }
}

pub fn eval(e: &Expr, row: &Map<String, Value>, ctx: &Ctx) -> bool {
    match e {
        Expr::Const(b) => *b,
        Expr::Not(x) => !eval(x, row, ctx),
        Expr::And(a, b) => eval(a, row, ctx) && eval(b, row, ctx),
        Expr::Or(a, b) => eval(a, row, ctx) || eval(b, row, ctx),
        Expr::Cmp {
            left,
            negate,
            right,
        } => eq(value(left, row, ctx), value(right, row, ctx)) != *negate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn username_and_literals() {
        let ctx = Ctx {
            username: "contoso".into(),
            custom_data: "North".into(),
        };
        let r = row(json!({"Customer": "Contoso", "Region": "North", "Amount": 5}));
        assert!(eval(&parse("[Customer] = USERNAME()").unwrap(), &r, &ctx));
        assert!(eval(
            &parse("'Sales'[Region] = CUSTOMDATA() && [Amount] = 5").unwrap(),
            &r,
            &ctx
        ));
        assert!(!eval(
            &parse("Sales[Customer] <> \"contoso\"").unwrap(),
            &r,
            &ctx
        ));
        assert!(eval(
            &parse("NOT ([Customer] = \"Fabrikam\") OR FALSE()").unwrap(),
            &r,
            &ctx
        ));
        assert!(!eval(&parse("FALSE()").unwrap(), &r, &ctx));
        assert!(eval(&parse("[Missing] = \"\"").unwrap(), &r, &ctx));
    }

    #[test]
    fn parse_errors() {
        assert!(parse("[Customer] USERNAME()").is_err());
        assert!(parse("[Customer] = \"x").is_err());
        assert!(parse("[Customer] = 1 extra").is_err());
        assert!(parse("").is_err());
    }
}
