#!/usr/bin/env bash
# Issue 17: what the S3 store backend costs per request against the filesystem backend. Two
# `kiln serve` processes, one on a directory and one on a bucket of moto_server on this machine
# (moto is a Python S3 emulator, NOT S3: its latencies say little about S3's; the numbers compare
# the gateway's own work per backend). Per backend: HEAD of a blob, GET of a 1 MiB blob (from a
# second gateway on the bucket whose local cache is empty: streamed from the bucket; then again,
# served from the cache), PUT of a manifest. Medians over ROUNDS requests, sequential, with curl.
# Needs: curl, moto_server (pip), python3 with boto3, the packaged jar.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jar="$here/target/quarkus-app/quarkus-run.jar"
rounds="${ROUNDS:-200}"
work="${WORK:-/tmp/kiln-bench-s3}"
fs_port=5121 s3_port=5122 cold_port=5123 moto_port=5124
[ -f "$jar" ] || { echo "build the jar first: mvn -B -q package -DskipTests" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

moto_server -H 127.0.0.1 -p $moto_port > "$work/moto.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$moto_port/"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$moto_port').create_bucket(Bucket='bench')"

serve() { # port store log local-dir
  KILN_STORE_S3_LOCAL_DIR="$4" java -Xmx384m -jar "$jar" serve --port "$1" --store "$2" \
    --s3-endpoint "http://127.0.0.1:$moto_port" --s3-path-style > "$3" 2>&1 &
  pids+=($!)
}
serve $fs_port "$work/fs-store" "$work/fs.log" "$work/unused"
serve $s3_port s3://bench/kiln "$work/s3.log" "$work/s3-local"
wait_http "http://127.0.0.1:$fs_port/v2/"; wait_http "http://127.0.0.1:$s3_port/v2/"

head -c 1048576 /dev/urandom > "$work/blob"
blob="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"
printf '{}' > "$work/config"
config="sha256:$(sha256sum "$work/config" | cut -d' ' -f1)"
for port in $fs_port $s3_port; do
  for f in blob config; do
    d="sha256:$(sha256sum "$work/$f" | cut -d' ' -f1)"
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$work/$f" \
      "http://127.0.0.1:$port/v2/local/bench/blobs/uploads/?digest=$d"
  done
done
cat > "$work/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$blob","size":1048576}]}
JSON
# started after the pushes, so its cache is empty: its first GET streams from the bucket
serve $cold_port s3://bench/kiln "$work/cold.log" "$work/cold-local"
wait_http "http://127.0.0.1:$cold_port/v2/"

median() { sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f", m * 1000}'; }
measure() { # label curl-args...
  local label="$1"; shift
  for _ in $(seq 1 "$rounds"); do curl -s -o /dev/null -w '%{time_total}\n' "$@"; done | median
}
row() { # what fs-args s3-args
  printf '| %s | %s ms | %s ms |\n' "$1" "$(measure fs $2)" "$(measure s3 $3)"
}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $rounds sequential requests each, medians"
echo
echo "| request | filesystem | S3 (moto) |"
echo "| --- | --- | --- |"
row "HEAD blob" "-I http://127.0.0.1:$fs_port/v2/local/bench/blobs/$blob" "-I http://127.0.0.1:$s3_port/v2/local/bench/blobs/$blob"
cold_first=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$cold_port/v2/local/bench/blobs/$blob" | awk '{printf "%.2f", $1*1000}')
row "GET 1 MiB blob (S3: from the local cache)" "http://127.0.0.1:$fs_port/v2/local/bench/blobs/$blob" "http://127.0.0.1:$s3_port/v2/local/bench/blobs/$blob"
# streamed from the bucket every time: a gateway with a cache too small to keep it
kill "${pids[-1]}"; sleep 1
KILN_STORE_S3_CACHE_SIZE=0 serve $cold_port s3://bench/kiln "$work/cold2.log" "$work/cold2-local"
wait_http "http://127.0.0.1:$cold_port/v2/"
printf '| GET 1 MiB blob (S3: streamed from the bucket, no cache) | – | %s ms (first cold GET: %s ms) |\n' \
  "$(ROUNDS=$rounds measure s3 "http://127.0.0.1:$cold_port/v2/local/bench/blobs/$blob")" "$cold_first"
row "PUT manifest" "-X PUT -H Content-Type:application/vnd.oci.image.manifest.v1+json --data-binary @$work/manifest http://127.0.0.1:$fs_port/v2/local/bench/manifests/v1" \
  "-X PUT -H Content-Type:application/vnd.oci.image.manifest.v1+json --data-binary @$work/manifest http://127.0.0.1:$s3_port/v2/local/bench/manifests/v1"
