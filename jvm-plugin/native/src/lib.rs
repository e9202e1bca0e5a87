//! `cinder-jni`: the native library inside Cinder's Spark plugin jar.
//!
//! The Scala plugin (`jvm-plugin/src/`) turns supported Spark plan subtrees into a versioned
//! plan message ([`message`]); this library builds a DataFusion physical plan from it with
//! Spark's expression semantics ([`planner`]), lets Cinder's rule move what it supports, runs
//! it, and hands each result batch to the JVM without copying ([`native_plan`]).
//!
//! The JNI surface is the static native methods of `org.apache.spark.sql.cinder.NativeBridge`:
//! `version`, `createPlan`, `checkPlan`, `createPlanWithInputs`, `nextBatch`, `nextShuffleBlock`,
//! `shuffleStats`, `spilledBytes`, `decodeBlock`, `explainPlan`, `closePlan`, `releaseBuffer`,
//! `liveBuffers`, `setSpillDirectories`. Every body runs inside [`jni_call`], which turns errors into Java exceptions
//! ([`NativeError::java_class`]) and catches panics (a `RuntimeException`), so nothing native
//! takes down the JVM. Java holds only numeric handles, checked on every call.

pub mod approx_percentile;
pub mod arrays;
pub mod cast;
pub mod collect;
pub mod date_format;
pub mod datetime;
pub mod digest;
pub mod double_sum;
pub mod error;
pub mod expand;
pub mod float_order;
pub mod generate;
pub mod group_order;
pub mod hll;
mod hll_tables;
pub mod input;
pub mod interval;
pub mod java_float;
pub mod java_regex;
pub mod math;
pub mod max_by;
pub mod message;
pub mod moments;
pub mod native_plan;
pub mod parquet_stats;
pub mod percentile;
pub mod planner;
pub mod probe_drain;
pub(crate) mod row_order_sum;
pub mod shared_join;
pub mod shuffle;
pub(crate) mod sliding;
mod sort_fallback;
pub mod spark_hash;
pub mod strict_math;
pub mod timestamp;
pub mod timestamp_parse;
pub mod translate;
pub mod try_arith;
pub mod try_sum;
pub mod unary;
pub mod window;

use jni::errors::ErrorPolicy;
use jni::objects::{JByteArray, JClass, JLongArray, JObject, JObjectArray, JString};
use jni::strings::JNIString;
use jni::sys::jlong;
use jni::{Env, EnvUnowned, jni_sig, jni_str};

pub use error::NativeError;
pub use native_plan::{NativePlan, describe_batch};

/// The error policy of every native method: an error becomes the Java exception its kind
/// maps to, a panic a `java.lang.RuntimeException`; the method then returns a default value.
#[derive(Debug, Default)]
pub struct ThrowJava;

impl ThrowJava {
    fn throw(env: &mut Env<'_>, class: &'static str, message: String) -> jni::errors::Result<()> {
        if env.exception_check() {
            // A Java exception from a JNI call is already on its way.
            return Ok(());
        }
        log::warn!("{message}");
        let message = JNIString::from(message);
        let result = match class {
            "java/lang/IllegalArgumentException" => {
                env.throw_new(jni_str!("java/lang/IllegalArgumentException"), &message)
            }
            "java/lang/IllegalStateException" => {
                env.throw_new(jni_str!("java/lang/IllegalStateException"), &message)
            }
            _ => env.throw_new(jni_str!("java/lang/RuntimeException"), &message),
        };
        // `throw_new` reports the exception it just raised as an error; that is the point.
        match result {
            Err(jni::errors::Error::JavaException) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl<T: Default> ErrorPolicy<T, NativeError> for ThrowJava {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: NativeError,
    ) -> jni::errors::Result<T> {
        Self::throw(env, err.java_class(), err.to_string())?;
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Self::throw(
            env,
            "java/lang/RuntimeException",
            format!("cinder: internal error (native panic): {what}"),
        )?;
        Ok(T::default())
    }
}

/// Runs `plan` (the translation of a plan message into DataFusion's operators) on a thread with
/// a large stack. The translation recurses through the message's expressions, and a Spark task
/// thread has the JVM's default stack (1 MiB), which deep expressions can overrun, in debug
/// builds above all (the translator's frame there is tens of KiB a level): that kills the JVM
/// with a SIGSEGV instead of failing the query. A panic on that thread is raised again here.
///
/// 64 MiB: measured in a debug build, a message of 990 nested NOTs plans in 64 MiB and 480 need
/// more than 16 MiB (33 to 66 KiB a level); messages nest at most
/// [`message::MAX_NESTING`] levels, which leaves room. (The stack is only reserved address space
/// until the recursion touches it, but a smaller reservation also spares processes whose
/// address space or memory is limited.)
fn on_large_stack<T: Send>(
    plan: impl FnOnce() -> Result<T, NativeError> + Send,
) -> Result<T, NativeError> {
    const STACK: usize = 64 << 20;
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("cinder-plan".to_owned())
            .stack_size(STACK)
            .spawn_scoped(scope, plan)
            .map_err(|e| {
                NativeError::Execution(format!("cannot start the planning thread: {e}"))
            })?;
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Runs a native method's body: errors and panics become Java exceptions.
fn jni_call<'local, T: Default>(
    env: &mut EnvUnowned<'local>,
    body: impl FnOnce(&mut Env<'local>) -> Result<T, NativeError>,
) -> T {
    env.with_env(body).resolve::<ThrowJava>()
}

/// `static native String version()`: the library's version and plan message version.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_version<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    jni_call(&mut env, |env| {
        let text = format!(
            "cinder-jni {} (plan message version {})",
            env!("CARGO_PKG_VERSION"),
            message::PLAN_VERSION
        );
        Ok(JString::from_str(env, text)?)
    })
}

