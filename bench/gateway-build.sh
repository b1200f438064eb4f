#!/usr/bin/env bash
# Gateway builds (issue 5): builds submitted to a running `kiln serve` with cache=true, pushed into the
# gateway itself: cold (empty layer cache), fully cached rebuild, and rebuild after changing the last
# COPY source. The base images come from a local docker-registry configured as a mirror upstream, so
# they reach the store once (in the first run) and are read from there afterwards.
#   bench/gateway-build.sh            (WORKLOADS="small heavy", RUNS=5)
# Time: as a client sees it, from the start of the upload to the end of the build's log (followed as
# server-sent events). Bytes: the build report's layerBytesUploaded / bytesUploaded (config included).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-gateway}"
runs="${RUNS:-5}"
reg_port=5302
gw_port=5303
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"
wait_http() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$reg_port}
YML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 & pids+=($!)
reg="127.0.0.1:$reg_port"
wait_http "http://$reg/v2/"
"$here/scripts/make-base-images" "$reg" >&2

java -jar "$jar" serve --port "$gw_port" --store "$work/store" --upstream "bench.test=http://$reg" > "$work/kiln.log" 2>&1 & pids+=($!)
gw="127.0.0.1:$gw_port"
wait_http "http://$gw/v2/"

ctx="$work/ctx"
mkdir -p "$ctx/small/conf" "$ctx/heavy"
echo "hello" > "$ctx/small/a.txt"; echo "x=1" > "$ctx/small/conf/app.conf"
cat > "$ctx/small/Dockerfile" <<'DF'
FROM bench.test/busybox:latest
ENV APP_HOME=/opt/app
WORKDIR $APP_HOME
COPY conf/ /etc/app/
ARG VERSION=1
RUN echo "version $VERSION" > version.txt && mkdir -p data
RUN cat /etc/app/app.conf version.txt > data/all.txt
COPY a.txt .
CMD ["cat", "/opt/app/a.txt"]
DF
head -c 1000000 /dev/urandom > "$ctx/heavy/app.bin"
cat > "$ctx/heavy/Dockerfile" <<'DF'
FROM bench.test/debian:minbase
RUN mkdir -p /data/small && cd /data/small && for i in $(seq 1 10000); do echo "file $i" > f$i; done && head -c 100000000 /dev/urandom > /data/big.bin
COPY app.bin /app/app.bin
DF

# submit WORKLOAD REPO: one build; prints "seconds layerBytesUploaded bytesUploaded layersReused layers"
submit() {
  local w="$1" repo="$2" t0 t1 id record
  t0=$(date +%s.%N)
  id=$(tar -czf - -C "$ctx/$w" . | curl -sf -X POST --data-binary @- -H 'Content-Type: application/gzip' \
    "http://$gw/api/v1/builds?cache=true&destination=$gw/$repo:latest" | jq -r .id)
  curl -sfN -H 'Accept: text/event-stream' "http://$gw/api/v1/builds/$id/log" > "$work/$id.log"
  t1=$(date +%s.%N)
  record=$(curl -sf "http://$gw/api/v1/builds/$id")
  [ "$(jq -r .state <<< "$record")" = succeeded ] || { echo "build $id: $(jq -r .error <<< "$record")" >&2; cat "$work/$id.log" >&2; exit 1; }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b-a}') $(jq -r '.report | "\(.layerBytesUploaded) \(.bytesUploaded) \(.layersReused) \(.layers)"' <<< "$record")"
}

echo "| workload | phase | seconds (median of $runs) | layer bytes uploaded | bytes uploaded | layers reused |"
echo "|---|---|---|---|---|---|"
for w in ${WORKLOADS:-small heavy}; do
  last_copy=$( [ "$w" = small ] && echo a.txt || echo app.bin )
  for phase in cold cached changed; do : > "$work/$w.$phase"; done
  for i in $(seq 1 "$runs"); do
    cp "$ctx/$w/$last_copy" "$work/$last_copy.orig"
    for phase in cold cached changed; do
      [ "$phase" = changed ] && echo "changed $i $RANDOM" >> "$ctx/$w/$last_copy"
      submit "$w" "local/bench-$w-$i" >> "$work/$w.$phase"  # a new repository per run: a new, empty cache repository
    done
    cp "$work/$last_copy.orig" "$ctx/$w/$last_copy"
  done
  for phase in cold cached changed; do
    s=$(awk '{print $1}' "$work/$w.$phase" | median)
    read -r _ lb b r l < <(tail -1 "$work/$w.$phase")
    echo "| $w | $phase | $s | $lb | $b | $r of $l |"
    echo "$w $phase: $(awk '{print $1}' "$work/$w.$phase" | tr '\n' ' ')" >&2
  done
done
