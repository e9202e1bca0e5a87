//! Spark's `rlike` (`regexp`, `regexp_like`): `java.util.regex.Pattern.compile(pattern)
//! .matcher(s).find()` ([`SparkRLike`]), for a constant pattern translated exactly into the
//! `regex` crate's syntax ([`JavaRegex`]).
//!
//! Whether a match exists anywhere does not depend on how an engine chooses among matches
//! (Java backtracks, `regex` runs automata), only on the language each construct accepts, so
//! the translation spells out Java's meaning of every construct it accepts, without flags:
//!
//! | Java | accepts |
//! |---|---|
//! | `.` | any character but `\n`, `\r`, `\u0085`, `\u2028`, `\u2029` (with `(?s)`, any) |
//! | `\d`, `\w`, `\s` and `\D`, `\W`, `\S` | ASCII's digits, `[a-zA-Z_0-9]`, `[ \t\n\x0B\f\r]`, and the rest |
//! | `(?i)` | ASCII letters of either case (Java's case-insensitivity without `UNICODE_CASE`) |
//! | `$` | the end, or before a final line terminator (`\r\n`, `\n`, `\r`, `\u0085`, `\u2028`, `\u2029`) |
//! | literals, escapes (`\t`, `\xhh`, `\x{h...}`, `\uhhhh`, a backslash before punctuation), classes with ranges and the shorthands, `^`, `\A`, groups (capturing, named, non-capturing, with `i` and `s` flags), alternation, greedy and lazy quantifiers | as Java |
//!
//! A `$` is accepted at the end of a top-level alternative only: the text is then also tried
//! without its final line terminator, the `$` translated to the end of the text. Anything else
//! (lookaround, backreferences, possessive quantifiers, atomic groups, `\b`, `\p{..}`, `\Q..\E`,
//! nested classes and intersections, other flags, octal escapes, and whatever Java rejects)
//! leaves the expression to Spark, which compiles it (and raises its error).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use regex::Regex;

use crate::error::NativeError;
use crate::unary::{evaluate_unary, only_child};

/// Java's inline flags that are translated.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    case_insensitive: bool,
    dot_all: bool,
}

/// Java's `.` without `DOTALL`: not a line terminator.
const DOT: &str = r"[^\x{A}\x{D}\x{85}\x{2028}\x{2029}]";

/// Code point ranges of a character class.
type Ranges = Vec<(u32, u32)>;

fn digits() -> Ranges {
    vec![(0x30, 0x39)]
}