/// `static native long createPlan(byte[] plan)`: a handle to a planned, not yet started plan.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_createPlan<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    plan: JByteArray<'local>,
) -> jlong {
    jni_call(&mut env, |env| {
        if plan.is_null() {
            return Err(NativeError::plan("the plan message is null"));
        }
        let bytes = env.convert_byte_array(&plan)?;
        let plan = on_large_stack(|| NativePlan::create(&bytes))?;
        Ok(native_plan::register_plan(plan))
    })
}

/// `static native String checkPlan(byte[] plan)`: null if the plan can run natively, else
/// the reason it cannot (nothing is read).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_checkPlan<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    plan: JByteArray<'local>,
) -> JString<'local> {
    jni_call(&mut env, |env| {
        if plan.is_null() {
            return Err(NativeError::plan("the plan message is null"));
        }
        let bytes = env.convert_byte_array(&plan)?;
        match on_large_stack(|| NativePlan::check(&bytes)) {
            Ok(()) => Ok(JString::default()),
            Err(NativeError::Plan(reason)) => Ok(JString::from_str(env, reason)?),
            Err(other) => Err(other),
        }
    })
}

/// `static native long createPlanWithInputs(byte[] plan, NativeInput[] inputs)`: a plan whose
/// `input` leaf `i` pulls batches from `inputs[i].next()`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_createPlanWithInputs<
    'local,
>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    plan: JByteArray<'local>,
    inputs: JObjectArray<'local>,
) -> jlong {
    jni_call(&mut env, |env| {
        if plan.is_null() {
            return Err(NativeError::plan("the plan message is null"));
        }
        if inputs.is_null() {
            return Err(NativeError::plan("the plan's inputs are null"));
        }
        let bytes = env.convert_byte_array(&plan)?;
        let mut sources: Vec<Box<dyn input::BatchSource>> = Vec::new();
        for i in 0..inputs.len(env)? {
            let input = inputs.get_element(env, i)?;
            if input.is_null() {
                return Err(NativeError::plan(format!("the plan's input {i} is null")));
            }
            let blocks = env
                .call_method(&input, jni_str!("blocks"), jni_sig!("()Z"), &[])?
                .z()?;
            let share_key = env
                .call_method(
                    &input,
                    jni_str!("shareKey"),
                    jni_sig!("()Ljava/lang/String;"),
                    &[],
                )?
                .l()?;
            let share_key = if share_key.is_null() {
                None
            } else {
                Some(env.cast_local::<JString>(share_key)?.try_to_string(env)?)
            };
            let (vm, input) = (env.get_java_vm()?, env.new_global_ref(&input)?);
            if blocks {
                sources.push(Box::new(JvmBlockSource {
                    vm,
                    input,
                    schema: None,
                    share_key,
                }));
            } else {
                sources.push(Box::new(JvmBatchSource {
                    vm,
                    input,
                    schema: None,
                }));
            }
        }
        let plan = on_large_stack(|| NativePlan::create_with_inputs(&bytes, sources))?;
        Ok(native_plan::register_plan(plan))
    })
}

/// The plugin's `NativeInput` object: `long[] next()` describes the next batch of Arrow Java
/// buffers (or returns null at the end).
struct JvmBatchSource {
    vm: jni::JavaVM,
    input: jni::refs::Global<JObject<'static>>,
    schema: Option<datafusion::arrow::datatypes::SchemaRef>,
}

