//! `cinder-jni`: the native library inside Cinder's Spark plugin jar.
//!
//! It will hold thin `Java_*` shims over create / next-batch / release handles for native
//! plans, each body run inside one helper that turns errors and panics into Java exceptions,
//! so that nothing native can take down a JVM. The Scala side lives in `jvm-plugin/src/`.
//!
//! Not built yet: this crate exists so the workspace has the layout the architecture
//! describes and so the JNI library is built and linted with everything else from the start.
//! It exports nothing today.