fn word() -> Ranges {
    vec![(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
}

fn space() -> Ranges {
    vec![(0x09, 0x0D), (0x20, 0x20)]
}

/// Every code point not in `ranges` (sorted, disjoint).
fn complement(mut ranges: Ranges) -> Ranges {
    ranges.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0u32;
    for (lo, hi) in ranges {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = next.max(hi + 1);
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    out
}

/// `ranges` with the other case of every ASCII letter in them.
fn with_ascii_case(ranges: &Ranges) -> Ranges {
    let mut out = ranges.clone();
    for &(lo, hi) in ranges {
        for (from, to) in [(b'a', b'A'), (b'A', b'a')] {
            let (a, z) = (u32::from(from), u32::from(from) + 25);
            let (l, h) = (lo.max(a), hi.min(z));
            if l <= h {
                let shift = |c: u32| c - u32::from(from) + u32::from(to);
                out.push((shift(l), shift(h)));
            }
        }
    }
    out
}

/// `ranges` as a class of the `regex` crate.
fn class(ranges: &Ranges, negated: bool) -> String {
    let mut out = String::from(if negated { "[^" } else { "[" });
    for &(lo, hi) in ranges {
        if lo == hi {
            out.push_str(&format!(r"\x{{{lo:X}}}"));
        } else {
            out.push_str(&format!(r"\x{{{lo:X}}}-\x{{{hi:X}}}"));
        }
    }
    out.push(']');
    out
}

/// One character, literally (`(?i)`: an ASCII letter in either case).
fn literal(c: char, flags: Flags) -> String {
    if flags.case_insensitive && c.is_ascii_alphabetic() {
        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
    } else if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!(r"\x{{{:X}}}", u32::from(c))
    }
}

/// What an escape outside or inside a class stands for.
enum Escaped {
    Char(char),
    Set(Ranges),
}

struct Translator {
    chars: Vec<char>,
    pos: usize,
    /// A `$` anchor was translated.
    dollar: bool,
    /// The capturing groups so far (numbered by their `(`, as Java numbers them).
    groups: usize,
    /// A quantified group that matches an empty string has a capturing group in it.
    empty_loop_capture: bool,
    /// The named groups so far and their numbers (Java refuses a name twice).
    names: Vec<(String, usize)>,
}

type Translated<T> = std::result::Result<T, String>;

impl Translator {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn next(&mut self) -> Translated<char> {
        let c = self.peek().ok_or("the pattern ends too early")?;
        self.pos += 1;
        Ok(c)
    }

    fn refuse<T>(&self, what: &str) -> Translated<T> {
        Err(format!("{what} (at {})", self.pos))
    }

    /// Alternatives up to a `)` or the end. `depth`: the groups around them.
    fn alternation(&mut self, mut flags: Flags, depth: usize) -> Translated<String> {
        let mut out = String::new();
        loop {
            out.push_str(&self.sequence(&mut flags, depth)?);
            if self.peek() == Some('|') {
                self.pos += 1;
                out.push('|');
            } else {
                return Ok(out);
            }
        }
    }

    fn sequence(&mut self, flags: &mut Flags, depth: usize) -> Translated<String> {
        let mut out = String::new();
        // Whether the last item may take a quantifier.
        let mut quantifiable = false;
        // Whether the last item is a group with a capturing group in it that matches an empty
        // string: Java stops a loop at an empty iteration, `regex` may record one, so such a
        // group under a quantifier can capture differently (`()*`: Java's group is null).
        let mut empty_capturing_group = false;
        let mut dollar = false;
        while let Some(c) = self.peek() {
            if matches!(c, '|' | ')') {
                break;
            }
            if dollar {
                return self.refuse("a `$` before the end of its alternative");
            }
            match c {
                '*' | '+' | '?' | '{' => {
                    if !quantifiable {
                        return self.refuse("a quantifier without an item before it");
                    }
                    out.push_str(&self.quantifier()?);
                    self.empty_loop_capture |= empty_capturing_group;
                    quantifiable = false;
                    empty_capturing_group = false;
                    continue;
                }
                '(' => {
                    self.pos += 1;
                    let groups_before = self.groups;
                    match self.group(flags, depth)? {
                        Some(group) => {
                            empty_capturing_group = self.groups > groups_before
                                && Regex::new(&group).is_ok_and(|g| g.is_match(""));
                            out.push_str(&group);
                            quantifiable = true;
                        }
                        None => quantifiable = false,
                    }
                    continue;
                }
                '[' => {
                    self.pos += 1;
                    out.push_str(&self.class(*flags)?);
                }
                '.' => {
                    self.pos += 1;
                    out.push_str(if flags.dot_all { "(?s:.)" } else { DOT });
                }
                '^' => {
                    self.pos += 1;
                    out.push('^');
                    quantifiable = false;
                    continue;
                }
                '$' => {
                    if depth > 0 {
                        return self.refuse("a `$` inside a group");
                    }
                    self.pos += 1;
                    out.push_str(r"\z");
                    dollar = true;
                    self.dollar = true;
                    quantifiable = false;
                    continue;
                }
                '\\' => {
                    self.pos += 1;
                    if self.peek() == Some('A') {
                        self.pos += 1;
                        out.push_str(r"\A");
                        quantifiable = false;
                        continue;
                    }
                    match self.escape()? {
                        Escaped::Char(c) => out.push_str(&literal(c, *flags)),
                        Escaped::Set(ranges) => out.push_str(&class(&ranges, false)),
                    }
                }
                _ => {
                    self.pos += 1;
                    out.push_str(&literal(c, *flags));
                }
            }
            quantifiable = true;
            empty_capturing_group = false;
        }
        Ok(out)
    }

    /// `*`, `+`, `?` or `{n}`, `{n,}`, `{n,m}`, perhaps lazy; possessive ones are refused.
    fn quantifier(&mut self) -> Translated<String> {
        let c = self.next()?;
        let mut out = if c == '{' {
            let mut body = String::new();
            loop {
                match self.next() {
                    Ok('}') => break,
                    Ok(d @ ('0'..='9' | ',')) => body.push(d),
                    _ => return self.refuse("a malformed `{n,m}`"),
                }
            }
            let (lo, hi) = match body.split_once(',') {
                None => (body.as_str(), Some(body.as_str())),
                Some((lo, "")) => (lo, None),
                Some((lo, hi)) => (lo, Some(hi)),
            };
            let lo: u32 = lo.parse().map_err(|_| "a malformed `{n,m}`".to_owned())?;
            if let Some(hi) = hi {
                let hi: u32 = hi.parse().map_err(|_| "a malformed `{n,m}`".to_owned())?;
                if hi < lo || hi > 1000 {
                    return self.refuse("a repetition out of order or above 1000");
                }
            } else if lo > 1000 {
                return self.refuse("a repetition above 1000");
            }
            format!("{{{body}}}")
        } else {
            c.to_string()
        };
        match self.peek() {
            Some('?') => {
                self.pos += 1;
                out.push('?');
            }
            Some('+') => return self.refuse("a possessive quantifier"),
            _ => {}
        }
        Ok(out)
    }

    /// After `(`: a group as a non-capturing group, or (`None`) inline flags that change
    /// `flags` for the rest of the enclosing group.
    fn group(&mut self, flags: &mut Flags, depth: usize) -> Translated<Option<String>> {
        let mut inner = *flags;
        let mut capturing = true;
        if self.peek() == Some('?') {
            capturing = false;
            self.pos += 1;
            match self.next()? {
                ':' => {}
                '<' if !matches!(self.peek(), Some('=' | '!')) => {
                    capturing = true;
                    // A named group: Java's names are a letter, then letters and digits.
                    let mut name = String::new();
                    loop {
                        match self.next()? {
                            '>' => break,
                            c if c.is_ascii_alphabetic()
                                || (c.is_ascii_digit() && !name.is_empty()) =>
                            {
                                name.push(c)
                            }
                            _ => return self.refuse("a malformed group name"),
                        }
                    }
                    if name.is_empty() || self.names.iter().any(|(n, _)| *n == name) {
                        return self.refuse("a malformed or repeated group name");
                    }
                    self.names.push((name, self.groups + 1));
                }
                'i' | 's' | '-' => {
                    self.pos -= 1;
                    let mut on = true;
                    loop {
                        match self.next()? {
                            'i' => inner.case_insensitive = on,
                            's' => inner.dot_all = on,
                            '-' if on => on = false,
                            ':' => break,
                            ')' => {
                                *flags = inner;
                                return Ok(None);
                            }
                            _ => return self.refuse("an inline flag other than i and s"),
                        }
                    }
                }
                _ => return self.refuse("lookaround, an atomic group or another flag"),
            }
        }
        if capturing {
            self.groups += 1;
        }
        let body = self.alternation(inner, depth + 1)?;
        if self.peek() != Some(')') {
            return self.refuse("an unclosed group");
        }
        self.pos += 1;
        Ok(Some(if capturing {
            format!("({body})")
        } else {
            format!("(?:{body})")
        }))
    }

    /// After `\`: the escaped character or set.
    fn escape(&mut self) -> Translated<Escaped> {
        let c = self.next()?;
        let hex = |s: &str| -> Translated<char> {
            u32::from_str_radix(s, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("a malformed escape \\{c}{s}"))
        };
        Ok(match c {
            'd' => Escaped::Set(digits()),
            'D' => Escaped::Set(complement(digits())),
            'w' => Escaped::Set(word()),
            'W' => Escaped::Set(complement(word())),
            's' => Escaped::Set(space()),
            'S' => Escaped::Set(complement(space())),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\u{C}'),
            'a' => Escaped::Char('\u{7}'),
            'e' => Escaped::Char('\u{1B}'),
            'x' if self.peek() == Some('{') => {
                self.pos += 1;
                let mut digits = String::new();
                loop {
                    match self.next()? {
                        '}' => break,
                        d if d.is_ascii_hexdigit() && digits.len() < 6 => digits.push(d),
                        _ => return self.refuse("a malformed \\x{...}"),
                    }
                }
                Escaped::Char(hex(&digits)?)
            }
            'x' | 'u' => {
                let width = if c == 'x' { 2 } else { 4 };
                let digits: String = (0..width)
                    .map(|i| self.peek_at(i).filter(char::is_ascii_hexdigit))
                    .collect::<Option<String>>()
                    .ok_or_else(|| format!("a malformed \\{c}"))?;
                self.pos += width;
                Escaped::Char(hex(&digits)?)
            }
            c if !c.is_ascii_alphanumeric() => Escaped::Char(c),
            _ => return self.refuse(&format!("the escape \\{c}")),
        })
    }

    /// After `[`: a class without nesting or intersections.
    fn class(&mut self, flags: Flags) -> Translated<String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Ranges::new();
        let mut first = true;
        loop {
            let c = self.next()?;
            let start = match c {
                ']' if !first => break,
                ']' | '[' => return self.refuse("a nested class or a leading `]`"),
                '&' if self.peek() == Some('&') => return self.refuse("a class intersection"),
                '\\' => match self.escape()? {
                    Escaped::Char(c) => c,
                    Escaped::Set(set) => {
                        if self.peek() == Some('-') && self.peek_at(1) != Some(']') {
                            return self.refuse("a range from a shorthand class");
                        }
                        ranges.extend(set);
                        first = false;
                        continue;
                    }
                },
                c => c,
            };
            first = false;
            if self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | None) {
                self.pos += 1;
                let end = match self.next()? {
                    '\\' => match self.escape()? {
                        Escaped::Char(c) => c,
                        Escaped::Set(_) => return self.refuse("a range to a shorthand class"),
                    },
                    '[' | '&' => return self.refuse("a nested class in a range"),
                    c => c,
                };
                if end < start {
                    return self.refuse("a range out of order");
                }
                ranges.push((u32::from(start), u32::from(end)));
            } else {
                ranges.push((u32::from(start), u32::from(start)));
            }
        }
        if flags.case_insensitive {
            ranges = with_ascii_case(&ranges);
        }
        Ok(class(&ranges, negated))
    }
}