impl input::BatchSource for JvmBatchSource {
    fn set_schema(&mut self, schema: datafusion::arrow::datatypes::SchemaRef) {
        self.schema = Some(schema);
    }

    fn next_batch(
        &mut self,
    ) -> Result<Option<datafusion::arrow::record_batch::RecordBatch>, NativeError> {
        let schema = self
            .schema
            .clone()
            .ok_or_else(|| NativeError::Execution("the input's schema was not set".into()))?;
        let input = &self.input;
        self.vm.attach_current_thread(|env| {
            let value = env.call_method(input.as_obj(), jni_str!("next"), jni_sig!("()[J"), &[])?;
            let object = value.l()?;
            if object.is_null() {
                return Ok(None);
            }
            let array = env.cast_local::<JLongArray>(object)?;
            let mut description = vec![0_i64; array.len(env)?];
            array.get_region(env, 0, &mut description)?;
            // SAFETY: `NativeInput.next` describes Arrow Java buffers that stay allocated until
            // its next call, which cannot happen before this one returns.
            unsafe { input::import_batch(&schema, &description) }.map(Some)
        })
    }
}

/// The plugin's `NativeInput` object over a native shuffle's read side: `byte[] nextBlock()`
/// returns the next block as the map side wrote it (or null at the end).
struct JvmBlockSource {
    vm: jni::JavaVM,
    input: jni::refs::Global<JObject<'static>>,
    schema: Option<datafusion::arrow::datatypes::SchemaRef>,
    /// `NativeInput.shareKey()`: a broadcast's identity in this process, if it is one.
    share_key: Option<String>,
}

impl input::BatchSource for JvmBlockSource {
    fn share_key(&self) -> Option<String> {
        self.share_key.clone()
    }

    fn set_schema(&mut self, schema: datafusion::arrow::datatypes::SchemaRef) {
        self.schema = Some(schema);
    }

    fn next_batch(
        &mut self,
    ) -> Result<Option<datafusion::arrow::record_batch::RecordBatch>, NativeError> {
        let schema = self
            .schema
            .clone()
            .ok_or_else(|| NativeError::Execution("the input's schema was not set".into()))?;
        let input = &self.input;
        let block = self.vm.attach_current_thread(|env| {
            let value =
                env.call_method(input.as_obj(), jni_str!("nextBlock"), jni_sig!("()[B"), &[])?;
            let object = value.l()?;
            if object.is_null() {
                return Ok::<_, NativeError>(None);
            }
            let array = env.cast_local::<JByteArray>(object)?;
            Ok(Some(env.convert_byte_array(&array)?))
        })?;
        let Some(block) = block else {
            return Ok(None);
        };
        let batch = shuffle::decode_block(&block)?;
        input::with_schema(batch, &schema).map(Some)
    }
}

/// `static native byte[] nextShuffleBlock(long plan)`: a shuffle map task's next block (its
/// partition in the header), or null at the end.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_nextShuffleBlock<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JByteArray<'local> {
    jni_call(&mut env, |env| {
        let plan = native_plan::plan(handle)?;
        let block = native_plan::lock_plan(&plan).next_block()?;
        match block {
            None => Ok(JByteArray::default()),
            Some(block) => Ok(env.byte_array_from_slice(&block)?),
        }
    })
}

/// `static native long[] shuffleStats(long plan)`: the rows a shuffle map task has taken in,
/// and the bytes they would take as Spark's `UnsafeRow`s.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_shuffleStats<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JLongArray<'local> {
    jni_call(&mut env, |env| {
        let plan = native_plan::plan(handle)?;
        let plan = native_plan::lock_plan(&plan);
        let stats = [plan.shuffle_rows(), plan.shuffle_unsafe_row_bytes()]
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let array = JLongArray::new(env, stats.len())?;
        array.set_region(env, 0, &stats)?;
        Ok(array)
    })
}

/// `static native long spilledBytes(long plan)`: the bytes the plan's sorts and aggregations
/// spilled to disk so far (under a memory limit).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_spilledBytes<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    jni_call(&mut env, |_| {
        let plan = native_plan::plan(handle)?;
        let plan = native_plan::lock_plan(&plan);
        Ok(i64::try_from(plan.spilled_bytes()).unwrap_or(i64::MAX))
    })
}

