#!/usr/bin/env bash
# Issue 13: repeats CLIENTS (default 20) concurrent cold pulls (`skopeo copy docker://… dir:`) of an
# image of LAYERS × MIB MiB (default 4 × 50) through a fresh gateway (empty store, JVM options
# JAVA_OPTS, default -Xmx256m) that mirrors a local docker-registry, TRIES times (default 10), and
# counts the pulls that failed, with the first line of each failure. LINK="25 400" puts
# bench/throttle-proxy.py (latency ms, Mbit/s) between the gateway and the upstream. APP=<quarkus-app
# directory> runs another build of the jar (e.g. the one before a change). BUILD=1 also submits a heavy
# build to the gateway during the pulls (busybox from scripts/make-base-images, a RUN writing 20,000
# files, a COPY of a 100 MB random file), as the gateway's peak RSS must hold both. GATEWAY_ENV sets
# the gateway's environment (e.g. "MALLOC_ARENA_MAX=2"). NMT=1 runs it with native memory tracking
# and samples `jcmd VM.native_memory summary` every second: prints the committed MiB per area in the
# sample with the highest RSS, to see what the peak is made of (tracking itself costs a few MiB), and
# NMT's summary.diff against a baseline taken once the gateway answers. Every try samples
# /proc/<gateway>/status twice a second into WORK/rss-<try>.tsv (seconds, RSS, anonymous, file-mapped
# KiB, pulls still running, build running) and prints the peak's split and during which phase it fell.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
app="${APP:-$here/target/quarkus-app}"
work="${WORK:-$(mktemp -d /tmp/kiln-cold-stress.XXXXXX)}"
clients="${CLIENTS:-20}" layers="${LAYERS:-4}" mib="${MIB:-50}" tries="${TRIES:-10}"
java_opts="${JAVA_OPTS:--Xmx256m}"
up_port="${UP_PORT:-5391}" link_port="${LINK_PORT:-5392}" kiln_port="${KILN_PORT:-5393}"
[ -f "$app/quarkus-run.jar" ] || { echo "cold-pull-stress: run mvn package first" >&2; exit 1; }

mkdir -p "$work"

[ -d "$work/image" ] || "$here/bench/make-image.sh" "$work/image" "$layers" "$mib"
bench_registry "$work" "127.0.0.1:$up_port" upstream
skopeo copy -q --dest-tls-verify=false "oci:$work/image:1" "docker://127.0.0.1:$up_port/bench/big:1"
upstream="http://127.0.0.1:$up_port"
if [ -n "${LINK:-}" ]; then
  read -r latency rate <<< "$LINK"
  python3 "$here/bench/throttle-proxy.py" --listen "$link_port" --target "$up_port" --latency-ms "$latency" --rate-mbit "$rate" --stats "$work/link.stats" \
    > "$work/link.log" 2>&1 & pids+=($!)
  wait_http "http://127.0.0.1:$link_port/v2/"
  upstream="http://127.0.0.1:$link_port"
fi

if [ "${BUILD:-0}" = 1 ]; then
  mkdir -p "$work/heavy"
  [ -f "$work/heavy/big.bin" ] || head -c 100000000 /dev/urandom > "$work/heavy/big.bin"
  cat > "$work/heavy/Dockerfile" <<DF
FROM 127.0.0.1:$kiln_port/local/busybox:latest
RUN mkdir -p /data && cd /data && for d in \$(seq 1 20); do mkdir d\$d; for f in \$(seq 1 1000); do echo \$f > d\$d/f\$f; done; done
COPY big.bin /data/big.bin
DF
fi

