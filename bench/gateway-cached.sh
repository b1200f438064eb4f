#!/usr/bin/env bash
# Fully cached rebuilds through a running gateway (issue 13), and where their time goes.
#   bench/gateway-cached.sh        WORKLOADS="small heavy" (default), RUNS=10 cached rebuilds each
# Each workload is built once cold, then RUNS times again unchanged in each of two ways, taking turns:
# "two requests" as bench/build-vs-buildah.sh's gateway_build does it (tar -cf | curl POST | jq -r .id,
# then curl following the log as server-sent events to its end), and "one request" (tar -cf | curl POST
# with Accept: text/event-stream: the answer is the log to its end); the record is read afterwards,
# untimed. Per workload and way: the median total, and its parts as the client sees them (two requests:
# the POST until its answer, the log stream until its end; one request: the whole, shown as the POST) and
# as the record says (accepted to started, started to finished). Then what the client's processes cost
# alone (tar of the context, curl and jq starting). GATEWAY_CONTEXT=gzip sends tar.gz (tar -czf).
# JFR=1 records the gateway's cached rebuilds (not the cold builds) with a 1 ms sampling period and 1 ms
# thresholds into WORK/gateway.jfr.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-gwcached}"
runs="${RUNS:-10}"
reg="127.0.0.1:5311" gw="127.0.0.1:5313"
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)
rm -rf "$work" && mkdir -p "$work/ctx/small/conf" "$work/ctx/heavy"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" >&2

# the workloads of bench/build-vs-buildah.sh, their bases read through the gateway's mirror
bench_workload_small "$work/ctx/small" bench.test
bench_workload_heavy "$work/ctx/heavy" bench.test

sed -E 's/>(10|20) ms</>1 ms</' "$(dirname "$(readlink -f "$(which java)")")/../lib/jfr/profile.jfc" > "$work/fast.jfc"
# as users start it (./kiln serve: its heap caps and collector), as bench/build-vs-buildah.sh does
KILN_JAVA_OPTS="-Dkiln.builds.allow-network=true" "$here/kiln" serve --port 5313 --store "$work/store" \
  --upstream "bench.test=http://$reg" > "$work/kiln.log" 2>&1 & pids+=($!)
gateway_pid=$!
wait_http "http://$gw/v2/"

pack=(tar -cf -) type=application/x-tar
[ "${GATEWAY_CONTEXT:-tar}" = gzip ] && pack=(tar -czf -) type=application/gzip
# build WORKLOAD [one]: one build, in two requests or (with "one") in one; appends "total post log
# started-accepted finished-started" (seconds) to WORK/WORKLOAD[.one].times
build() {
  local w="$1" flow="${2:-two}" t0 t1 t2 id record out="$work/$1" query
  query="cache=true&destination=$gw/local/bench-$w:latest"
  [ "$flow" = one ] && out="$work/$w.one"
  t0=$(now)
  if [ "$flow" = one ]; then
    # no split: curl's time_starttransfer is the upload's start here, not the answer's first byte
    "${pack[@]}" -C "$work/ctx/$w" . | curl -sfN -X POST --data-binary @- -H "Content-Type: $type" \
      -H 'Accept: text/event-stream' "http://$gw/api/v1/builds?$query" > "$work/log-last"
    t2=$(now)
    t1=$t2
    id=$(sed -n 's/^data: {"id":"\([0-9a-f]*\)".*/\1/p' "$work/log-last" | head -1)
  else
    id=$("${pack[@]}" -C "$work/ctx/$w" . | curl -sf -X POST --data-binary @- -H "Content-Type: $type" \
      "http://$gw/api/v1/builds?$query" | jq -r .id)
    t1=$(now)
    curl -sfN -H 'Accept: text/event-stream' "http://$gw/api/v1/builds/$id/log" > "$work/log-last"
    t2=$(now)
  fi
  cp "$work/log-last" "$work/log-$id"
  record=$(curl -sf "http://$gw/api/v1/builds/$id")
  [ "$(jq -r .state <<< "$record")" = succeeded ] || { echo "build $id: $(jq -r .error <<< "$record")" >&2; exit 1; }
  grep -q '^event: end' "$work/log-$id" || { echo "build $id: the log stream ended without its end event" >&2; exit 1; }
  python3 -c 'import json, sys, datetime
r = json.load(sys.stdin); t = [datetime.datetime.fromisoformat(r[k].replace("Z", "+00:00")).timestamp() for k in ("createdAt", "startedAt", "finishedAt")]
print(t[1] - t[0], t[2] - t[1])' <<< "$record" |
    awk -v a="$t0" -v b="$t1" -v c="$t2" '{printf "%.3f %.3f %.3f %.3f %.3f\n", c-a, b-a, c-b, $1, $2}' >> "$out.times"
  jq -c '[.steps[].cached]' <<< "$record" >> "$out.cached"
}

echo "| workload | requests | cached rebuild s | POST s | log stream s | queued s | build s | steps cached |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for w in ${WORKLOADS:-small heavy}; do build "$w"; done
[ "${JFR:-0}" = 1 ] && jcmd "$gateway_pid" JFR.start name=cached settings="$work/fast.jfc" > /dev/null
for w in ${WORKLOADS:-small heavy}; do
  : > "$work/$w.times"; : > "$work/$w.cached"; : > "$work/$w.one.times"; : > "$work/$w.one.cached"
  for _ in $(seq 1 "$runs"); do build "$w"; build "$w" one; done
  for f in "$w" "$w.one"; do
    col() { awk -v c="$1" '{print $c}' "$work/$f.times" | median; }
    echo "| $w | $([ "$f" = "$w" ] && echo two || echo one) | $(col 1) | $(col 2) | $(col 3) | $(col 4) | $(col 5) | $(sort -u "$work/$f.cached" | tr '\n' ' ')|"
    echo "$f totals: $(awk '{print $1}' "$work/$f.times" | tr '\n' ' ')" >&2
  done
done
[ "${JFR:-0}" = 1 ] && jcmd "$gateway_pid" JFR.dump name=cached filename="$work/gateway.jfr" > /dev/null
# what the client's processes cost by themselves, 20 times each (ms, median)
alone() { local t; for _ in $(seq 1 20); do t=$(date +%s%N); "$@" > /dev/null 2>&1 || true; echo $(( $(date +%s%N) - t )); done |
  median | awk '{printf "%.1f", $1/1e6}'; }
echo "client processes alone (ms, median of 20):" \
  "tar of small $(alone "${pack[@]}" -C "$work/ctx/small" .), tar of heavy $(alone "${pack[@]}" -C "$work/ctx/heavy" .)," \
  "curl --version $(alone curl --version), jq --version $(alone jq --version), /bin/true $(alone /bin/true)" \
  "(each with one date's start, as the timed runs have)" >&2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
