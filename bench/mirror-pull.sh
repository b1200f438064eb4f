#!/usr/bin/env bash
# Issue 3's benchmark: pulls (skopeo copy … dir:) of a ~30 MB and a ~200 MB image from an upstream
# behind a WAN-like link (bench/throttle-proxy.py: latency and a bandwidth cap), directly, through
# Kiln cold and warm, and through Debian's docker-registry in proxy mode cold and warm; then the
# upstream bytes for 20 concurrent cold pulls through each mirror. Prints a markdown report.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-mirror}"
runs="${RUNS:-3}"
latency_ms="${LATENCY_MS:-25}" rate_mbit="${RATE_MBIT:-400}"
up_port=5201 link_port=5202 kiln_port=5203 proxy_port=5204
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)

rm -rf "$work" && mkdir -p "$work"

"$here/bench/make-image.sh" "$work/small" 3 10
"$here/bench/make-image.sh" "$work/large" 4 50
"$here/bench/make-image.sh" "$work/warmup" 1 1

bench_registry "$work" "127.0.0.1:$up_port" upstream
python3 "$here/bench/throttle-proxy.py" --listen $link_port --target $up_port --latency-ms "$latency_ms" --rate-mbit "$rate_mbit" --stats "$work/link.stats" & link_pid=$!; pids+=($link_pid)
wait_http "http://127.0.0.1:$link_port/v2/"
for image in small large warmup; do
  skopeo copy -q --dest-tls-verify=false "oci:$work/$image:1" "docker://127.0.0.1:$up_port/bench/$image:1"
done
link_bytes() { kill -USR1 $link_pid; sleep 0.2; cat "$work/link.stats"; }

start_kiln() {
  rm -rf "$work/kiln-store"
  java -jar "$jar" serve --port $kiln_port --store "$work/kiln-store" --upstream "up=http://127.0.0.1:$link_port" > "$work/kiln.log" 2>&1 &
  kiln_pid=$!; wait_http "http://127.0.0.1:$kiln_port/v2/"
  # A gateway runs for days: measure a cold cache, not a cold JIT.
  skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$kiln_port/up/bench/warmup:1" "dir:$work/warm"; rm -rf "$work/warm"
}
stop_kiln() { kill $kiln_pid; wait $kiln_pid 2>/dev/null || true; }
start_proxy() {
  rm -rf "$work/proxy-store"
  cat > "$work/proxy.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/proxy-store}}
http: {addr: 127.0.0.1:$proxy_port}
proxy: {remoteurl: "http://127.0.0.1:$link_port"}
YML
  docker-registry serve "$work/proxy.yml" > "$work/proxy.log" 2>&1 & proxy_pid=$!
  wait_http "http://127.0.0.1:$proxy_port/v2/"
  skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$proxy_port/bench/warmup:1" "dir:$work/warm"; rm -rf "$work/warm"
}
stop_proxy() { kill $proxy_pid; wait $proxy_pid 2>/dev/null || true; }
pull() { rm -rf "$work/out"; local t; t=$(now); skopeo copy -q --src-tls-verify=false "docker://$1" "dir:$work/out"; since "$t"; }

declare -A r
for image in small large; do
  direct=() kcold=() kwarm=() pcold=() pwarm=()
  for i in $(seq 1 "$runs"); do
    direct+=("$(pull "127.0.0.1:$link_port/bench/$image:1")")
    start_kiln
    kcold+=("$(pull "127.0.0.1:$kiln_port/up/bench/$image:1")")
    kwarm+=("$(pull "127.0.0.1:$kiln_port/up/bench/$image:1")")
    stop_kiln
    start_proxy
    pcold+=("$(pull "127.0.0.1:$proxy_port/bench/$image:1")")
    pwarm+=("$(pull "127.0.0.1:$proxy_port/bench/$image:1")")
    stop_proxy
  done
  echo "$image direct ${direct[*]} | kiln cold ${kcold[*]} warm ${kwarm[*]} | distribution cold ${pcold[*]} warm ${pwarm[*]}" >&2
  r[$image,direct]=$(printf '%s\n' "${direct[@]}" | median)
  r[$image,kcold]=$(printf '%s\n' "${kcold[@]}" | median)
  r[$image,kwarm]=$(printf '%s\n' "${kwarm[@]}" | median)
  r[$image,pcold]=$(printf '%s\n' "${pcold[@]}" | median)
  r[$image,pwarm]=$(printf '%s\n' "${pwarm[@]}" | median)
done

concurrent() {  # $1 = registry host:port/name, prints the upstream bytes relayed for 20 parallel cold pulls
  local before after ps=()
  before=$(link_bytes)
  for i in $(seq 1 20); do skopeo copy -q --src-tls-verify=false "docker://$1" "dir:$work/c$i" & ps+=($!); done
  wait "${ps[@]}"
  after=$(link_bytes)
  rm -rf "$work"/c*
  echo $((after - before))
}
start_kiln; kiln_bytes=$(concurrent "127.0.0.1:$kiln_port/up/bench/large:1"); stop_kiln
start_proxy; proxy_bytes=$(concurrent "127.0.0.1:$proxy_port/bench/large:1"); stop_proxy
large_bytes=$(du -sb "$work/large/blobs" | cut -f1)

echo "### Pull through a mirror, upstream behind ${latency_ms} ms latency and ${rate_mbit} Mbit/s, median of $runs (seconds)"
echo
echo "| image | direct | Kiln cold | Kiln warm | distribution proxy cold | distribution proxy warm | Kiln cold / direct | Kiln warm / direct |"
echo "|---|---|---|---|---|---|---|---|"
for image in small large; do
  awk -v i="$image" -v d="${r[$image,direct]}" -v kc="${r[$image,kcold]}" -v kw="${r[$image,kwarm]}" -v pc="${r[$image,pcold]}" -v pw="${r[$image,pwarm]}" \
    'BEGIN {printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", i, d, kc, kw, pc, pw, kc/d, kw/d}'
done
echo
echo "### 20 concurrent cold pulls of the large image ($large_bytes bytes of blobs)"
echo
echo "| mirror | bytes fetched from upstream | × image size |"
echo "|---|---|---|"
awk -v k="$kiln_bytes" -v p="$proxy_bytes" -v s="$large_bytes" 'BEGIN {
  printf "| Kiln | %.0f | %.2f |\n| distribution proxy | %.0f | %.2f |\n", k, k/s, p, p/s }'