/// `static native long[] decodeBlock(byte[] block, byte[] fields)`: a shuffle block's rows as
/// a batch description (see [`describe_batch`]), for Spark operators reading a native
/// shuffle. `fields` (the plan message's field list, JSON) are the columns Spark expects: a
/// block of other types is an error, not buffers Arrow Java would misread.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_decodeBlock<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    block: JByteArray<'local>,
    fields: JByteArray<'local>,
) -> JLongArray<'local> {
    jni_call(&mut env, |env| {
        if block.is_null() || fields.is_null() {
            return Err(NativeError::Execution(
                "the shuffle block or its fields are null".into(),
            ));
        }
        let fields: Vec<message::FieldSpec> =
            serde_json::from_slice(&env.convert_byte_array(&fields)?).map_err(|e| {
                NativeError::Execution(format!("malformed fields of a shuffle read: {e}"))
            })?;
        let schema = std::sync::Arc::new(planner::arrow_schema(&fields)?);
        let bytes = env.convert_byte_array(&block)?;
        let batch = input::with_schema(shuffle::decode_block(&bytes)?, &schema)?;
        let description = describe_batch(&batch)?;
        let array = JLongArray::new(env, description.len())
            .and_then(|array| array.set_region(env, 0, &description).map(|()| array));
        array.map_err(|e| {
            release_described(&description);
            e.into()
        })
    })
}

/// `static native long[] nextBatch(long plan)`: the next batch's description (see
/// [`describe_batch`]), or null at the end.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_nextBatch<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JLongArray<'local> {
    jni_call(&mut env, |env| {
        let plan = native_plan::plan(handle)?;
        let batch = native_plan::lock_plan(&plan).next_batch()?;
        let Some(batch) = batch else {
            return Ok(JLongArray::default());
        };
        let description = describe_batch(&batch)?;
        let array = JLongArray::new(env, description.len())
            .and_then(|array| array.set_region(env, 0, &description).map(|()| array));
        array.map_err(|e| {
            // The description never reaches Java: nothing else will release its buffers.
            release_described(&description);
            e.into()
        })
    })
}

/// Releases the buffers of a description that could not reach Java.
fn release_described(description: &[i64]) {
    let mut i = 2;
    let columns = description.get(1).copied().unwrap_or(0);
    for _ in 0..columns {
        let buffers = description.get(i + 1).copied().unwrap_or(0);
        i += 2;
        for _ in 0..buffers {
            if let Some(&handle) = description.get(i + 2)
                && handle != 0
            {
                let _ = native_plan::release_buffer(handle);
            }
            i += 3;
        }
    }
}

/// `static native String explainPlan(long plan)`: the DataFusion plan, as EXPLAIN shows it.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_explainPlan<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JString<'local> {
    jni_call(&mut env, |env| {
        let plan = native_plan::plan(handle)?;
        let text = native_plan::lock_plan(&plan).explain();
        Ok(JString::from_str(env, text)?)
    })
}

/// `static native void closePlan(long plan)`: stops and frees a plan.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_closePlan<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    jni_call(&mut env, |_| native_plan::close_plan(handle))
}

/// `static native void releaseBuffer(long buffer)`: frees one exported buffer (Arrow Java's
/// release callback).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_releaseBuffer<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    jni_call(&mut env, |_| native_plan::release_buffer(handle))
}

/// `static native void setSpillDirectories(String[] dirs)`: where the native plans created
/// from now on spill (an executor's Spark local directories); empty: the OS's temporary
/// directory.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_setSpillDirectories<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    dirs: JObjectArray<'local>,
) {
    jni_call(&mut env, |env| {
        if dirs.is_null() {
            return Err(NativeError::plan("the spill directories are null"));
        }
        let mut paths = Vec::new();
        for i in 0..dirs.len(env)? {
            let dir = dirs.get_element(env, i)?;
            if dir.is_null() {
                return Err(NativeError::plan(format!("spill directory {i} is null")));
            }
            let dir = env.cast_local::<JString>(dir)?.try_to_string(env)?;
            paths.push(std::path::PathBuf::from(dir));
        }
        native_plan::set_spill_directories(paths);
        Ok(())
    })
}

/// `static native long liveBuffers()`: exported buffers not yet released (for tests).
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_apache_spark_sql_cinder_NativeBridge_liveBuffers<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jlong {
    jni_call(&mut env, |_| {
        Ok(i64::try_from(native_plan::live_buffers()).unwrap_or(i64::MAX))
    })
}

/// What the vector files written by the Java programs under `tests/` share.
#[cfg(test)]
pub(crate) mod test_vectors {
    /// `text` with the generators' escapes undone: a doubled backslash, and a backslash, `u`
    /// and four hex digits for a character outside ASCII's printable ones.
    pub fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&hex, 16).expect("four hex digits");
                    out.push(char::from_u32(unit).expect("a character of the BMP"));
                }
                Some(other) => out.push(other),
                None => panic!("dangling escape in {text:?}"),
            }
        }
        out
    }
}
