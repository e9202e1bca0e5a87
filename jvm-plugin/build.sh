#!/usr/bin/env bash
# Builds Cinder's Spark plugin jar without Maven: javac, the scalac inside pyspark's jars, jar.
#
#   jvm-plugin/build.sh [--debug]
#
# Output: jvm-plugin/target/cinder-spark_2.13-<version>.jar, with the native library
# (cinder-jni, release build unless --debug) at cinder/native/linux-x86_64/libcinder_jni.so.
# Spark's jars come from pyspark 4.0.1 in a virtual environment at $CINDER_SPARK_VENV
# (default ~/.cache/cinder/spark-venv), created here when missing. Needs Java 17 and Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [[ "${1:-}" == "--debug" ]]; then
  profile=debug
fi

venv="${CINDER_SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder/spark-venv}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import pyspark, pytest' 2>/dev/null; then
  echo "==> pyspark 4.0.1 into $venv (the first time downloads ~430 MB)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'pyspark==4.0.1' pytest
fi
jars=$("$venv/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
for tool in java javac jar; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (install a Java 17 JDK)" >&2; exit 1; }
done

echo "==> cargo build -p cinder-jni ($profile)"
if [[ $profile == release ]]; then
  cargo build --quiet --release -p cinder-jni
else
  cargo build --quiet -p cinder-jni
fi
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
lib="$target_dir/$profile/libcinder_jni.so"

version=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cinder-jni"))')
out=jvm-plugin/target
classes="$out/classes"
rm -rf "$classes"
mkdir -p "$classes/cinder/native/linux-x86_64"

echo "==> javac + scalac"
scala_version=$(cd "$jars" && ls scala-library-*.jar | sed 's/scala-library-\(.*\)\.jar/\1/')
sc="$jars/scala-compiler-$scala_version.jar:$jars/scala-library-$scala_version.jar:$jars/scala-reflect-$scala_version.jar"
mapfile -t java_sources < <(find jvm-plugin/src/main/java -name '*.java' | sort)
mapfile -t scala_sources < <(find jvm-plugin/src/main/scala -name '*.scala' | sort)
javac --release 17 -Xlint:all,-path -Werror -cp "$jars/*" -d "$classes" "${java_sources[@]}"
java -Xss8m -Xmx2g -cp "$sc" scala.tools.nsc.Main -release 17 -deprecation -feature -Werror \
  -classpath "$classes:$jars/*" -d "$classes" "${scala_sources[@]}"
cp "$lib" "$classes/cinder/native/linux-x86_64/libcinder_jni.so"

jarfile="$out/cinder-spark_2.13-$version.jar"
rm -f "$out"/cinder-spark_2.13-*.jar
jar cf "$jarfile" -C "$classes" .
echo "==> $jarfile ($(du -h "$jarfile" | cut -f1))"