/// A Java pattern, translated (see the module docs).
#[derive(Debug, Clone)]
pub struct JavaRegex {
    regex: Regex,
    /// The pattern has a `$`: try the text without its final line terminator too.
    dollar: bool,
    /// Its capturing groups.
    groups: usize,
    /// A quantified group that matches an empty string captures (see `Translator::sequence`).
    empty_loop_capture: bool,
    /// Its named groups' numbers.
    names: Vec<(String, usize)>,
}

/// A replacement string as `Matcher.appendReplacement` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplacementPart {
    /// Text appended as it is (after the escapes).
    Text(String),
    /// A group's text (nothing where the group took no part).
    Group(usize),
}

impl JavaRegex {
    /// `pattern` translated, or why it stays on Spark.
    pub fn new(pattern: &str) -> std::result::Result<Self, String> {
        let mut translator = Translator {
            chars: pattern.chars().collect(),
            pos: 0,
            dollar: false,
            groups: 0,
            empty_loop_capture: false,
            names: Vec::new(),
        };
        let translated = translator.alternation(Flags::default(), 0)?;
        if translator.pos != translator.chars.len() {
            return translator.refuse("an unmatched `)`");
        }
        let regex = regex::RegexBuilder::new(&translated)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| format!("its translation does not compile: {e}"))?;
        Ok(Self {
            regex,
            dollar: translator.dollar,
            groups: translator.groups,
            empty_loop_capture: translator.empty_loop_capture,
            names: translator.names,
        })
    }

    /// For `regexp_extract` and `regexp_replace`, which use the matches themselves: a `$` is
    /// refused (the first match with it is not found by trying the text twice).
    fn check_positions(&self) -> std::result::Result<(), String> {
        if self.dollar {
            return Err("a `$` (only rlike takes it natively)".to_owned());
        }
        if self.empty_loop_capture {
            return Err(
                "a quantified group that matches an empty string has a capturing group".to_owned(),
            );
        }
        Ok(())
    }

    /// The first match's group `index` (`regexp_extract`): `None` without a match, `Some(None)`
    /// where the group took no part.
    pub fn first_group<'t>(&self, text: &'t str, index: usize) -> Option<Option<&'t str>> {
        let captures = self.regex.captures(text)?;
        Some(captures.get(index).map(|m| m.as_str()))
    }

    /// `replacement` read as `Matcher.appendReplacement` reads it (`\x` is `x`, `$n` and
    /// `${name}` a group: after the first digit, more while the number is a group), or why
    /// Java would throw.
    pub fn replacement(
        &self,
        replacement: &str,
    ) -> std::result::Result<Vec<ReplacementPart>, String> {
        let chars: Vec<char> = replacement.chars().collect();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let c = chars
                        .get(i + 1)
                        .ok_or("character to be escaped is missing")?;
                    text.push(*c);
                    i += 2;
                }
                '$' => {
                    i += 1;
                    let first = *chars.get(i).ok_or("group index is missing")?;
                    let group = if first == '{' {
                        let close = chars[i..]
                            .iter()
                            .position(|c| *c == '}')
                            .ok_or("a named group reference is not closed")?;
                        let name: String = chars[i + 1..i + close].iter().collect();
                        i += close + 1;
                        self.names
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, number)| *number)
                            .ok_or_else(|| format!("no group with name {{{name}}}"))?
                    } else {
                        let mut group =
                            first.to_digit(10).ok_or("an illegal group reference")? as usize;
                        i += 1;
                        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                            let more = group * 10 + d as usize;
                            if more > self.groups {
                                break;
                            }
                            group = more;
                            i += 1;
                        }
                        group
                    };
                    if group > self.groups {
                        return Err(format!("no group {group}"));
                    }
                    if !text.is_empty() {
                        parts.push(ReplacementPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(ReplacementPart::Group(group));
                }
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(ReplacementPart::Text(text));
        }
        Ok(parts)
    }

    /// `regexp_replace`: `Matcher.find` from the end of each match, each replaced by
    /// `replacement`. The pattern must not match an empty string (see [`SparkRegexpReplace`]).
    pub fn replace_all(&self, text: &str, replacement: &[ReplacementPart], out: &mut String) {
        let mut at = 0;
        while let Some(captures) = self.regex.captures_at(text, at) {
            let whole = captures.get(0).expect("group 0");
            out.push_str(&text[at..whole.start()]);
            for part in replacement {
                match part {
                    ReplacementPart::Text(t) => out.push_str(t),
                    ReplacementPart::Group(g) => {
                        out.push_str(captures.get(*g).map_or("", |m| m.as_str()))
                    }
                }
            }
            debug_assert!(whole.end() > whole.start());
            at = whole.end();
            if at >= text.len() {
                break;
            }
        }
        out.push_str(&text[at..]);
    }

    /// Java's `String.split(pattern, limit)` of `text` (`Pattern.split`), for a pattern that
    /// matches no empty string: the pieces between the matches (`Matcher.find` from the end of
    /// each), all of them for `limit <= 0`, else at most `limit`, the last one the rest of the
    /// text.
    pub fn split<'t>(&self, text: &'t str, limit: i32, out: &mut Vec<&'t str>) {
        let limit = usize::try_from(limit).ok().filter(|l| *l > 0);
        let first = out.len();
        let mut index = 0;
        let mut at = 0;
        while let Some(m) = self.regex.find_at(text, at) {
            let pieces = out.len() - first;
            match limit {
                Some(limit) if pieces + 1 >= limit => {
                    // The last piece: the rest of the text.
                    out.push(&text[index..]);
                    return;
                }
                _ => {
                    out.push(&text[index..m.start()]);
                    index = m.end();
                }
            }
            debug_assert!(m.end() > m.start());
            at = m.end();
        }
        out.push(&text[index..]);
    }

    /// `Matcher.find()`: whether the pattern matches somewhere in `text`.
    pub fn find(&self, text: &str) -> bool {
        self.regex.is_match(text)
            || (self.dollar
                && without_final_terminator(text).is_some_and(|t| self.regex.is_match(t)))
    }
}

