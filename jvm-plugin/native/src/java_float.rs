//! Java's `Double.toString` and `Float.toString` as specified since Java 19 (JDK-4511638):
//! the decimal of the fewest digits (at least two) that rounds to the value, the one closest
//! to it among those (an even last digit on a tie), laid out as `1234.5`, `0.001` or
//! `1.0E-4`. Spark prints floats this way in `CAST(x AS STRING)`, and reads a double's digits
//! this way before `CAST(x AS DECIMAL)` (Scala's `BigDecimal(double)`).
//!
//! Java 17's (and earlier) algorithm sometimes gives more digits than needed, or digits that
//! are not the closest; it is not reproduced here, so the plugin converts these casts only
//! for executors on Java 19 or later.
//!
//! The digits come from Rust's shortest round-trip formatting (the closest of the shortest),
//! and where that is a single digit, from the closest two-digit decimal that still rounds to
//! the value.

/// The significant digits and decimal exponent of `text` in Rust's `{:e}` layout
/// (`d.ddde-x`): `value = 0.d1d2d3... × 10^(exponent + 1)`.
fn scientific(text: &str) -> (Vec<u8>, i32) {
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    (digits, exponent.parse().unwrap_or(0))
}

/// `digits` without its trailing zeros.
fn trim_zeros(digits: &[u8]) -> &[u8] {
    let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    &digits[..end]
}

/// Java's digits of a finite, positive value: `shortest` and `two` are its shortest and
/// two-significant-digit `{:e}` forms; `round_trips` says whether a decimal rounds back to
/// it, `below` whether a decimal (that does not round to it) lies below it, `rounded(n)`
/// gives its `{:.ne}` form (n + 1 digits, correctly rounded) and `exact()` all its digits.
fn java_digits(
    shortest: &str,
    two: &str,
    round_trips: impl Fn(&str) -> bool,
    below: impl Fn(&str) -> bool,
    rounded: impl Fn(usize) -> String,
    exact: impl Fn() -> String,
) -> (Vec<u8>, i32) {
    let (digits, exponent) = scientific(shortest);
    if digits.len() > 1 {
        // Rust breaks a tie between the two closest shortest decimals upward, Java toward
        // the even digit. A tie: the value is exactly halfway, one more digit and a 5.
        let n = digits.len();
        let (more, more_exponent) = scientific(&rounded(n));
        if more.last() != Some(&b'5') {
            return (digits, exponent);
        }
        let (exact_digits, _) = scientific(&exact());
        let exact_digits = trim_zeros(&exact_digits);
        if exact_digits != trim_zeros(&more) || exact_digits.len() != n + 1 {
            return (digits, exponent);
        }
        let low: u64 = std::str::from_utf8(&more[..n])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let even = if low.is_multiple_of(2) { low } else { low + 1 };
        // The value is `even × 10^power` (or the odd one's neighbour).
        let power = more_exponent - n as i32 + 1;
        if round_trips(&format!("{even}e{power}")) {
            let even = even.to_string().into_bytes();
            let exponent = power + even.len() as i32 - 1;
            return (even, exponent);
        }
        return (digits, exponent);
    }
    // One digit: Java takes the closest decimal of at most two digits that rounds to the
    // value. The closest two-digit decimal, if it rounds back; else its neighbour on the
    // other side of the value (between it and the one-digit decimal, so it rounds back).
    if round_trips(two) {
        return scientific(two);
    }
    let (two_digits, exponent) = scientific(two);
    let n = i32::from(two_digits[0] - b'0') * 10 + i32::from(two_digits[1] - b'0');
    let (n, exponent) = match (below(two), n) {
        (true, 99) => (10, exponent + 1),
        (true, n) => (n + 1, exponent),
        (false, 10) => (99, exponent - 1),
        (false, n) => (n - 1, exponent),
    };
    (vec![b'0' + (n / 10) as u8, b'0' + (n % 10) as u8], exponent)
}

/// Java's layout of `digits` (`d.ddd × 10^exponent`): plain from 10^-3 up to 10^7, with at
/// least one fraction digit; else `d.dddE±n`.
fn java_layout(negative: bool, digits: &[u8], exponent: i32) -> String {
    let digits: String = String::from_utf8_lossy(digits)
        .trim_end_matches('0')
        .to_owned();
    let digits = if digits.is_empty() {
        "0".to_owned()
    } else {
        digits
    };
    let sign = if negative { "-" } else { "" };
    if (-3..7).contains(&exponent) {
        let point = exponent + 1;
        let (int, frac) = if point <= 0 {
            (
                "0".to_owned(),
                format!("{}{digits}", "0".repeat((-point) as usize)),
            )
        } else if point as usize >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point as usize - digits.len())),
                String::new(),
            )
        } else {
            let (i, f) = digits.split_at(point as usize);
            (i.to_owned(), f.to_owned())
        };
        let frac = if frac.is_empty() {
            "0".to_owned()
        } else {
            frac
        };
        format!("{sign}{int}.{frac}")
    } else {
        let frac = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{frac}E{exponent}", &digits[..1])
    }
}

