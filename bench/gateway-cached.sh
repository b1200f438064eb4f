#!/usr/bin/env bash
# Fully cached rebuilds through a running gateway (issue 13), and where their time goes.
#   bench/gateway-cached.sh        WORKLOADS="small heavy" (default), RUNS=10 cached rebuilds each
# Each workload is built once cold, then RUNS times again unchanged, as bench/build-vs-buildah.sh's
# gateway_build does it (tar -czf | curl POST, the log followed as server-sent events to its end, then
# the record). Per workload: the median total, and its parts as the client sees them (the POST until
# its answer, the log stream until its end) and as the record says (accepted to started, started to
# finished). JFR=1 records the gateway's cached rebuilds (not the cold builds) with a 1 ms sampling
# period and 1 ms thresholds into WORK/gateway.jfr.
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
java -Dkiln.builds.allow-network=true -jar "$jar" serve --port 5313 --store "$work/store" \
  --upstream "bench.test=http://$reg" > "$work/kiln.log" 2>&1 & pids+=($!)
gateway_pid=$!
wait_http "http://$gw/v2/"

# build WORKLOAD: one build; appends "total post log started-accepted finished-started" (seconds) to WORK/WORKLOAD.times
build() {
  local w="$1" t0 t1 t2 id record
  t0=$(now)
  id=$(tar -czf - -C "$work/ctx/$w" . | curl -sf -X POST --data-binary @- -H 'Content-Type: application/gzip' \
    "http://$gw/api/v1/builds?cache=true&destination=$gw/local/bench-$w:latest" | jq -r .id)
  t1=$(now)
  curl -sfN -H 'Accept: text/event-stream' "http://$gw/api/v1/builds/$id/log" > "$work/log-$id"
  t2=$(now)
  record=$(curl -sf "http://$gw/api/v1/builds/$id")
  [ "$(jq -r .state <<< "$record")" = succeeded ] || { echo "build $id: $(jq -r .error <<< "$record")" >&2; exit 1; }
  grep -q '^event: end' "$work/log-$id" || { echo "build $id: the log stream ended without its end event" >&2; exit 1; }
  python3 -c 'import json, sys, datetime
r = json.load(sys.stdin); t = [datetime.datetime.fromisoformat(r[k].replace("Z", "+00:00")).timestamp() for k in ("createdAt", "startedAt", "finishedAt")]
print(t[1] - t[0], t[2] - t[1])' <<< "$record" |
    awk -v a="$t0" -v b="$t1" -v c="$t2" '{printf "%.3f %.3f %.3f %.3f %.3f\n", c-a, b-a, c-b, $1, $2}' >> "$work/$w.times"
  jq -c '[.steps[].cached]' <<< "$record" >> "$work/$w.cached"
}

echo "| workload | cached rebuild s | POST s | log stream s | queued s | build s | steps cached |"
echo "|---|---:|---:|---:|---:|---:|---|"
for w in ${WORKLOADS:-small heavy}; do build "$w"; done
[ "${JFR:-0}" = 1 ] && jcmd "$gateway_pid" JFR.start name=cached settings="$work/fast.jfc" > /dev/null
for w in ${WORKLOADS:-small heavy}; do
  : > "$work/$w.times"; : > "$work/$w.cached"
  for _ in $(seq 1 "$runs"); do build "$w"; done
  col() { awk -v c="$1" '{print $c}' "$work/$w.times" | median; }
  echo "| $w | $(col 1) | $(col 2) | $(col 3) | $(col 4) | $(col 5) | $(sort -u "$work/$w.cached" | tr '\n' ' ')|"
  echo "$w totals: $(awk '{print $1}' "$work/$w.times" | tr '\n' ' ')" >&2
done
[ "${JFR:-0}" = 1 ] && jcmd "$gateway_pid" JFR.dump name=cached filename="$work/gateway.jfr" > /dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