failures=0
for try in $(seq 1 "$tries"); do
  rm -rf "$work/store" "$work"/out-*
  # shellcheck disable=SC2086
  nmt=""; [ "${NMT:-0}" = 1 ] && nmt="-XX:NativeMemoryTracking=summary"
  # shellcheck disable=SC2086
  env ${GATEWAY_ENV:-} java $java_opts $nmt -jar "$app/quarkus-run.jar" serve --port "$kiln_port" --store "$work/store" --upstream "up=$upstream" \
    > "$work/kiln-$try.log" 2>&1 &
  kiln_pid=$!; pids+=($kiln_pid)
  wait_http "http://127.0.0.1:$kiln_port/v2/"
  [ -z "$nmt" ] || jcmd "$kiln_pid" VM.native_memory baseline > /dev/null
  pulls=() build_pid=""
  if [ "${BUILD:-0}" = 1 ]; then
    "$here/scripts/make-base-images" "127.0.0.1:$kiln_port/local" busybox > "$work/base-$try.log" 2>&1
    java -jar "$app/quarkus-run.jar" submit --gateway "http://127.0.0.1:$kiln_port" -t "127.0.0.1:$kiln_port/local/heavy:$try" \
      "$work/heavy" > "$work/build-$try.log" 2>&1 & build_pid=$!; pids+=($build_pid)
  fi
  for i in $(seq 1 "$clients"); do
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$kiln_port/up/bench/big:1" "dir:$work/out-$i" \
      > "$work/pull-$try-$i.log" 2>&1 & pulls+=($!); pids+=($!)
  done
  round_start=$(date +%s.%N) sampler=""
  ( while kill -0 "$kiln_pid" 2>/dev/null; do
      running=0; for p in "${pulls[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
      building=0; [ -n "$build_pid" ] && kill -0 "$build_pid" 2>/dev/null && building=1
      awk -v t="$(awk -v a="$round_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}')" -v p="$running" -v b="$building" \
        '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {if (r) print t, r, a, f, p, b}' "/proc/$kiln_pid/status" 2>/dev/null
      sleep 0.5
    done > "$work/rss-$try.tsv" ) & rss_sampler=$!
  if [ "${NMT:-0}" = 1 ]; then
    ( best=0; while kill -0 "$kiln_pid" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$kiln_pid/status" 2>/dev/null || echo 0)
        if [ "${rss:-0}" -gt "$best" ] && jcmd "$kiln_pid" VM.native_memory summary scale=MB > "$work/nmt-$try.tmp" 2>/dev/null; then
          best=$rss; { echo "RSS ${rss} KiB"; cat "$work/nmt-$try.tmp"; } > "$work/nmt-$try.txt"
          jcmd "$kiln_pid" VM.native_memory summary.diff scale=MB > "$work/nmt-diff-$try.txt" 2>/dev/null || true
          cp "/proc/$kiln_pid/smaps_rollup" "$work/smaps-$try.txt" 2>/dev/null || true
        fi
        sleep 1
      done ) & sampler=$!
  fi
  failed=0
  for i in "${!pulls[@]}"; do
    if ! wait "${pulls[$i]}"; then
      failed=$((failed + 1))
      echo "try $try pull $((i + 1)): $(tail -1 "$work/pull-$try-$((i + 1)).log")"
    fi
  done
  if [ -n "$build_pid" ] && ! wait "$build_pid"; then
    failed=$((failed + 1)); echo "try $try build: $(tail -1 "$work/build-$try.log")"
  fi
  round=$(awk -v a="$round_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}')
  hwm=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$kiln_pid/status")
  kill "$kiln_pid"; wait "$kiln_pid" 2>/dev/null || true
  [ -z "$sampler" ] || wait "$sampler" 2>/dev/null || true
  wait "$rss_sampler" 2>/dev/null || true
  failures=$((failures + failed))
  echo "try $try: $failed of $clients pulls failed in ${round} s, gateway peak RSS ${hwm} MiB, log $work/kiln-$try.log"
  sort -k2,2n "$work/rss-$try.tsv" | tail -1 | awk '{printf "  sampled peak %.0f MiB at %s s (anonymous %.0f, file-mapped %.0f MiB) with %d pulls running, build %s\n",
    $2/1024, $1, $3/1024, $4/1024, $5, ($6 ? "running" : "done")}'
  if [ -f "$work/nmt-$try.txt" ]; then # committed MiB per area at the sampled peak
    awk 'NR == 1 {printf "  at %s %s:", $2, $3} /^Total:/ {sub(/.*committed=/, ""); printf " total %s", $0}
      /^-/ {name=$2; for (i = 3; i <= NF && $i !~ /^\(/; i++) name = name " " $i; c=$0; sub(/.*committed=/, "", c); sub(/MB.*/, "", c); if (c + 0 > 0) printf "; %s %s", name, c}
      END {print ""}' "$work/nmt-$try.txt"
  fi
done
echo "$failures failed pulls in $tries tries of $clients; JVM options: $java_opts; env: ${GATEWAY_ENV:-}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$work"/out-*
[ "$failures" = 0 ]
