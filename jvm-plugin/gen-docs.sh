#!/usr/bin/env bash
# Rewrites the generated sections of docs/spark.md (settings, operators, expressions) from the
# plugin's code (CinderConf, CinderDocs), between <!-- cinder:NAME --> and <!-- /cinder:NAME -->.
# Needs the jar from jvm-plugin/build.sh. jvm-plugin/tests/test_docs.py checks it is fresh.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CINDER_SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder/spark-venv}"
jars=$("$venv/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
jar=$(ls jvm-plugin/target/cinder-spark_2.13-*.jar)
for section in configs operators expressions; do
  java -cp "$jar:$jars/*" org.apache.spark.sql.cinder.CinderDocs "$section" > "/tmp/cinder-docs-$section.md"
done
python3 - <<'PY'
import re
path = "docs/spark.md"
text = open(path).read()
for section in ("configs", "operators", "expressions"):
    body = open(f"/tmp/cinder-docs-{section}.md").read()
    pattern = re.compile(rf"(<!-- cinder:{section} -->\n).*?(<!-- /cinder:{section} -->)", re.S)
    text, n = pattern.subn(lambda m: m.group(1) + body + m.group(2), text)
    assert n == 1, f"docs/spark.md has no {section} markers"
open(path, "w").write(text)
PY
echo "docs/spark.md regenerated"
