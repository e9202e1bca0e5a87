package org.apache.spark.sql.cinder;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The native methods of {@code libcinder_jni} (jvm-plugin/native). Every method turns native
 * errors into Java exceptions: {@link IllegalArgumentException} for a bad plan message,
 * {@link IllegalStateException} for a handle that is not live, {@link RuntimeException} for an
 * execution failure or a native panic. Java holds only numeric handles.
 */
public final class NativeBridge {
  /** Where the library sits inside the jar. */
  static final String RESOURCE = "/cinder/native/linux-x86_64/libcinder_jni.so";

  private static volatile boolean loaded = false;

  private NativeBridge() {}

  /**
   * Loads the native library once per JVM: from {@code -Dcinder.native.lib=PATH} (or the
   * {@code CINDER_NATIVE_LIB} environment variable) when set, else extracted from the jar to a
   * temporary directory deleted at exit.
   */
  public static synchronized void load() {
    if (loaded) {
      return;
    }
    String override = System.getProperty("cinder.native.lib", System.getenv("CINDER_NATIVE_LIB"));
    if (override != null && !override.isEmpty()) {
      System.load(Path.of(override).toAbsolutePath().toString());
    } else {
      try (InputStream in = NativeBridge.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          throw new UnsatisfiedLinkError(
              "cinder: the jar has no native library at " + RESOURCE
                  + " (only linux-x86_64 is built); set -Dcinder.native.lib=PATH to use another");
        }
        Path dir = Files.createTempDirectory("cinder-native");
        Path lib = dir.resolve("libcinder_jni.so");
        Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        lib.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        System.load(lib.toString());
      } catch (IOException e) {
        throw new UncheckedIOException("cinder: cannot extract the native library", e);
      }
    }
    loaded = true;
  }

  /** Version of the native library and of the plan message it reads. */
  public static native String version();

  /** Parses, checks and plans a message; returns a plan handle. Reads nothing yet. */
  public static native long createPlan(byte[] plan);

  /**
   * Checks a plan message as {@link #createPlan} would, reading nothing: null if it can run
   * natively, else the reason it cannot.
   */
  public static native String checkPlan(byte[] plan);

  /**
   * Like {@link #createPlan}, for a plan whose {@code input} leaf {@code i} reads the batches
   * of {@code inputs[i]}.
   */
  public static native long createPlanWithInputs(byte[] plan, NativeInput[] inputs);

  /**
   * The next batch's description (rows, columns, then per column null count, buffer count and
   * per buffer address, length, release handle), or null at the end of the plan.
   */
  public static native long[] nextBatch(long plan);

  /**
   * A native shuffle's map task (a plan whose message has a {@code shuffle} field): the next
   * block of its rows, or null at the end. A block's bytes 4 to 7 hold its partition
   * (little-endian).
   */
  public static native byte[] nextShuffleBlock(long plan);

  /**
   * A native shuffle's map task so far: {rows split into blocks, the bytes those rows would
   * take as Spark's UnsafeRows}.
   */
  public static native long[] shuffleStats(long plan);

  /**
   * A native shuffle block's rows, described as {@link #nextBatch} does (the buffers are
   * released as for a batch). {@code fields} are the columns Spark expects (the plan message's
   * field list, JSON): a block of other types is an error.
   */
  public static native long[] decodeBlock(byte[] block, byte[] fields);

  /** The bytes a plan's sorts and aggregations spilled to disk so far (under a memory limit). */
  public static native long spilledBytes(long plan);

  /** The native plan as DataFusion's EXPLAIN shows it. */
  public static native String explainPlan(long plan);

  /** Stops and frees a plan. Buffers it exported stay valid until released. */
  public static native void closePlan(long plan);

  /** Frees one exported buffer (called by Arrow Java when the last reference goes). */
  public static native void releaseBuffer(long buffer);

  /** How many exported buffers are not released yet (for tests). */
  public static native long liveBuffers();

  /**
   * Where the native plans created from now on spill under a memory limit (an executor's Spark
   * local directories: one directory of the native library's in each, made when first needed,
   * its files removed as the plans end; where they cannot be used, with a warning, and with none,
   * the OS's temporary directory).
   */
  public static native void setSpillDirectories(String[] dirs);
}
