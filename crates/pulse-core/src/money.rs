//! Money as people read it: whole units with thousands separators. One home
//! for the lists, the report, the drivers' sentences and the command line.

/// Rounded to whole units with thousands separators: `1234567.8` ->
/// `"1,234,568"`, `-80.2` -> `"-80"`. Out-of-range values saturate and NaN
/// reads 0 (the `as i64` rules).
pub fn grouped(v: f64) -> String {
    let whole = v.round() as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if whole < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// [`grouped`] with a dollar sign after the sign: `"$12,345"`, `"-$80"`.
pub fn dollars(v: f64) -> String {
    let g = grouped(v);
    match g.strip_prefix('-') {
        Some(rest) => format!("-${rest}"),
        None => format!("${g}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_three_with_the_sign_in_front() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(999.5), "1,000");
        assert_eq!(grouped(1_234_567.8), "1,234,568");
        assert_eq!(grouped(-80.2), "-80");
        assert_eq!(grouped(-1_000.0), "-1,000");
        assert_eq!(grouped(-0.4), "0");
        assert_eq!(grouped(f64::NAN), "0");
        assert_eq!(grouped(f64::INFINITY), "9,223,372,036,854,775,807");
        assert_eq!(grouped(f64::NEG_INFINITY), "-9,223,372,036,854,775,808");
        assert_eq!(dollars(12_345.0), "$12,345");
        assert_eq!(dollars(-80.0), "-$80");
        assert_eq!(dollars(0.0), "$0");
    }
}
