#!/usr/bin/env bash
# Issue 12's gateway benchmark. (1) How many slow request bodies (uploads trickling one byte per
# connection every 2 s) the gateway holds while GET /v2/ and a tags list still answer within 1 s.
# (2) p99 of an authenticated pull (GET manifest + small blob) while 100 wrong-password requests a
# second hit the same user. Kiln against Debian's docker-registry (distribution 2.8) under the same
# load. Prints JSON lines; docs/benchmarks.md has the numbers. Needs: curl, docker-registry,
# htpasswd (apache2-utils), python3, the jar (JAR=… to measure another build of Kiln).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jar="${JAR:-$here/target/quarkus-app/quarkus-run.jar}"
work="${WORK:-/tmp/kiln-bench-hostile}"
slow_counts="${SLOW_COUNTS:-500 1000 2000 4000}"
probe_seconds="${PROBE_SECONDS:-10}"
flood_seconds="${FLOOD_SECONDS:-30}"
rate="${RATE:-100}"
peers="${PEERS:-kiln registry}"
kiln_port=5201 registry_port=5202
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" # each slow connection is a descriptor on both sides

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"
htpasswd -nbB -C 10 alice alice-pw > "$work/htpasswd"
auth="alice:alice-pw"

wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

start_kiln() { # $1: extra -D options
  java -Xmx512m $1 -Dkiln.limits.max-open-uploads=100000 -Dkiln.limits.max-open-uploads-per-client=100000 \
    -jar "$jar" serve --port $kiln_port --store "$work/kiln-store-$RANDOM" > "$work/kiln.log" 2>&1 &
  pids+=($!); wait_http "http://127.0.0.1:$kiln_port/v2/"
}
start_registry() { # $1: auth or none
  rm -rf "$work/registry"; mkdir -p "$work/registry"
  local authcfg=""
  [ "$1" = auth ] && authcfg="auth: {htpasswd: {realm: bench, path: $work/htpasswd}}"
  cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$registry_port}
$authcfg
YML
  docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
  pids+=($!); wait_http "http://127.0.0.1:$registry_port/v2/"
}
stop_all() { cleanup; wait 2>/dev/null || true; pids=(); sleep 1; }

# pushes a small image (config + one 4 KiB layer) as local/bench:1; prints the layer's digest
push_image() { # $1 port
  local base="http://127.0.0.1:$1/v2/local/bench"
  head -c 4096 /dev/urandom > "$work/layer"
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$work/config"
  for f in config layer; do
    local d="sha256:$(sha256sum "$work/$f" | cut -d' ' -f1)"
    local loc; loc=$(curl -s -u "$auth" -X POST -D - -o /dev/null "$base/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
    case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
    case "$loc" in *\?*) sep='&';; *) sep='?';; esac
    curl -sf -u "$auth" -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$work/$f" "$loc${sep}digest=$d" -o /dev/null
  done
  local cd ld
  cd="sha256:$(sha256sum "$work/config" | cut -d' ' -f1)"; ld="sha256:$(sha256sum "$work/layer" | cut -d' ' -f1)"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":4096}]}' \
    "$cd" "$(stat -c %s "$work/config")" "$ld" > "$work/manifest"
  curl -sf -u "$auth" -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/manifest" "$base/manifests/1" -o /dev/null
  echo "$ld"
}

echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) cores: $(nproc)"
for peer in $peers; do
  echo "## slow bodies: $peer"
  for n in $slow_counts; do
    if [ "$peer" = kiln ]; then start_kiln ""; port=$kiln_port; else start_registry none; port=$registry_port; fi
    digest=$(push_image $port)
    python3 "$here/bench/hostile_load.py" slow $port local/bench "$n" "$probe_seconds" "$digest" | sed "s/^/{\"peer\":\"$peer\",/; s/,{/,/"
    stop_all
  done
done
[ "${SLOW_ONLY:-}" = 1 ] && peers_flood="" || peers_flood="$peers"
for peer in $peers_flood; do
  for limit in on off; do
    [ "$peer" = registry ] && [ "$limit" = on ] && continue # distribution has no failure limit
    echo "## wrong-password flood: $peer (failure limit $limit)"
    if [ "$peer" = kiln ]; then
      opts="-Dkiln.htpasswd=$work/htpasswd"; [ "$limit" = off ] && opts="$opts -Dkiln.auth.max-failures=100000000"
      start_kiln "$opts"; port=$kiln_port
    else start_registry auth; port=$registry_port; fi
    digest=$(push_image $port)
    python3 "$here/bench/hostile_load.py" flood $port local/bench "$digest" alice alice-pw "$rate" "$flood_seconds" \
      | sed "s/^/{\"peer\":\"$peer\",\"limit\":\"$limit\",/; s/,{/,/"
    stop_all
  done
done
echo "# done $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