/// `text` without the final line terminator Java's `$` may stand before.
fn without_final_terminator(text: &str) -> Option<&str> {
    if let Some(t) = text.strip_suffix("\r\n") {
        return Some(t);
    }
    let last = text.chars().next_back()?;
    matches!(last, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
        .then(|| &text[..text.len() - last.len_utf8()])
}

/// `child RLIKE pattern` for a constant pattern.
#[derive(Debug)]
pub struct SparkRLike {
    child: Arc<dyn PhysicalExpr>,
    pattern: String,
    regex: JavaRegex,
}

impl SparkRLike {
    /// `child` (strings) matched against `pattern`; a plan error where the pattern is not
    /// translated.
    pub fn try_new(child: Arc<dyn PhysicalExpr>, pattern: &str) -> crate::error::Result<Self> {
        let regex = JavaRegex::new(pattern).map_err(|e| {
            NativeError::plan(format!("rlike pattern {pattern:?} is not native: {e}"))
        })?;
        Ok(Self {
            child,
            pattern: pattern.to_owned(),
            regex,
        })
    }
}

impl PartialEq for SparkRLike {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.child.eq(&other.child)
    }
}

impl Eq for SparkRLike {}

impl Hash for SparkRLike {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pattern.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkRLike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_rlike({}, {:?})", self.child, self.pattern)
    }
}

