//! Memory sizes as users write them on the command line: `512Mi`, `4Gi`, `8G`, `1024`.

use crate::error::{Error, Result};

/// Parses a size: a number, then an optional unit `K`/`M`/`G`/`T`/`P` (powers of 1000) or
/// `Ki`/`Mi`/`Gi`/`Ti`/`Pi` (powers of 1024), optionally followed by `B`.
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "invalid size `{text}`: {why}; write a number with an optional unit, \
             e.g. 512Mi, 4Gi or 8G"
        ))
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(bad("it does not start with a number"));
    }
    let unit = unit.trim();
    let unit = unit
        .strip_suffix('B')
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let (letter, binary) = match unit.strip_suffix('i') {
        Some(letter) => (letter, true),
        None => (unit, false),
    };
    let exponent = match letter.to_ascii_uppercase().as_str() {
        "" if !binary => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        _ => return Err(bad("unknown unit")),
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let value: f64 = number.parse().map_err(|_| bad("malformed number"))?;
    let bytes = value * base.powi(exponent);
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad("too large"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn parses_vineyard_spellings() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("512Mi").unwrap(), 512 << 20);
        assert_eq!(parse_size("4Gi").unwrap(), 4 << 30);
        assert_eq!(parse_size("8G").unwrap(), 8_000_000_000);
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(parse_size("2k").unwrap(), 2000);
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        for text in ["", "Gi", "12Q", "1.2.3M", "99999999999P"] {
            let message = parse_size(text).unwrap_err().to_string();
            assert!(message.contains("e.g. 512Mi"), "{message}");
        }
    }
}
