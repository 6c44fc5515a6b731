//! GUIDs as 128-bit keys: every id lookup of the rules decodes one.

/// A GUID's 128 bits, or `None` when `s` is not a GUID. Case-insensitive by construction, so
/// ids compare as integers. Every id lookup runs this, so it decodes eight digits at a time
/// (SWAR: one 64-bit word holds eight ASCII bytes) instead of looping over characters.
pub fn guid_bits(s: &str) -> Option<u128> {
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut d = [0u8; 32];
    d[..8].copy_from_slice(&b[..8]);
    d[8..12].copy_from_slice(&b[9..13]);
    d[12..16].copy_from_slice(&b[14..18]);
    d[16..20].copy_from_slice(&b[19..23]);
    d[20..].copy_from_slice(&b[24..]);
    let [w0, w1, w2, w3] = [0, 8, 16, 24].map(|i| {
        let word: [u8; 8] = d[i..i + 8].try_into().expect("8 bytes");
        hex8(u64::from_be_bytes(word))
    });
    let valid = w0.0 & w1.0 & w2.0 & w3.0;
    let bits = u128::from(w0.1) << 96 | u128::from(w1.1) << 64 | u128::from(w2.1) << 32;
    valid.then_some(bits | u128::from(w3.1))
}

/// Eight ASCII hex digits (the first in the most significant byte): whether they all are hex
/// digits, and their 32-bit value. Branch-free, so the four words of a GUID decode in parallel.
#[inline(always)]
fn hex8(x: u64) -> (bool, u32) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, for bytes below 0x80 (so no carry crosses a byte): the high bit is set iff the
    // byte is in lo..=hi.
    let within = |v: u64, lo: u8, hi: u8| {
        v.wrapping_add(ONES * u64::from(0x80 - lo))
            & !v.wrapping_add(ONES * u64::from(0x7f - hi))
            & HIGH
    };
    let digit = within(x, b'0', b'9');
    let letter = within(x | (ONES * 0x20), b'a', b'f');
    let valid = x & HIGH == 0 && digit | letter == HIGH;
    // '0'..'9' are 0..9 in the low nibble; 'a'..'f' and 'A'..'F' are 1..6 there, plus 9.
    let v = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pack the eight nibbles: byte pairs, then 16-bit pairs, then 32-bit pairs.
    let v = (v | (v >> 4)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
    (valid, ((v | (v >> 16)) & 0xffff_ffff) as u32)
}
