#!/usr/bin/env bash
# Issue 2's benchmark: a 1 GiB blob downloaded by 8 parallel clients from Kiln (Vert.x sendFile on
# /v2/, and quarkus-rest returning a Path), from Debian's docker-registry (distribution 2.8) holding the
# same blob, and from nginx serving the file statically; plus Kiln's upload throughput (monolithic and
# chunked) and its peak RSS. Prints a markdown report. Needs: curl, docker-registry, nginx, the jar.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jar="$here/target/quarkus-app/quarkus-run.jar"
size_mib="${SIZE_MIB:-1024}"
clients="${CLIENTS:-8}"
rounds="${ROUNDS:-5}"
work="${WORK:-/tmp/kiln-bench-download}"
kiln_port=5101 registry_port=5102 nginx_port=5103
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"/{kiln,registry,nginx/www,nginx/tmp}

head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/nginx/www/blob"
blob="$work/nginx/www/blob"
digest="sha256:$(sha256sum "$blob" | cut -d' ' -f1)"

wait_http() { for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

java ${KILN_JAVA_OPTS:--Xmx512m} -Dkiln.bench.rest-endpoint=true -jar "$jar" serve --port $kiln_port --store "$work/kiln" > "$work/kiln.log" 2>&1 &
kiln_pid=$!; pids+=($kiln_pid)
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$registry_port}
YML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
pids+=($!)
cat > "$work/nginx.conf" <<NGX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp; fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server { listen 127.0.0.1:$nginx_port; root $work/nginx/www; }
}
NGX
nginx -c "$work/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
pids+=($!)
wait_http "http://127.0.0.1:$kiln_port/v2/"; wait_http "http://127.0.0.1:$registry_port/v2/"; wait_http "http://127.0.0.1:$nginx_port/blob"

rss_kib() { awk '/VmRSS/ {print $2}' /proc/$kiln_pid/status; }
hwm_kib() { awk '/VmHWM/ {print $2}' /proc/$kiln_pid/status; }
seconds() { python3 -c "import sys; print(f'{float(sys.argv[1]):.3f}')" "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Uploads into Kiln: monolithic POST ?digest=, then a chunked POST/PATCH…/PUT session with 64 MiB chunks.
upload_mono=$( { /usr/bin/time -f %e curl -sf -X POST -H 'Content-Type: application/octet-stream' -T "$blob" \
  "http://127.0.0.1:$kiln_port/v2/local/bench/blobs/uploads?digest=$digest" -o /dev/null; } 2>&1 )
curl -sf -X DELETE "http://127.0.0.1:$kiln_port/v2/local/bench/blobs/$digest" >/dev/null
chunk=$((64 * 1024 * 1024))
split -b $chunk -d -a 4 "$blob" "$work/chunk."
start=$(date +%s.%N)
location=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:$kiln_port/v2/local/chunked/blobs/uploads/" | awk -F': ' 'tolower($1)=="location" {print $2}' | tr -d '\r')
offset=0
for part in "$work"/chunk.*; do
  n=$(stat -c %s "$part")
  location=$(curl -sf -X PATCH -H 'Content-Type: application/octet-stream' -H "Content-Range: $offset-$((offset + n - 1))" \
    -T "$part" -D - -o /dev/null "http://127.0.0.1:$kiln_port$location" | awk -F': ' 'tolower($1)=="location" {print $2}' | tr -d '\r')
  offset=$((offset + n))
done
curl -sf -X PUT -o /dev/null "http://127.0.0.1:$kiln_port$location?digest=$digest"
upload_chunked=$(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$start")
rm -f "$work"/chunk.*

# The same blob into distribution (its monolithic POST+PUT).
loc=$(curl -sf -X POST -D - -o /dev/null "http://127.0.0.1:$registry_port/v2/bench/blob/blobs/uploads/" | awk -F': ' 'tolower($1)=="location" {print $2}' | tr -d '\r')
case "$loc" in http*) ;; *) loc="http://127.0.0.1:$registry_port$loc";; esac
sep='?'; [[ "$loc" == *\?* ]] && sep='&'
curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$blob" -o /dev/null "$loc${sep}digest=$digest"

declare -A urls=(
  [kiln-vertx]="http://127.0.0.1:$kiln_port/v2/local/bench/blobs/$digest"
  [kiln-rest]="http://127.0.0.1:$kiln_port/bench/rest-blobs/$digest"
  [distribution]="http://127.0.0.1:$registry_port/v2/bench/blob/blobs/$digest"
  [nginx]="http://127.0.0.1:$nginx_port/blob"
)
# kiln-vertx needs the blob linked to local/bench again.
curl -sf -X POST -o /dev/null "http://127.0.0.1:$kiln_port/v2/local/bench/blobs/uploads/?mount=$digest&from=local/chunked"

max_rss=0
declare -A result
for target in nginx distribution kiln-vertx kiln-rest; do
  url="${urls[$target]}"
  curl -sf -o /dev/null "$url"   # warm up
  rates=()
  for r in $(seq 1 "$rounds"); do
    start=$(date +%s.%N)
    client_pids=()
    for c in $(seq 1 "$clients"); do curl -sf -o /dev/null "$url" & client_pids+=($!); done
    while kill -0 "${client_pids[@]}" 2>/dev/null; do
      rss=$(rss_kib); [ "$rss" -gt "$max_rss" ] && max_rss=$rss
      sleep 0.05
    done
    wait "${client_pids[@]}"
    rates+=("$(python3 -c "import time,sys; print(f'{int(sys.argv[1])*int(sys.argv[2])/(time.time()-float(sys.argv[3])):.0f}')" "$size_mib" "$clients" "$start")")
  done
  result[$target]=$(printf '%s\n' "${rates[@]}" | median)
  echo "$target: ${rates[*]} MiB/s (median ${result[$target]})" >&2
done

echo "### Blob download, $size_mib MiB × $clients parallel clients, median of $rounds rounds"
echo
echo "| server | aggregate MiB/s | vs nginx | vs distribution |"
echo "|---|---|---|---|"
for target in nginx distribution kiln-vertx kiln-rest; do
  awk -v t="$target" -v v="${result[$target]}" -v n="${result[nginx]}" -v d="${result[distribution]}" \
    'BEGIN {printf "| %s | %d | %.2f | %.2f |\n", t, v, v/n, v/d}'
done
echo
echo "Kiln peak RSS during the downloads: $((max_rss / 1024)) MiB sampled, VmHWM over the whole run $(( $(hwm_kib) / 1024 )) MiB (heap -Xmx512m)."
echo
echo "### Upload into Kiln, $size_mib MiB"
echo
echo "| upload | seconds | MiB/s |"
echo "|---|---|---|"
awk -v s="$upload_mono" -v m="$size_mib" 'BEGIN {printf "| monolithic POST ?digest= | %.2f | %.0f |\n", s, m/s}'
awk -v s="$upload_chunked" -v m="$size_mib" 'BEGIN {printf "| chunked, 64 MiB PATCHes + PUT | %.2f | %.0f |\n", s, m/s}'
