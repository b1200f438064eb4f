#!/usr/bin/env bash
# kaniko's benchmark_fs shape (one RUN writing N small files, N=50000 by default) submitted to `./kiln serve`
# as users start it, i.e. with its heap caps: does the capped heap hold, and what is the gateway's peak RSS?
#   N=50000 bench/gateway-fs.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
work="${WORK:-/tmp/kiln-bench-gwfs}"
n="${N:-50000}"
reg="127.0.0.1:5391" gw="127.0.0.1:5392"
rm -rf "$work" && mkdir -p "$work/ctx"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" >&2
cat > "$work/ctx/Dockerfile" <<DF
FROM bench.test/busybox:latest
RUN mkdir -p /fs && cd /fs && for d in \$(seq 1 $((n / 1000))); do mkdir d\$d; for f in \$(seq 1 1000); do echo \$f > d\$d/f\$f; done; done
DF
"$here/kiln" serve --port "${gw#*:}" --store "$work/store" --upstream "bench.test=http://$reg" > "$work/kiln.log" 2>&1 &
pids+=($!)
wait_http "http://$gw/v2/"
jvm=$(pgrep -f -n "serve --port ${gw#*:}")
echo 0 > "$work/peak"
( while kill -0 "$jvm" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$jvm/status" 2>/dev/null || true)
    [ -n "$r" ] && [ "$r" -gt "$(cat "$work/peak")" ] && echo "$r" > "$work/peak"
    sleep 0.2
  done ) &
pids+=($!)
t0=$(now)
id=$(tar -cf - -C "$work/ctx" . | curl -sf -X POST --data-binary @- -H 'Content-Type: application/x-tar' \
  "http://$gw/api/v1/builds?destination=$gw/local/fs:1" | jq -r .id)
curl -sfN -H 'Accept: text/event-stream' "http://$gw/api/v1/builds/$id/log" > "$work/build.log"
secs=$(since "$t0")
state=$(curl -sf "http://$gw/api/v1/builds/$id" | jq -r '.state + " " + (.error // "")')
echo "fs$n through ./kiln serve: $state in $secs s, gateway peak RSS $(( $(cat "$work/peak") / 1024 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
! grep -q OutOfMemoryError "$work/kiln.log" || { echo "the gateway ran out of heap:" >&2; grep -m3 OutOfMemoryError "$work/kiln.log" >&2; exit 1; }