impl PhysicalExpr for SparkRLike {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            let DataType::Utf8 = a.data_type() else {
                return internal_err!("spark_rlike of {}", a.data_type());
            };
            let out: BooleanArray = a
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(|s| self.regex.find(s)))
                .collect();
            Ok(Arc::new(out) as ArrayRef)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self {
            child: only_child(&self, children)?,
            pattern: self.pattern.clone(),
            regex: self.regex.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_rlike(")?;
        self.child.fmt_sql(f)?;
        write!(f, ", {:?})", self.pattern)
    }
}

/// `regexp_extract(child, pattern, index)` for a constant pattern and group index: the first
/// match's group, or an empty string where there is no match or the group took no part.
#[derive(Debug)]
pub struct SparkRegexpExtract {
    child: Arc<dyn PhysicalExpr>,
    pattern: String,
    index: usize,
    regex: JavaRegex,
}

impl SparkRegexpExtract {
    /// `child` (strings) and `pattern`'s group `index`; a plan error where the pattern is not
    /// translated or Spark would fail on the index.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        pattern: &str,
        index: i64,
    ) -> crate::error::Result<Self> {
        let refused = |e: String| {
            NativeError::plan(format!(
                "regexp_extract pattern {pattern:?} is not native: {e}"
            ))
        };
        let regex = JavaRegex::new(pattern).map_err(refused)?;
        regex.check_positions().map_err(refused)?;
        let index = usize::try_from(index)
            .ok()
            .filter(|i| *i <= regex.groups)
            .ok_or_else(|| {
                refused(format!(
                    "group {index} of {} (Spark's error where a string matches)",
                    regex.groups
                ))
            })?;
        Ok(Self {
            child,
            pattern: pattern.to_owned(),
            index,
            regex,
        })
    }
}

/// `regexp_replace(child, pattern, replacement)` for a constant pattern and replacement, from
/// the first character: each match (`Matcher.find` from the end of the last) replaced as
/// `Matcher.appendReplacement` replaces it.
#[derive(Debug)]
pub struct SparkRegexpReplace {
    child: Arc<dyn PhysicalExpr>,
    pattern: String,
    replacement: String,
    parts: Vec<ReplacementPart>,
    regex: JavaRegex,
}

