#!/usr/bin/env bash
# Builder benchmarks (issues 4 and 5): kiln build vs buildah bud --isolation chroot (overlay driver),
# both building and pushing to the same local docker-registry, median of RUNS (default 5).
# (WORKLOADS="small fs10000" picks some; RUNS=1 for a smoke run)
#   bench/build-vs-buildah.sh cold    small, heavy and kaniko's benchmark_fs shape (10k/50k/100k files), no caches
#   bench/build-vs-buildah.sh cache   small and heavy: cold, fully cached rebuild, rebuild after changing the last
#                                     COPY source; kiln build --cache (cache repo on the registry), the same build
#                                     submitted to a running gateway (curl, cache=true, pushed into the gateway,
#                                     bases mirrored from the registry) and buildah bud --layers; bytes uploaded.
#                                     The cached phase also submits once more in one request (the POST's answer is
#                                     the log: gateway_build_one), in the same run, its own column
# Base images come from scripts/make-base-images (busybox-static and a debootstrap minbase, cached).
# Prints a markdown table; wall time and peak RSS from GNU time (buildah: max of bud and push).
# `kiln build` is run the way a user runs it: the checkout's launcher ./kiln (Java 25 with its AOT cache
# where a JDK 25 is found, else Java 17 with CDS; warmed once before the first timing, so the training run
# is not counted); KILN_CMD=jar runs `java -jar quarkus-run.jar` instead. In cache mode each run of a
# workload starts from an empty --cache-dir and empty buildah storage (its cold phase is cold), and both
# keep them across that run's phases: kiln its one --cache-dir (blobs and layer store), buildah its storage.
# GATEWAY_JAVA_OPTS goes to the gateway's JVM (e.g. a JFR recording).
set -euo pipefail
mode="${1:-cold}"
source "$(dirname "$0")/lib.sh"
jar="$here/target/quarkus-app/quarkus-run.jar"
work="${WORK:-/tmp/kiln-bench-build}"
runs="${RUNS:-5}"
reg_port=5301
[ -f "$jar" ] || (cd "$here" && mvn -B -q package -DskipTests)

rm -rf "$work" && mkdir -p "$work"

reg="127.0.0.1:$reg_port"
bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" >&2

# buildah: its own storage (overlay), a registries.conf that lets it use the local registry over HTTP
bench_buildah_conf "$work/buildah" "$reg"
bstore="--root $work/buildah/root --runroot $work/buildah/runroot --storage-driver overlay"

ctx="$work/ctx"
write_workloads() {
  mkdir -p "$ctx/small" "$ctx/heavy"
  for n in 10000 50000 100000; do mkdir -p "$ctx/fs$n"; done
  bench_workload_small "$ctx/small" "$reg"
  bench_workload_heavy "$ctx/heavy" "$reg"
  for n in 10000 50000 100000; do
    cat > "$ctx/fs$n/Dockerfile" <<DF
FROM $reg/busybox:latest
RUN mkdir -p /fs && cd /fs && for d in \$(seq 1 $((n / 1000))); do mkdir d\$d; for f in \$(seq 1 1000); do echo \$f > d\$d/f\$f; done; done
DF
  done
}
write_workloads

