//! Spark's `translate(s, from, to)` for constant `from` and `to` ([`SparkTranslate`]).
//!
//! Spark's `StringTranslate.buildDict` maps each code point of `from` to the code point of `to`
//! at the same place, or where `to` is shorter to `\u0000`; the first mapping of a code point
//! wins. `UTF8String.translate` then replaces each code point of `s` that has a mapping, and
//! drops it where the mapping is `\u0000` (also a `\u0000` written in `to`).

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use crate::unary::{evaluate_unary, only_child};

/// Each code point's replacement, `None` where it is dropped.
fn dictionary(from: &str, to: &str) -> HashMap<char, Option<char>> {
    let mut to = to.chars();
    let mut dict = HashMap::new();
    for c in from.chars() {
        let replacement = to.next().filter(|r| *r != '\0');
        dict.entry(c).or_insert(replacement);
    }
    dict
}

/// `translate(child, from, to)`.
#[derive(Debug)]
pub struct SparkTranslate {
    child: Arc<dyn PhysicalExpr>,
    from: String,
    to: String,
    dict: HashMap<char, Option<char>>,
}

impl SparkTranslate {
    /// `child` (strings) with the code points of `from` replaced by those of `to`.
    pub fn new(child: Arc<dyn PhysicalExpr>, from: &str, to: &str) -> Self {
        Self {
            child,
            from: from.to_owned(),
            to: to.to_owned(),
            dict: dictionary(from, to),
        }
    }

    fn translate(&self, s: &str, out: &mut String) {
        for c in s.chars() {
            match self.dict.get(&c) {
                None => out.push(c),
                Some(Some(r)) => out.push(*r),
                Some(None) => {}
            }
        }
    }
}

impl PartialEq for SparkTranslate {
    fn eq(&self, other: &Self) -> bool {
        self.from == other.from && self.to == other.to && self.child.eq(&other.child)
    }
}

impl Eq for SparkTranslate {}

impl Hash for SparkTranslate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.from.hash(state);
        self.to.hash(state);
        self.child.hash(state);
    }
}

impl fmt::Display for SparkTranslate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spark_translate({}, {:?}, {:?})",
            self.child, self.from, self.to
        )
    }
}

impl PhysicalExpr for SparkTranslate {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            let DataType::Utf8 = a.data_type() else {
                return internal_err!("spark_translate of {}", a.data_type());
            };
            let strings = a.as_string::<i32>();
            let mut out = StringBuilder::with_capacity(a.len(), strings.values().len());
            let mut text = String::new();
            for s in strings.iter() {
                match s {
                    None => out.append_null(),
                    Some(s) => {
                        text.clear();
                        self.translate(s, &mut text);
                        out.append_value(&text);
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
        Ok(Arc::new(Self::new(
            only_child(&self, children)?,
            &self.from,
            &self.to,
        )))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_translate(")?;
        self.child.fmt_sql(f)?;
        write!(f, ", {:?}, {:?})", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(s: &str, from: &str, to: &str) -> String {
        let expr = SparkTranslate::new(
            Arc::new(datafusion::physical_expr::expressions::Column::new("s", 0)),
            from,
            to,
        );
        let mut out = String::new();
        expr.translate(s, &mut out);
        out
    }

    /// What Spark 4.0.1 gives.
    #[test]
    fn translates_as_spark() {
        assert_eq!(translate("AaBbCc", "abc", "123"), "A1B2C3");
        // A shorter `to` drops the rest; the first mapping of a character wins.
        assert_eq!(translate("abcabc", "abca", "xy"), "xyxy");
        assert_eq!(translate("aaa", "aa", "xy"), "xxx");
        assert_eq!(translate("a😀b", "😀b", "é"), "aé");
        assert_eq!(translate("abc", "", "xyz"), "abc");
        assert_eq!(translate("abc", "b", "\0"), "ac");
    }
}