/// Java's text of NaN, the infinities and the zeros (a float widens to the same ones).
fn java_special(v: f64) -> Option<String> {
    let text = if v.is_nan() {
        "NaN"
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }
    } else if v == 0.0 {
        if v.is_sign_negative() { "-0.0" } else { "0.0" }
    } else {
        return None;
    };
    Some(text.to_owned())
}

/// The significant digits (ASCII) and decimal exponent of `Double.toString(v)` as Java 19
/// and later give it, for a finite `v` other than zero: `|v|` reads back from `d.ddd ×
/// 10^exponent`. (What `java.math.BigDecimal.valueOf(v)` holds, but for the sign.)
pub fn java_double_digits(v: f64) -> (Vec<u8>, i32) {
    let a = v.abs();
    java_digits(
        &format!("{a:e}"),
        &format!("{a:.1e}"),
        |d| d.parse::<f64>() == Ok(a),
        |d| d.parse::<f64>().is_ok_and(|x| x < a),
        |n| format!("{a:.n$e}"),
        // (A double's exact expansion has at most 767 significant digits.)
        || format!("{a:.800e}"),
    )
}

/// `Double.toString(v)` as Java 19 and later give it.
pub fn java_double_string(v: f64) -> String {
    if let Some(text) = java_special(v) {
        return text;
    }
    let (digits, exponent) = java_double_digits(v);
    java_layout(v < 0.0, &digits, exponent)
}

/// `Float.toString(v)` as Java 19 and later give it.
pub fn java_float_string(v: f32) -> String {
    if let Some(text) = java_special(f64::from(v)) {
        return text;
    }
    let a = v.abs();
    let (digits, exponent) = java_digits(
        &format!("{a:e}"),
        &format!("{a:.1e}"),
        |d| d.parse::<f32>() == Ok(a),
        |d| d.parse::<f32>().is_ok_and(|x| x < a),
        |n| format!("{a:.n$e}"),
        // (A float's exact expansion has at most 112 significant digits.)
        || format!("{a:.120e}"),
    );
    java_layout(v < 0.0, &digits, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_19s() {
        for (v, java) in [
            (0.1, "0.1"),
            (-200.7, "-200.7"),
            (1.0, "1.0"),
            (2.0, "2.0"),
            (100.0, "100.0"),
            (1e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1_234_567.0, "1234567.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1e10, "1.0E10"),
            (9.3e18, "9.3E18"),
            (1.0e23, "1.0E23"),
            (2.0e23, "2.0E23"),
            (1.0e22, "1.0E22"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::MAX, "1.7976931348623157E308"),
            // The one-digit shortest is 5E-324; Java takes the closest two digits.
            (5e-324, "4.9E-324"),
            (1e-323, "9.9E-324"),
            (2.0e-323, "2.0E-323"),
            (1.5e-323, "1.5E-323"),
            (0.3, "0.3"),
            (2.0 / 3.0, "0.6666666666666666"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123_456_789.0, "1.23456789E8"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(java_double_string(v), java, "{v:e}");
        }
    }

    #[test]
    fn floats_print_as_java_19s() {
        for (v, java) in [
            (0.1_f32, "0.1"),
            (1.0e10, "1.0E10"),
            (3.4028235e38, "3.4028235E38"),
            (1.4e-45, "1.4E-45"),
            (f32::MIN_POSITIVE, "1.1754944E-38"),
            (16_777_216.0, "1.6777216E7"),
            (1.0e-3, "0.001"),
            (-2.5, "-2.5"),
            (f32::INFINITY, "Infinity"),
        ] {
            assert_eq!(java_float_string(v), java, "{v:e}");
        }
    }
}

/// Compares with a JVM's output: `JAVA_FLOAT_STRINGS=file cargo test -- --ignored`, where each
/// line of the file is `double bits (hex) \t Double.toString \t float bits \t Float.toString`
/// as a Java 19+ JVM prints them (`jvm-plugin/native/tools/JavaFloatStrings.java` makes it).
#[cfg(test)]
#[test]
#[ignore]
fn agrees_with_a_jvm() {
    let path = std::env::var("JAVA_FLOAT_STRINGS").expect("JAVA_FLOAT_STRINGS");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut lines, mut wrong) = (0, Vec::new());
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let d = f64::from_bits(u64::from_str_radix(f[0], 16).unwrap());
        let s = f32::from_bits(u32::from_str_radix(f[2], 16).unwrap());
        if java_double_string(d) != f[1] {
            wrong.push(format!("{} {} {}", f[0], f[1], java_double_string(d)));
        }
        if java_float_string(s) != f[3] {
            wrong.push(format!("{} {} {}", f[2], f[3], java_float_string(s)));
        }
        lines += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} of {lines} differ: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
    println!("{lines} doubles and floats agree");
}
