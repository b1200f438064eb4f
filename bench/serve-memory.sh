#!/usr/bin/env bash
# Heap and direct-memory caps for `kiln serve` (issue 13): for each JVM option set, a fresh gateway
# (empty store) mirrors a local docker-registry and serves CLIENTS (default 20) concurrent cold pulls
# (skopeo copy … dir:) of an image of LAYERS layers × MIB MiB (default 4 × 50, incompressible), then a
# second, warm round. Prints wall seconds per round, the gateway's peak RSS (VmHWM) and its live heap
# after a full GC (jcmd GC.class_histogram's total). Needs the packaged jar.
#   OPTS_SETS="default|-Xmx128m|-Xmx64m -XX:MaxDirectMemorySize=64m"  ('|' separates sets; "default" is none)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-$(mktemp -d /tmp/kiln-serve-memory.XXXXXX)}"
clients="${CLIENTS:-20}" layers="${LAYERS:-4}" mib="${MIB:-50}"
up_port="${UP_PORT:-5381}" kiln_port="${KILN_PORT:-5382}"
opts_sets="${OPTS_SETS:-default|-Xmx256m -XX:MaxDirectMemorySize=128m|-Xmx128m -XX:MaxDirectMemorySize=64m|-Xmx64m -XX:MaxDirectMemorySize=32m}"
[ -f "$jar" ] || { echo "serve-memory: run mvn package first" >&2; exit 1; }

mkdir -p "$work"

"$here/bench/make-image.sh" "$work/image" "$layers" "$mib"
bench_registry "$work" "127.0.0.1:$up_port" upstream
skopeo copy -q --dest-tls-verify=false "oci:$work/image:1" "docker://127.0.0.1:$up_port/bench/big:1"

round() { # label: CLIENTS concurrent pulls, prints the wall seconds
  local t0 t1 i failed=0 pulls=()
  rm -rf "$work"/out-*
  t0=$(date +%s.%N)
  for i in $(seq 1 "$clients"); do
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$kiln_port/up/bench/big:1" "dir:$work/out-$i" \
      > "$work/pull-$i.log" 2>&1 & pulls+=($!)
  done
  for p in "${pulls[@]}"; do wait "$p" || failed=1; done
  t1=$(date +%s.%N)
  [ "$failed" = 0 ] || cat "$work"/pull-*.log >&2
  [ "$failed" = 0 ] || { echo "a pull failed (gateway log: $work/kiln.log)" >&2; tail -20 "$work/kiln.log" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b-a}'
}

echo "| JVM options | cold round s | warm round s | peak RSS MiB | live heap after GC MiB |"
echo "| --- | --- | --- | --- | --- |"
IFS='|' read -r -a sets <<< "$opts_sets"
for opts in "${sets[@]}"; do
  [ "$opts" = default ] && jvm="" || jvm="$opts"
  rm -rf "$work/store"
  # shellcheck disable=SC2086
  java $jvm -jar "$jar" serve --port "$kiln_port" --store "$work/store" --upstream "up=http://127.0.0.1:$up_port" \
    > "$work/kiln.log" 2>&1 &
  kiln_pid=$!; pids+=($kiln_pid)
  wait_http "http://127.0.0.1:$kiln_port/v2/"
  cold=$(round)
  warm=$(round)
  hwm=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$kiln_pid/status")
  live=$(jcmd "$kiln_pid" GC.class_histogram 2>/dev/null | awk '/^Total/ {printf "%.0f", $3/1048576}')
  kill "$kiln_pid"; wait "$kiln_pid" 2>/dev/null || true
  echo "| ${opts} | $cold | $warm | $hwm | $live |"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $clients clients, $layers × $mib MiB layers"
rm -rf "$work"/out-*
