#!/usr/bin/env bash
# TPC-H through spark-submit local[2]: vanilla Spark against Spark with Cinder's jar, in one run
# (jvm-plugin/tpch/tpch_spark.py). Builds the release jar and the data (with `cinder tpch`) if
# needed.
#
#   jvm-plugin/tpch/bench.sh [--scale SF] [--device cpu|auto|cuda|host] [--iterations N]
#                            [--queries 1,2,..] [--output FILE.json] [--conf KEY=VALUE ...]
#
# --conf passes a Spark setting to the session (both engines), e.g.
# --conf spark.cinder.shuffle.enabled=false.
#
# Defaults: SF1, device cpu (DataFusion in the native engine), 3 timed runs per query and
# engine (the best is reported), results in target/tpch-spark-sf<SF>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=1 device=cpu iterations=3 queries="" output=""
confs=()
while (( $# )); do
  case "$1" in
    --conf) confs+=(--conf "$2"); shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
output=${output:-target/tpch-spark-sf$scale.json}
mkdir -p "$(dirname "$output")"
venv="${CINDER_SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder/spark-venv}"
data="${CINDER_TPCH_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/cinder/tpch/sf$scale}"

if [[ -z "${CINDER_JAR:-}" ]]; then
  jvm-plugin/build.sh
  CINDER_JAR=$(ls jvm-plugin/target/cinder-spark_2.13-*.jar)
fi
echo "==> TPC-H SF$scale data in $data"
cargo run --quiet --release -p cinder-bench -- tpch --scale "$scale" --device cpu --queries 6 \
  --iterations 1 --data "$data" >/dev/null

cores=2
echo "==> spark-submit local[$cores], device $device, $iterations timed run(s) per query"
PATH="$venv/bin:$PATH" spark-submit --master "local[$cores]" --driver-memory 10g \
  --conf spark.ui.enabled=false \
  --conf spark.sql.shuffle.partitions=$cores \
  --conf spark.cinder.device="$device" "${confs[@]}" \
  --jars "$CINDER_JAR" --conf spark.plugins=org.apache.spark.sql.cinder.CinderPlugin \
  jvm-plugin/tpch/tpch_spark.py --data "$data" --iterations "$iterations" --conversion-probe \
  ${queries:+--queries "$queries"} --output "$output" 2> >(grep -v ' WARN \| INFO ' >&2)
