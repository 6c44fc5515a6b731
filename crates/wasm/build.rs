//! Embeds `docs/schemas/scenario.schema.json` minified (the committed file is pretty-printed for
//! people; whitespace is 40% of it).

use std::{env, fs, path::Path};

fn main() {
    let src = "../../docs/schemas/scenario.schema.json";
    println!("cargo:rerun-if-changed={src}");
    let text = fs::read_to_string(src).expect("docs/schemas/scenario.schema.json");
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("scenario.schema.json");
    fs::write(dest, out).expect("write the minified schema");
}