impl SparkRegexpReplace {
    /// `child` (strings) with the matches of `pattern` replaced by `replacement`; a plan error
    /// where the pattern is not translated, can match an empty string (Java then searches
    /// again one UTF-16 unit on, which can split a surrogate pair) or the replacement would
    /// fail.
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        pattern: &str,
        replacement: &str,
    ) -> crate::error::Result<Self> {
        let refused = |e: String| {
            NativeError::plan(format!(
                "regexp_replace pattern {pattern:?} is not native: {e}"
            ))
        };
        let regex = JavaRegex::new(pattern).map_err(refused)?;
        regex.check_positions().map_err(refused)?;
        if regex.regex.is_match("") {
            return Err(refused("it matches an empty string".to_owned()));
        }
        let parts = regex.replacement(replacement).map_err(|e| {
            NativeError::plan(format!(
                "regexp_replace replacement {replacement:?} is not native: {e}"
            ))
        })?;
        Ok(Self {
            child,
            pattern: pattern.to_owned(),
            replacement: replacement.to_owned(),
            parts,
            regex,
        })
    }
}

/// `split(child, pattern, limit)` (Spark's `StringSplit`, `UTF8String.split`) for a constant
/// pattern and limit: an array of the strings between the matches (no element null). An empty
/// pattern splits a non-empty string into its first `limit` characters (all of them for a
/// `limit` that is not positive or past the string's length), as Spark 4.0's `UTF8String`
/// does.
#[derive(Debug)]
pub struct SparkSplit {
    child: Arc<dyn PhysicalExpr>,
    pattern: String,
    limit: i32,
    /// None for the empty pattern.
    regex: Option<JavaRegex>,
}

impl SparkSplit {
    /// `child` (strings) split by `pattern`; a plan error where the pattern is not translated
    /// or can match an empty string (Java then searches again one UTF-16 unit on).
    pub fn try_new(
        child: Arc<dyn PhysicalExpr>,
        pattern: &str,
        limit: i32,
    ) -> crate::error::Result<Self> {
        let refused =
            |e: String| NativeError::plan(format!("split pattern {pattern:?} is not native: {e}"));
        let regex = if pattern.is_empty() {
            None
        } else {
            let regex = JavaRegex::new(pattern).map_err(refused)?;
            regex.check_positions().map_err(refused)?;
            if regex.regex.is_match("") {
                return Err(refused("it matches an empty string".to_owned()));
            }
            Some(regex)
        };
        Ok(Self {
            child,
            pattern: pattern.to_owned(),
            limit,
            regex,
        })
    }

    /// The pieces of `text`.
    fn split<'t>(&self, text: &'t str, out: &mut Vec<&'t str>) {
        match &self.regex {
            Some(regex) => regex.split(text, self.limit, out),
            None if text.is_empty() => out.push(text),
            None => {
                let chars = text.chars().count();
                let take = match usize::try_from(self.limit) {
                    Ok(limit) if limit > 0 && limit <= chars => limit,
                    _ => chars,
                };
                out.extend(
                    text.char_indices()
                        .take(take)
                        .map(|(i, c)| &text[i..i + c.len_utf8()]),
                );
            }
        }
    }

    /// The array type of the result: strings, none null (Spark's `containsNull = false`).
    fn list_type() -> DataType {
        DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
            "element",
            DataType::Utf8,
            false,
        )))
    }
}

impl PartialEq for SparkSplit {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.limit == other.limit && self.child.eq(&other.child)
    }
}

impl Eq for SparkSplit {}

impl Hash for SparkSplit {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pattern.hash(state);
        self.limit.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_split({}, {:?}, {})",
            self.child, self.pattern, self.limit
        )
    }
}

impl PhysicalExpr for SparkSplit {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(Self::list_type())
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            let DataType::Utf8 = a.data_type() else {
                return internal_err!("spark_split of {}", a.data_type());
            };
            let strings = a.as_string::<i32>();
            let values = StringBuilder::with_capacity(a.len(), strings.values().len());
            let mut out = ListBuilder::new(values).with_field(match Self::list_type() {
                DataType::List(field) => field,
                _ => unreachable!("a list type"),
            });
            let mut pieces = Vec::new();
            for s in strings.iter() {
                match s {
                    None => out.append(false),
                    Some(s) => {
                        pieces.clear();
                        self.split(s, &mut pieces);
                        for piece in &pieces {
                            out.values().append_value(piece);
                        }
                        out.append(true);
                    }
                }
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.child]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Self {
            child: only_child(&self, children)?,
            pattern: self.pattern.clone(),
            limit: self.limit,
            regex: self.regex.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

macro_rules! string_function {
    ($name:ident, $sql:literal, $eval:expr, $($field:ident),*) => {
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                $(self.$field == other.$field &&)* self.child.eq(&other.child)
            }
        }

        impl Eq for $name {}

        impl Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                $(self.$field.hash(state);)*
                self.child.hash(state);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({}", $sql, self.child)?;
                $(write!(f, ", {:?}", self.$field)?;)*
                write!(f, ")")
            }
        }

        impl PhysicalExpr for $name {
            fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
                Ok(DataType::Utf8)
            }

