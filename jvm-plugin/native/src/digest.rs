//! Spark's `md5`, `sha1`, `sha2` and `crc32` of a binary value's bytes, or of a string's UTF-8
//! bytes (Spark's implicit cast to binary): lowercase hexadecimal digests as commons-codec's `DigestUtils` writes them, and
//! `java.util.zip.CRC32`'s value as a bigint.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use sha1::Digest as _;

use crate::unary::{evaluate_unary, only_child};

/// The digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// `md5`.
    Md5,
    /// `sha1`.
    Sha1,
    /// `sha2(x, 224)`.
    Sha224,
    /// `sha2(x, 256)` (and `sha2(x, 0)`).
    Sha256,
    /// `sha2(x, 384)`.
    Sha384,
    /// `sha2(x, 512)`.
    Sha512,
    /// `crc32`: a bigint, not a string.
    Crc32,
}

impl Digest {
    /// The function's name in the plan message (`sha2` by its bit length: `sha256`...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "md5" => Self::Md5,
            "sha1" => Self::Sha1,
            "sha224" => Self::Sha224,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            "crc32" => Self::Crc32,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Crc32 => "crc32",
        }
    }

    /// The digest of `bytes` in lowercase hexadecimal.
    fn hex(self, bytes: &[u8], out: &mut String) {
        let write = push_hex;
        match self {
            Self::Md5 => write(out, &md5::Md5::digest(bytes)),
            Self::Sha1 => write(out, &sha1::Sha1::digest(bytes)),
            Self::Sha224 => write(out, &sha2::Sha224::digest(bytes)),
            Self::Sha256 => write(out, &sha2::Sha256::digest(bytes)),
            Self::Sha384 => write(out, &sha2::Sha384::digest(bytes)),
            Self::Sha512 => write(out, &sha2::Sha512::digest(bytes)),
            Self::Crc32 => unreachable!("crc32 is a number"),
        }
    }
}

/// Writes `bytes` in lowercase hexadecimal, two digits each.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// A digest of a string's UTF-8 bytes.
#[derive(Debug, Eq)]
pub struct SparkDigest {
    child: Arc<dyn PhysicalExpr>,
    digest: Digest,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for SparkDigest {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest && self.child.eq(&other.child)
    }
}

impl Hash for SparkDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.digest.hash(state);
        self.child.hash(state);
    }
}

impl SparkDigest {
    /// `digest` of `child`, a string.
    pub fn new(child: Arc<dyn PhysicalExpr>, digest: Digest) -> Self {
        Self { child, digest }
    }
}

impl fmt::Display for SparkDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}({})", self.digest.name(), self.child)
    }
}

impl PhysicalExpr for SparkDigest {
    fn data_type(&self, _input_schema: &Schema) -> Result<DataType> {
        Ok(if self.digest == Digest::Crc32 {
            DataType::Int64
        } else {
            DataType::Utf8
        })
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.child.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_unary(&self.child, batch, |a| {
            // A string's UTF-8 bytes, or a binary value's bytes.
            let values: Vec<Option<&[u8]>> = match a.data_type() {
                DataType::Utf8 => a
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.map(str::as_bytes))
                    .collect(),
                DataType::Binary => a.as_binary::<i32>().iter().collect(),
                other => return internal_err!("spark_{} of {other}", self.digest.name()),
            };
            if self.digest == Digest::Crc32 {
                let out: Int64Array = values
                    .iter()
                    .map(|b| b.map(|b| i64::from(crc32fast::hash(b))))
                    .collect();
                return Ok(Arc::new(out) as ArrayRef);
            }
            let mut out = StringBuilder::with_capacity(a.len(), a.len() * 64);
            let mut text = String::new();
            for b in values {
                match b {
                    None => out.append_null(),
                    Some(b) => {
                        text.clear();
                        self.digest.hex(b, &mut text);
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
            self.digest,
        )))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spark_{}(", self.digest.name())?;
        self.child.fmt_sql(f)?;
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: Digest, text: &str) -> String {
        let mut out = String::new();
        digest.hex(text.as_bytes(), &mut out);
        out
    }

    /// What Spark 4.0.1 gives (commons-codec, java.util.zip.CRC32).
    #[test]
    fn digests_as_sparks() {
        assert_eq!(
            hex(Digest::Md5, "Spark"),
            "8cde774d6f7333752ed72cacddb05126"
        );
        assert_eq!(
            hex(Digest::Sha1, "Spark"),
            "85f5955f4b27a9a4c2aab6ffe5d7189fc298b92c"
        );
        assert_eq!(
            hex(Digest::Sha256, "Spark"),
            "529bc3b07127ecb7e53a4dcf1991d9152c24537d919178022b2c42657f79a26b"
        );
        assert_eq!(hex(Digest::Md5, ""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(crc32fast::hash(b"Spark"), 1_557_323_817);
    }
}
