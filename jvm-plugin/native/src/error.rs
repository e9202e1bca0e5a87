//! Errors of the native side, and which Java exception each becomes.

use datafusion::error::DataFusionError;

/// What went wrong on the native side.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The plan message is malformed, of another version, or asks for something this library
    /// cannot do. Becomes `java.lang.IllegalArgumentException`.
    #[error("cinder: invalid plan: {0}")]
    Plan(String),
    /// Executing a valid plan failed (I/O, arithmetic, device). Becomes
    /// `java.lang.RuntimeException`; the JVM and other plans are unaffected.
    #[error("cinder: execution failed: {0}")]
    Execution(String),
    /// A handle passed from Java is not one this library gave out (or was already closed).
    /// Becomes `java.lang.IllegalStateException`.
    #[error("cinder: {0}")]
    Handle(String),
    /// A JNI call failed; a Java exception may already be pending.
    #[error("cinder: JNI: {0}")]
    Jni(#[from] jni::errors::Error),
}

impl NativeError {
    /// A [`NativeError::Plan`].
    pub fn plan(message: impl Into<String>) -> Self {
        Self::Plan(message.into())
    }

    /// The JNI name of the Java exception class this error is thrown as.
    pub fn java_class(&self) -> &'static str {
        match self {
            Self::Plan(_) => "java/lang/IllegalArgumentException",
            Self::Handle(_) => "java/lang/IllegalStateException",
            Self::Execution(_) | Self::Jni(_) => "java/lang/RuntimeException",
        }
    }
}

impl From<DataFusionError> for NativeError {
    fn from(e: DataFusionError) -> Self {
        if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
            // Only a plan with a memory limit runs out.
            return Self::Execution(format!(
                "{e}. The native plan's memory (spark.cinder.memory.taskLimit) is used up: sorts \
                 and aggregations spill past it but need room for a few batches, and a join's hash \
                 table cannot spill; raise the limit, or leave the operator to Spark \
                 (spark.cinder.sort.enabled, .aggregate.enabled, .join.enabled = false)"
            ));
        }
        Self::Execution(e.to_string())
    }
}

impl From<datafusion::arrow::error::ArrowError> for NativeError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Execution(e.to_string())
    }
}

/// Results of the native side.
pub type Result<T, E = NativeError> = std::result::Result<T, E>;

/// The start of a native message that the JVM side throws as `java.lang.ArithmeticException`
/// (`NativeErrors.scala`), as Spark's code throws it from `Math.multiplyExact`, `addExact` and
/// `toIntExact` in either mode.
pub const JAVA_ARITHMETIC: &str = "java.lang.ArithmeticException: ";

/// Java's `ArithmeticException` with `message` (`long overflow` or `integer overflow`, as
/// `Math` words it); `detail`, where it happened, stays in the native error, which the JVM side
/// attaches to the exception as suppressed.
pub fn java_arithmetic(message: &str, detail: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{JAVA_ARITHMETIC}{message} ({detail})"))
}

/// Spark's `MathUtils.toIntExact` failing, as `localDateToDays` fails for a date past an int's
/// days (`add_months`, `date + INTERVAL ...`), in either mode.
pub fn int_exact_overflow() -> DataFusionError {
    DataFusionError::Execution(
        "[ARITHMETIC_OVERFLOW] integer overflow. If necessary set \"spark.sql.ansi.enabled\" to \
         \"false\" to bypass this error. SQLSTATE: 22003"
            .to_owned(),
    )
}