            fn nullable(&self, input_schema: &Schema) -> Result<bool> {
                self.child.nullable(input_schema)
            }

            fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
                evaluate_unary(&self.child, batch, |a| {
                    let DataType::Utf8 = a.data_type() else {
                        return internal_err!("{} of {}", $sql, a.data_type());
                    };
                    let strings = a.as_string::<i32>();
                    let mut out = StringBuilder::with_capacity(a.len(), strings.values().len());
                    let mut buffer = String::new();
                    let eval: fn(&Self, &str, &mut String) = $eval;
                    for s in strings.iter() {
                        match s {
                            None => out.append_null(),
                            Some(s) => {
                                buffer.clear();
                                eval(self, s, &mut buffer);
                                out.append_value(&buffer);
                            }
                        }
                    }
                    Ok(Arc::new(out.finish()) as ArrayRef)
                })
            }

            fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
                vec![&self.child]
            }

            fn with_new_children(
                self: Arc<Self>,
                children: Vec<Arc<dyn PhysicalExpr>>,
            ) -> Result<Arc<dyn PhysicalExpr>> {
                Ok(Arc::new(Self {
                    child: only_child(&self, children)?,
                    ..self.clone_fields()
                }))
            }

            fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", $sql)?;
                self.child.fmt_sql(f)?;
                $(write!(f, ", {:?}", self.$field)?;)*
                write!(f, ")")
            }
        }
    };
}

string_function!(
    SparkRegexpExtract,
    "spark_regexp_extract",
    |e, s, out| out.push_str(e.regex.first_group(s, e.index).flatten().unwrap_or("")),
    pattern,
    index
);

string_function!(
    SparkRegexpReplace,
    "spark_regexp_replace",
    |e, s, out| e.regex.replace_all(s, &e.parts, out),
    pattern,
    replacement
);

impl SparkRegexpExtract {
    fn clone_fields(&self) -> Self {
        Self {
            child: Arc::clone(&self.child),
            pattern: self.pattern.clone(),
            index: self.index,
            regex: self.regex.clone(),
        }
    }
}

