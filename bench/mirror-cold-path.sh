#!/usr/bin/env bash
# Issue 13: what the mirror's cold path adds, for two builds of the jar side by side (BEFORE_APP and
# APP, quarkus-app directories; runs interleaved). The upstream is Debian's docker-registry behind
# bench/throttle-proxy.py (LATENCY_MS=25, RATE_MBIT=400). Per run: one 50 MiB blob with curl (time to
# its last byte) and a skopeo pull of 4 × 50 MiB, directly and through a fresh gateway (empty store,
# JIT warmed by an unrelated 1 MiB pull) of each build, then the same pull again from its store (warm).
# Prints medians of RUNS (default 5) as markdown. JAVA_OPTS and GATEWAY_ENV (e.g. "MALLOC_ARENA_MAX=2")
# apply to both builds; AFTER_JAVA_OPTS and AFTER_ENV, when set, to APP only (to compare JVM flags).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
app="${APP:-$here/target/quarkus-app}"
before_app="${BEFORE_APP:?BEFORE_APP=<quarkus-app directory of the build to compare with>}"
work="${WORK:-/tmp/kiln-bench-cold-path}"
runs="${RUNS:-5}" latency_ms="${LATENCY_MS:-25}" rate_mbit="${RATE_MBIT:-400}"
java_opts="${JAVA_OPTS:--Xmx256m}"
up_port=5211 link_port=5212 kiln_port=5213

rm -rf "$work" && mkdir -p "$work"

"$here/bench/make-image.sh" "$work/large" 4 50
"$here/bench/make-image.sh" "$work/single" 1 50
"$here/bench/make-image.sh" "$work/warmup" 1 1
bench_registry "$work" "127.0.0.1:$up_port" upstream
python3 "$here/bench/throttle-proxy.py" --listen $link_port --target $up_port --latency-ms "$latency_ms" --rate-mbit "$rate_mbit" --stats "$work/link.stats" \
  > "$work/link.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$link_port/v2/"
for image in large single warmup; do
  skopeo copy -q --dest-tls-verify=false "oci:$work/$image:1" "docker://127.0.0.1:$up_port/bench/$image:1"
done
blob=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['layers'][0]['digest'])" \
  "$work/single/blobs/sha256/$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['manifests'][0]['digest'].split(':')[1])" "$work/single/index.json")")

start_kiln() { # app directory, JVM options, environment
  rm -rf "$work/store"
  # shellcheck disable=SC2086
  env $3 java $2 -jar "$1/quarkus-run.jar" serve --port $kiln_port --store "$work/store" --upstream "up=http://127.0.0.1:$link_port" \
    > "$work/kiln.log" 2>&1 &
  kiln_pid=$!; pids+=($kiln_pid); wait_http "http://127.0.0.1:$kiln_port/v2/"
  skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$kiln_port/up/bench/warmup:1" "dir:$work/warm"; rm -rf "$work/warm"
}
stop_kiln() { kill "$kiln_pid"; wait "$kiln_pid" 2>/dev/null || true; }
blob_time() { curl -sf -o /dev/null -w '%{time_total}' "$1"; }
pull() { rm -rf "$work/out"; local t; t=$(now); skopeo copy -q --src-tls-verify=false "docker://$1" "dir:$work/out"; since "$t" 3; }

declare -A r
for i in $(seq 1 "$runs"); do
  r[direct,blob]+="$(blob_time "http://127.0.0.1:$link_port/v2/bench/single/blobs/$blob") "
  r[direct,pull]+="$(pull "127.0.0.1:$link_port/bench/large:1") "
  for which in before after; do
    if [ "$which" = before ]; then
      start_kiln "$before_app" "$java_opts" "${GATEWAY_ENV:-}"
    else
      start_kiln "$app" "${AFTER_JAVA_OPTS:-$java_opts}" "${AFTER_ENV:-${GATEWAY_ENV:-}}"
    fi
    r[$which,blob]+="$(blob_time "http://127.0.0.1:$kiln_port/v2/up/bench/single/blobs/$blob") "
    r[$which,pull]+="$(pull "127.0.0.1:$kiln_port/up/bench/large:1") "
    r[$which,warm]+="$(pull "127.0.0.1:$kiln_port/up/bench/large:1") "
    stop_kiln
  done
  echo "run $i: ${r[direct,blob]}| ${r[before,blob]}| ${r[after,blob]}| ${r[direct,pull]}| ${r[before,pull]}| ${r[after,pull]}" >&2
done
m() { tr ' ' '\n' <<< "${r[$1]}" | grep . | median; }
echo "| path | one 50 MiB blob, s | added per blob, s | pull of 4 × 50 MiB, s | pull / direct | warm pull, s |"
echo "| --- | --- | --- | --- | --- | --- |"
for which in direct before after; do
  warm="–"; [ "$which" = direct ] || warm="$(m "$which,warm")"
  awk -v w="$which" -v b="$(m "$which,blob")" -v db="$(m direct,blob)" -v p="$(m "$which,pull")" -v dp="$(m direct,pull)" -v warm="$warm" \
    'BEGIN {printf "| %s | %.3f | %s | %.2f | %.3f | %s |\n", w, b, (w == "direct" ? "–" : sprintf("%.3f", b - db)), p, p / dp, warm}'
done
echo
echo "runs (blob direct | before | after | pull direct | before | after | warm before | after): $(for k in direct,blob before,blob after,blob direct,pull before,pull after,pull before,warm after,warm; do printf '%s| ' "${r[$k]}"; done)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); JVM options: $java_opts ${GATEWAY_ENV:-}; after: ${AFTER_JAVA_OPTS:-$java_opts} ${AFTER_ENV:-${GATEWAY_ENV:-}}"