# time_cmd OUT CMD…: appends "seconds maxrss_kib" of CMD to OUT
# (through bash -c so the exported functions below can be timed; GNU time's peak RSS covers the process tree)
time_cmd() { local out="$1"; shift; /usr/bin/time -f "%e %M" -a -o "$out" bash -c '"$@"' _ "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; }

kiln_build() { # workload tag extra-args…
  local w="$1" tag="$2"; shift 2
  if [ "${KILN_CMD:-launcher}" = jar ]; then
    java -jar "$jar" build -c "$ctx/$w" -d "$reg/bench/$w:$tag" --insecure-registry "$reg" "$@"
  else
    "$here/kiln" build -c "$ctx/$w" -d "$reg/bench/$w:$tag" --insecure-registry "$reg" "$@"
  fi
}
buildah_build() { # workload tag extra-args…
  local w="$1" tag="$2"; shift 2
  buildah $bstore bud --isolation chroot --signature-policy "$work/buildah/policy.json" --tls-verify=false -q "$@" -t "bench-$w:$tag" "$ctx/$w"
}
buildah_push() {
  buildah $bstore push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q "bench-$1:$2" "docker://$reg/bench/$1:buildah-$2"
}
buildah_reset() { buildah $bstore rmi -a -f > /dev/null 2>&1 || true; }

# one_run FILE TOOL WORKLOAD TAG [args]: one timed build+push into FILE ("secs rss" per line, buildah summed)
one_run() {
  local file="$1" tool="$2" w="$3" tag="$4"; shift 4
  if [ "$tool" = kiln ]; then
    time_cmd "$work/t" kiln_build "$w" "$tag" "$@"
    cp "$work/last.log" "$work/kiln-$w-$tag.log"
    tail -1 "$work/t" >> "$file"
  else
    : > "$work/b"; time_cmd "$work/b" buildah_build "$w" "$tag" "$@"; time_cmd "$work/b" buildah_push "$w" "$tag"
    awk '{s+=$1; if ($2>m) m=$2} END {print s, m}' "$work/b" >> "$file"
  fi
  rm -f "$work/t"
}
export -f kiln_build buildah_build buildah_push
export jar reg ctx work bstore here
# the launcher's first run after a build of the jar trains its AOT cache (or CDS archive): not a build's time
[ "${KILN_CMD:-launcher}" = jar ] || "$here/kiln" --version > /dev/null
summary() { # file -> "median_s median_rss_mib"
  local s m; s=$(awk '{print $1}' "$1" | median); m=$(awk '{print $2}' "$1" | median)
  echo "$s $(awk -v k="$m" 'BEGIN {printf "%.0f", k/1024}')"
}

gw_port=5303 gw="127.0.0.1:5303"
start_gateway() {
  # the heavy Dockerfile runs apt-get: RUN gets the network through the egress proxy, as an operator allows it
  # shellcheck disable=SC2086
  # as users start it (./kiln serve: its heap caps and collector), unless KILN_CMD=jar
  local serve=("$here/kiln")
  [ "${KILN_CMD:-launcher}" = jar ] && serve=(java -jar "$jar")
  KILN_JAVA_OPTS="${GATEWAY_JAVA_OPTS:-} -Dkiln.builds.allow-network=true" "${serve[@]}" serve --port "$gw_port" --store "$work/store" \
    --upstream "bench.test=http://$reg" > "$work/kiln.log" 2>&1 &
  pids+=($!)
  wait_http "http://$gw/v2/"
}
# gateway_build WORKLOAD REPO FILE: one build submitted to the gateway, as a client sees it (upload to the end of
# the log followed as server-sent events); appends "seconds 0" to FILE and prints the report's bytes uploaded.
# The context goes up as a plain tar (GATEWAY_CONTEXT=gzip: tar.gz): on a local network gzip only costs the client
# (0.03-0.06 s for the heavy workload's 1 MB of random bytes), and the gateway takes tar, tar.gz and tar.zst alike.
# gateway_context WORKLOAD: the context in WORK/gctx, its bases read through the gateway's mirror; sets the caller's
# pack (the command that writes it to standard output) and type (its Content-Type)
gateway_context() {
  rm -rf "$work/gctx" && cp -a "$ctx/$1" "$work/gctx" && sed -i "s#FROM $reg/#FROM bench.test/#" "$work/gctx/Dockerfile"
  pack=(tar -cf -) type=application/x-tar
  [ "${GATEWAY_CONTEXT:-tar}" = gzip ] && pack=(tar -czf -) type=application/gzip
  return 0
}
gateway_build() {
  local w="$1" repo="$2" file="$3" t0 t1 id record pack type
  gateway_context "$w"
  t0=$(date +%s.%N)
  id=$("${pack[@]}" -C "$work/gctx" . | curl -sf -X POST --data-binary @- -H "Content-Type: $type" \
    "http://$gw/api/v1/builds?cache=true&destination=$gw/$repo:latest" | jq -r .id)
  curl -sfN -H 'Accept: text/event-stream' "http://$gw/api/v1/builds/$id/log" > "$work/gateway-$id.log"
  t1=$(date +%s.%N)
  record=$(curl -sf "http://$gw/api/v1/builds/$id")
  [ "$(jq -r .state <<< "$record")" = succeeded ] || { echo "build $id: $(jq -r .error <<< "$record")" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f 0\n", b-a}' >> "$file"
  jq -r .report.bytesUploaded <<< "$record"
}

# gateway_build_one WORKLOAD REPO FILE: the same as gateway_build in one request: the POST asks for
# text/event-stream and its answer is the build's log to the end event (no jq, no second curl); the record is
# read afterwards, untimed.
gateway_build_one() {
  local w="$1" repo="$2" file="$3" t0 t1 pack type
  gateway_context "$w"
  t0=$(date +%s.%N)
  "${pack[@]}" -C "$work/gctx" . | curl -sfN -X POST --data-binary @- -H "Content-Type: $type" -H 'Accept: text/event-stream' \
    "http://$gw/api/v1/builds?cache=true&destination=$gw/$repo:latest" > "$work/gateway-one.log"
  t1=$(date +%s.%N)
  grep -q '^data: {"id":"[0-9a-f]*","state":"succeeded"' "$work/gateway-one.log" || { cat "$work/gateway-one.log" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f 0\n", b-a}' >> "$file"
}

if [ "$mode" = cold ]; then
  echo "| workload | kiln s | buildah s | kiln / buildah | kiln peak RSS MiB | buildah peak RSS MiB |"
  echo "|---|---|---|---|---|---|"
  for w in ${WORKLOADS:-small heavy fs10000 fs50000 fs100000}; do
    : > "$work/$w.kiln"; : > "$work/$w.buildah"
    for i in $(seq 1 "$runs"); do
      rm -rf "$work/kiln-cache"
      one_run "$work/$w.kiln" kiln "$w" "c$i" --cache-dir "$work/kiln-cache"
      buildah_reset
      one_run "$work/$w.buildah" buildah "$w" "c$i" --layers=false
    done
    read -r ks km < <(summary "$work/$w.kiln"); read -r bs bm < <(summary "$work/$w.buildah")
    echo "| $w | $ks | $bs | $(awk -v a="$ks" -v b="$bs" 'BEGIN {printf "%.2f", a/b}') | $km | $bm |"
    echo "$w kiln: $(tr '\n' ';' < "$work/$w.kiln") buildah: $(tr '\n' ';' < "$work/$w.buildah")" >&2
  done
elif [ "$mode" = cache ]; then
  start_gateway
  echo "| workload | phase | kiln build s | kiln gateway s | gateway, one request s | buildah --layers s | build / buildah | gateway / buildah | one request / buildah | bytes uploaded: build, gateway |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for w in ${WORKLOADS:-small heavy}; do
    last_copy=$( [ "$w" = small ] && echo a.txt || echo app.bin )
    for phase in cold cached changed; do
      for t in kiln gateway gateway1 buildah kbytes gbytes; do : > "$work/$w.$phase.$t"; done
    done
    for i in $(seq 1 "$runs"); do
      cp "$ctx/$w/$last_copy" "$work/$last_copy.orig"
      rm -rf "$work/kiln-cache"; buildah_reset
      # a new cache repository per run, so each run's cold build starts with an empty layer cache
      kargs=(--cache --cache-repo "$reg/bench-cache/$w-$i" --cache-dir "$work/kiln-cache")
      for phase in cold cached changed; do
        [ "$phase" = changed ] && echo "changed $i $RANDOM" >> "$ctx/$w/$last_copy"
        one_run "$work/$w.$phase.kiln" kiln "$w" "$phase$i" "${kargs[@]}"
        grep -o 'uploaded [0-9]* bytes' "$work/kiln-$w-$phase$i.log" | awk '{s+=$2} END {print s+0}' >> "$work/$w.$phase.kbytes"
        gateway_build "$w" "local/bench-$w-$i" "$work/$w.$phase.gateway" >> "$work/$w.$phase.gbytes"
        [ "$phase" = cached ] && gateway_build_one "$w" "local/bench-$w-$i" "$work/$w.$phase.gateway1"
        one_run "$work/$w.$phase.buildah" buildah "$w" "$phase$i" --layers
      done
      cp "$work/$last_copy.orig" "$ctx/$w/$last_copy"
    done
    for phase in cold cached changed; do
      read -r ks _ < <(summary "$work/$w.$phase.kiln"); read -r gs _ < <(summary "$work/$w.$phase.gateway")
      read -r bs _ < <(summary "$work/$w.$phase.buildah")
      g1=- g1r=-
      if [ -s "$work/$w.$phase.gateway1" ]; then
        read -r g1 _ < <(summary "$work/$w.$phase.gateway1"); g1r=$(awk -v a="$g1" -v b="$bs" 'BEGIN {printf "%.2f", a/b}')
      fi
      echo "| $w | $phase | $ks | $gs | $g1 | $bs | $(awk -v a="$ks" -v b="$bs" 'BEGIN {printf "%.2f", a/b}') |" \
        "$(awk -v a="$gs" -v b="$bs" 'BEGIN {printf "%.2f", a/b}') | $g1r | $(median < "$work/$w.$phase.kbytes"), $(median < "$work/$w.$phase.gbytes") |"
      for t in kiln gateway gateway1 buildah; do echo "$w $phase $t: $(awk '{print $1}' "$work/$w.$phase.$t" | tr '\n' ' ')" >&2; done
    done
  done
else
  echo "usage: $0 cold|cache" >&2; exit 2
fi