impl SparkRegexpReplace {
    fn clone_fields(&self) -> Self {
        Self {
            child: Arc::clone(&self.child),
            pattern: self.pattern.clone(),
            replacement: self.replacement.clone(),
            parts: self.parts.clone(),
            regex: self.regex.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::unescape;

    #[test]
    fn split_is_java_string_split() {
        let split = |pattern: &str, limit: i32, text: &str| {
            let s = SparkSplit::try_new(
                Arc::new(datafusion::physical_expr::expressions::Column::new("s", 0)),
                pattern,
                limit,
            )
            .unwrap();
            let mut out = Vec::new();
            s.split(text, &mut out);
            out.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        // Leading and trailing empty pieces are kept (Spark's limit -1; 0 means the same).
        assert_eq!(split(",", -1, ",a,,b,"), ["", "a", "", "b", ""]);
        assert_eq!(split(",", 0, ",a,,b,"), ["", "a", "", "b", ""]);
        assert_eq!(split(",", 2, "a,b,c"), ["a", "b,c"]);
        assert_eq!(split(",", 1, "a,b,c"), ["a,b,c"]);
        assert_eq!(split(",", 9, "a,b"), ["a", "b"]);
        assert_eq!(split("[0-9]+", -1, "x12y3"), ["x", "y", ""]);
        assert_eq!(split(",", -1, ""), [""]);
        assert_eq!(split(",", -1, "abc"), ["abc"]);
        // The empty pattern: characters, at most `limit` (Spark 4.0 drops the rest).
        assert_eq!(
            split("", -1, "h\u{e9}\u{1F600}"),
            ["h", "\u{e9}", "\u{1F600}"]
        );
        assert_eq!(split("", 2, "abc"), ["a", "b"]);
        assert_eq!(split("", 5, "abc"), ["a", "b", "c"]);
        assert_eq!(split("", -1, ""), [""]);
        // A pattern that matches an empty string stays on Spark.
        let refused = SparkSplit::try_new(
            Arc::new(datafusion::physical_expr::expressions::Column::new("s", 0)),
            "x*",
            -1,
        );
        assert!(refused.is_err());
    }

    /// Checks `vectors`: every pattern Java refuses is refused, every match of a translated one
    /// agrees. (patterns translated, cases compared).
    fn check(vectors: &str) -> (usize, usize) {
        let mut failures = Vec::new();
        let (mut translated, mut compared) = (0, 0);
        let mut last: Option<(String, std::result::Result<JavaRegex, String>)> = None;
        for line in vectors.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [pattern, text, result, extract, replace] = fields[..] else {
                panic!("malformed line {line:?}");
            };
            let pattern = unescape(pattern);
            if last.as_ref().is_none_or(|(p, _)| *p != pattern) {
                let regex = JavaRegex::new(&pattern);
                translated += usize::from(regex.is_ok());
                last = Some((pattern.clone(), regex));
            }
            let Some((_, regex)) = &last else {
                unreachable!()
            };
            match (regex, result) {
                (Ok(_), "ERR") => failures.push(format!("{line}\n    translated, Java refuses it")),
                (Ok(regex), expected) => {
                    compared += 1;
                    let text = unescape(text);
                    let got = regex.find(&text);
                    if got.to_string() != expected {
                        failures.push(format!("{line}\n    native: {got} ({:?})", regex.regex));
                    }
                    if regex.check_positions().is_ok() {
                        let got = match regex.first_group(&text, regex.groups.min(1)) {
                            None => "NOMATCH".to_owned(),
                            Some(None) => "NULL".to_owned(),
                            Some(Some(g)) => g.to_owned(),
                        };
                        let want = if matches!(extract, "NOMATCH" | "NULL") {
                            extract.to_owned()
                        } else {
                            unescape(extract)
                        };
                        if got != want {
                            failures
                                .push(format!("{line}\n    extract: {got:?} ({:?})", regex.regex));
                        }
                        let template = if regex.groups > 0 { "<$0|$1>" } else { "<$0>" };
                        if !regex.regex.is_match("") {
                            let parts = regex.replacement(template).expect("replacement");
                            let mut got = String::new();
                            regex.replace_all(&text, &parts, &mut got);
                            if got != unescape(replace) {
                                failures.push(format!(
                                    "{line}\n    replace: {got:?} ({:?})",
                                    regex.regex
                                ));
                            }
                        }
                    }
                }
                (Err(_), _) => {}
            }
        }
        assert!(
            failures.is_empty(),
            "{} cases differ from Java's, the first:\n{}",
            failures.len(),
            failures[..failures.len().min(25)].join("\n")
        );
        (translated, compared)
    }

    fn find(pattern: &str, text: &str) -> bool {
        JavaRegex::new(pattern).unwrap().find(text)
    }

    /// What java.util.regex finds, each case showing one rule.
    #[test]
    fn java_meanings() {
        // `$`: the end, or before one final line terminator.
        assert!(find("^[0-9]+$", "123"));
        assert!(find("^[0-9]+$", "123\n"));
        assert!(find("^[0-9]+$", "123\r\n"));
        assert!(find("^[0-9]+$", "123\u{2028}"));
        assert!(!find("^[0-9]+$", "123\n\n"));
        assert!(find("ab|cd$", "ab\n\n"));
        // `.` is not a line terminator unless (?s).
        assert!(!find("a.c", "a\rc"));
        assert!(find("(?s)a.c", "a\rc"));
        // ASCII shorthands and case-insensitivity.
        assert!(!find("\\w", "é"));
        assert!(!find("\\d", "\u{661}"));
        assert!(find("(?i)abc", "aBC"));
        assert!(!find("(?i)é", "É"));
        assert!(find("(?i)[a-c]", "B"));
        // Flags end with their group.
        assert!(!find("(?:(?i)a)b", "AB"));
        assert!(find("(?:(?i)a)b", "Ab"));
    }

    #[test]
    fn replacements_as_java_reads_them() {
        use ReplacementPart::{Group, Text};
        let regex = JavaRegex::new("(?<x>a)(b)").unwrap();
        // After the first digit, more only while the number is a group.
        assert_eq!(
            regex.replacement("$12").unwrap(),
            [Group(1), Text("2".into())]
        );
        assert_eq!(
            regex.replacement("\\$${x}-").unwrap(),
            [Text("$".into()), Group(1), Text("-".into())]
        );
        for refused in ["$", "$3", "\\", "${y}", "$a"] {
            assert!(regex.replacement(refused).is_err(), "{refused}");
        }
        let mut out = String::new();
        regex.replace_all("xabyab", &regex.replacement("[$2$1]").unwrap(), &mut out);
        assert_eq!(out, "x[ba]y[ba]");
    }

    #[test]
    fn other_patterns_stay_on_spark() {
        for pattern in [
            "\\b",
            "(?=a)",
            "(a)\\1",
            "a*+",
            "(?>a)",
            "\\p{L}",
            "\\Qa\\E",
            "[a[b]]",
            "[a&&b]",
            "(?m)a",
            "(a$)",
            "a$b",
            "[",
            "(",
            ")",
            "*",
            "a{2,1}",
            "(?<n>a)(?<n>b)",
            "\\z",
            "\\0",
        ] {
            assert!(JavaRegex::new(pattern).is_err(), "{pattern}");
        }
    }

    #[test]
    fn finds_as_java_does() {
        let (translated, compared) = check(include_str!("../tests/regex_vectors.txt"));
        assert!(
            translated > 500 && compared > 2000,
            "{translated} {compared}"
        );
        if let Ok(path) = std::env::var("CINDER_REGEX_VECTORS") {
            let more = std::fs::read_to_string(&path).expect("CINDER_REGEX_VECTORS");
            check(&more);
        }
    }
}
