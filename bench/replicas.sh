#!/usr/bin/env bash
# Issue 17: Kiln replicas on one bucket (moto_server on this machine: NOT S3, an emulator) in
# front of one upstream behind a WAN-like link (bench/throttle-proxy.py). Per run and topology
# (1 replica, 3 replicas routing misses to the digest's owner with --peer): CLIENTS concurrent cold
# pulls (skopeo copy … dir:, which verifies digests) spread over the replicas, the bytes the
# upstream sent for them, then WARM_ROUNDS rounds of CLIENTS concurrent warm pulls (throughput, and
# how many blob GETs reached the bucket: what the replicas' hot-blob caches did not serve).
# JAR=… runs another build of Kiln (e.g. one without a change, to compare).
# All processes share this machine's cores: replicas cannot add CPU here, only show their cost.
# Concurrent warm pulls of one blob make moto fail (a mirror hit "touches" the object by copying it
# onto itself, and moto breaks the reads in flight with a 500); failed pulls are counted, not hidden.
# Needs: skopeo, docker-registry, moto_server, python3 with boto3, the packaged jar.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
jar="${JAR:-$here/target/quarkus-app/quarkus-run.jar}"
work="${WORK:-/tmp/kiln-bench-replicas}"
runs="${RUNS:-3}" clients="${CLIENTS:-6}" warm_rounds="${WARM_ROUNDS:-2}"
layers="${LAYERS:-4}" mib="${MIB:-10}"
latency_ms="${LATENCY_MS:-25}" rate_mbit="${RATE_MBIT:-400}"
up_port=5301 link_port=5302 moto_port=5303 ports=(5311 5312 5313)
[ -f "$jar" ] || { echo "build the jar first: mvn -B -q package -DskipTests" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work"

"$here/bench/make-image.sh" "$work/image" "$layers" "$mib"
"$here/bench/make-image.sh" "$work/warmup" 1 1
image_bytes=$(du -sb "$work/image/blobs" | cut -f1)

bench_registry "$work" "127.0.0.1:$up_port" upstream
python3 "$here/bench/throttle-proxy.py" --listen $link_port --target $up_port --latency-ms "$latency_ms" --rate-mbit "$rate_mbit" --stats "$work/link.stats" & link_pid=$!; pids+=($link_pid)
moto_server -H 127.0.0.1 -p $moto_port > "$work/moto.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$link_port/v2/" any; wait_http "http://127.0.0.1:$moto_port/" any
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 KILN_CLUSTER_PEER_TOKEN=bench-peer-token
python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$moto_port').create_bucket(Bucket='bench')"
for image in image warmup; do
  skopeo copy -q --dest-tls-verify=false "oci:$work/$image:1" "docker://127.0.0.1:$up_port/bench/$image:1"
done
link_bytes() { kill -USR1 $link_pid; sleep 0.2; cat "$work/link.stats"; }

kiln_pids=()
start_replicas() { # count prefix
  local n=$1 prefix=$2 peers=() i
  if [ "$n" -gt 1 ]; then for i in $(seq 0 $((n - 1))); do peers+=(--peer "http://127.0.0.1:${ports[$i]}"); done; fi
  kiln_pids=()
  for i in $(seq 0 $((n - 1))); do
    KILN_STORE_S3_LOCAL_DIR="$work/local-$prefix-$i" java -Xmx384m -jar "$jar" serve --port "${ports[$i]}" --store "s3://bench/$prefix" \
      --s3-endpoint "http://127.0.0.1:$moto_port" --s3-path-style --upstream "up=http://127.0.0.1:$link_port" "${peers[@]}" \
      > "$work/kiln-$prefix-$i.log" 2>&1 &
    kiln_pids+=($!); pids+=($!)
  done
  for i in $(seq 0 $((n - 1))); do
    wait_http "http://127.0.0.1:${ports[$i]}/v2/" any
    # a gateway runs for days: measure a cold cache, not a cold JIT
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:${ports[$i]}/up/bench/warmup:1" "dir:$work/warm"; rm -rf "$work/warm"
  done
}
stop_replicas() { kill "${kiln_pids[@]}"; wait "${kiln_pids[@]}" 2>/dev/null || true; }
pulls() { # replicas: CLIENTS concurrent pulls spread over them; prints wall seconds
  local n=$1 t ps=() i
  t=$(now)
  for i in $(seq 1 "$clients"); do
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:${ports[$(( (i - 1) % n ))]}/up/bench/image:1" "dir:$work/out-$i" & ps+=($!)
  done
  local failed=0 p
  for p in "${ps[@]}"; do wait "$p" || failed=$((failed + 1)); done
  rm -rf "$work"/out-*
  echo "$failed" >> "$work/failed-pulls"
  since "$t"
}

# blob GETs moto answered since line $1 of its log: what the warm pulls read from the bucket
bucket_blob_gets() { tail -n +"$(( $1 + 1 ))" "$work/moto.log" | grep -c '"GET /bench/[^ ]*/blobs/' || true; }

declare -A cold warm fetched bucket
for n in 1 3; do
  c=() w=() f=() b=()
  for r in $(seq 1 "$runs"); do
    start_replicas "$n" "run-$n-$r"
    before=$(link_bytes)
    c+=("$(pulls "$n")")
    f+=("$(( $(link_bytes) - before ))")
    t=$(now) moto_lines=$(wc -l < "$work/moto.log")
    for _ in $(seq 1 "$warm_rounds"); do pulls "$n" > /dev/null; done
    b+=("$(bucket_blob_gets "$moto_lines")")
    w+=("$(python3 -c "import sys; print(f'{$clients*$warm_rounds*$image_bytes/1048576/float(sys.argv[1]):.1f}')" "$(since "$t")")")
    stop_replicas
  done
  echo "replicas=$n cold s: ${c[*]} | upstream bytes: ${f[*]} | warm MiB/s: ${w[*]} | warm blob GETs from the bucket: ${b[*]}" >&2
  bucket[$n]=$(printf '%s\n' "${b[@]}" | median)
  cold[$n]=$(printf '%s\n' "${c[@]}" | median)
  warm[$n]=$(printf '%s\n' "${w[@]}" | median)
  fetched[$n]=$(printf '%s\n' "${f[@]}" | median)
done

echo "### $clients concurrent pulls of a $layers-layer image ($image_bytes bytes of blobs), median of $runs"
echo
echo "| replicas | cold: wall s | cold: upstream bytes (× image) | warm: MiB/s served | warm: blob GETs from the bucket |"
echo "|---|---:|---:|---:|---:|"
for n in 1 3; do
  awk -v n="$n" -v c="${cold[$n]}" -v f="${fetched[$n]}" -v s="$image_bytes" -v w="${warm[$n]}" -v b="${bucket[$n]}" \
    'BEGIN {printf "| %d | %.2f | %.0f (%.2f) | %.1f | %d |\n", n, c, f, f/s, w, b}'
done
echo
echo "failed pulls: $(awk '{s+=$1} END {print s+0}' "$work/failed-pulls")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
