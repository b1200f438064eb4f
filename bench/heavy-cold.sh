#!/usr/bin/env bash
# Heavy Dockerfile, cold, three ways interleaved run by run (issue 13): `kiln build` (a fresh --cache-dir), a
# build submitted to a gateway started for that run on an empty store (its base mirrored from the registry, its
# layers unpacked anew), and buildah bud --isolation chroot + push after `rmi -a`. All push to one local
# docker-registry; apt-get goes to Debian's mirror (through Kiln's egress proxy), so runs are listed one by one.
#   RUNS=3 bench/heavy-cold.sh          KILN="./kiln" picks the command for `kiln build` (default: java -jar the jar);
#                                       BEFORE_APP=<a quarkus-app dir> adds its `kiln build` and gateway to each run
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-heavy-cold}"
runs="${RUNS:-3}"
kiln="${KILN:-java -jar $jar}"
reg="127.0.0.1:${REG_PORT:-5841}" gw_port="${GW_PORT:-5843}"
for p in "${reg#*:}" "$gw_port"; do
  ! ss -ltn | grep -q ":$p " || { echo "port $p is taken (REG_PORT, GW_PORT pick others)" >&2; exit 1; }
done
rm -rf "$work" && mkdir -p "$work/ctx"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" minbase >&2
bench_buildah_conf "$work/buildah" "$reg"
bstore=(--root "$work/buildah/root" --runroot "$work/buildah/runroot" --storage-driver overlay)
bench_workload_heavy "$work/ctx" "$reg"
mkdir -p "$work/gctx" && cp "$work/ctx/app.bin" "$work/gctx/" && sed "s#FROM $reg/#FROM bench.test/#" "$work/ctx/Dockerfile" > "$work/gctx/Dockerfile"

secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b-a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# kiln_cli CMD TAG: seconds of one `kiln build` with a fresh cache dir
kiln_cli() {
  local cmd="$1" tag="$2" t0
  rm -rf "$work/kiln-cache"
  t0=$(now); $cmd build -c "$work/ctx" -d "$reg/bench/heavy:$tag" --insecure-registry "$reg" --cache-dir "$work/kiln-cache" \
    > "$work/kiln-$tag.log" 2>&1 || { tail -20 "$work/kiln-$tag.log" >&2; exit 1; }
  secs "$t0" "$(now)"
}

# gateway JAR TAG: seconds of one build submitted to a gateway started on an empty store (upload to the log's end)
gateway() {
  local jar="$1" tag="$2" t0 t1 id state gw_pid
  rm -rf "$work/store"
  java -Dkiln.builds.allow-network=true -jar "$jar" serve --port "$gw_port" --store "$work/store" \
    --upstream "bench.test=http://$reg" > "$work/gateway-$tag.log" 2>&1 &
  gw_pid=$!; pids+=("$gw_pid")
  wait_http "http://127.0.0.1:$gw_port/v2/"
  kill -0 "$gw_pid" || { tail -5 "$work/gateway-$tag.log" >&2; exit 1; }
  t0=$(now)
  id=$(tar -czf - -C "$work/gctx" . | curl -sf -X POST --data-binary @- -H 'Content-Type: application/gzip' \
    "http://127.0.0.1:$gw_port/api/v1/builds?destination=127.0.0.1:$gw_port/local/heavy:$tag" | jq -r .id)
  curl -sfN -H 'Accept: text/event-stream' "http://127.0.0.1:$gw_port/api/v1/builds/$id/log" > "$work/gateway-build-$tag.log"
  t1=$(now)
  state=$(curl -sf "http://127.0.0.1:$gw_port/api/v1/builds/$id" | jq -r .state)
  kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true
  [ "$state" = succeeded ] || { tail -20 "$work/gateway-build-$tag.log" >&2; exit 1; }
  secs "$t0" "$t1"
}

# buildah_cold TAG: seconds of bud + push after removing every image
buildah_cold() {
  local t0
  buildah "${bstore[@]}" rmi -a -f > /dev/null 2>&1 || true
  t0=$(now)
  buildah "${bstore[@]}" bud --isolation chroot --signature-policy "$work/buildah/policy.json" --tls-verify=false -q \
    --layers=false -t "bench-heavy:$1" "$work/ctx" > "$work/buildah-$1.log" 2>&1
  buildah "${bstore[@]}" push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q "bench-heavy:$1" \
    "docker://$reg/bench/heavy:$1" >> "$work/buildah-$1.log" 2>&1
  secs "$t0" "$(now)"
}

before="${BEFORE_APP:+$BEFORE_APP/quarkus-run.jar}"
if [ -n "$before" ]; then
  echo "| run | before: kiln build s | kiln build s | before: gateway s | kiln gateway s | buildah s | build / buildah | gateway / buildah | load average |"
  echo "|---|---|---|---|---|---|---|---|---|"
else
  echo "| run | kiln build s | kiln gateway s | buildah s | build / buildah | gateway / buildah | load average |"
  echo "|---|---|---|---|---|---|---|"
fi
for i in $(seq 1 "$runs"); do
  [ -n "$before" ] && kb=$(kiln_cli "java -jar $before" "before$i")
  k=$(kiln_cli "$kiln" "k$i")
  [ -n "$before" ] && gb=$(gateway "$before" "before$i")
  g=$(gateway "$jar" "g$i")
  b=$(buildah_cold "b$i")
  echo "| $i |${before:+ $kb |} $k |${before:+ $gb |} $g | $b | $(ratio "$k" "$b") | $(ratio "$g" "$b") | $(cut -d' ' -f1-3 /proc/loadavg) |"
done
