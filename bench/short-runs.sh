#!/usr/bin/env bash
# Kiln's short runs as ./kiln runs them on Java 25 (kiln-cli.jar, scripts/short-run-jvm's options, the AOT cache
# that scripts/aot-cache trains), one build of the jar against another (issue 13):
#   version   kiln --version
#   cached    the small build (busybox, ENV, two COPY, RUN, push) fully cached: --cache, after a warm-up
#   copy      FROM debian:minbase / RUN / COPY app.txt with app.txt changed before each run (--cache and
#             the kept layers of a warm-up build, as bench/layer-store.sh's "direct" column)
#   cold      bench/lib.sh's small workload cold (a fresh --cache-dir, no --cache)
#   heavy     bench/lib.sh's heavy workload cold (apt-get over the network, 100 MB of random bytes), HEAVY_ROUNDS
#             times (default 3; 0 leaves it out, and the 200 MB COPY below; HEAVY=0 leaves out the heavy build alone)
#   hash      FROM scratch, COPY of BIG_MB (default 200) MB of random bytes, to a tarball: the JIT's hashing
#             and copying alone, no network, no sandbox (HEAVY_ROUNDS times)
#   buildah   the same two rebuilds with buildah bud --layers + push on kept storage, the cold builds with
#             --layers=false on storage emptied before each (the peer)
# Variants run interleaved, ROUNDS times each (default 7); prints median wall and CPU (user + sys) s.
#   APPS="before=/path/to/quarkus-app now=target/quarkus-app"   (default: now=target/quarkus-app)
#   EXTRA_OPTS_<name>="…"   JVM options appended for one variant (as KILN_JAVA_OPTS would be)
#   AOT_SCRIPT_<name>=FILE  another version of scripts/aot-cache for that variant (its kiln-cli.jar and its training)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds="${ROUNDS:-7}"
apps="${APPS:-now=$here/target/quarkus-app}"
work="${WORK:-$(mktemp -d /tmp/kiln-short-runs.XXXXXX)}"
reg="127.0.0.1:${REG_PORT:-5373}"
. "$here/scripts/aot-cache"
java25="$(kiln_java25)" || { echo "short-runs: needs a Java 25 (see scripts/aot-cache)" >&2; exit 1; }

bench_registry "$work" "$reg"
"$here/scripts/make-base-images" "$reg" all >&2

mkdir -p "$work/ctx/conf" "$work/lctx"
echo hello > "$work/ctx/a.txt"; echo "x=1" > "$work/ctx/conf/app.conf"
printf 'FROM %s/busybox:latest\nENV APP_HOME=/opt/app\nCOPY conf/ /etc/app/\nCOPY a.txt /opt/app/\nRUN cat /etc/app/app.conf /opt/app/a.txt > /opt/app/all.txt\n' "$reg" > "$work/ctx/Dockerfile"
echo "app 0" > "$work/lctx/app.txt"
printf 'FROM %s/debian:minbase\nRUN mkdir -p /app && echo built > /app/built.txt\nCOPY app.txt /app/app.txt\n' "$reg" > "$work/lctx/Dockerfile"
bench_workload_small "$work/small" "$reg"; bench_workload_heavy "$work/heavy" "$reg"
mkdir -p "$work/hash"; head -c "${BIG_MB:-200}000000" /dev/urandom > "$work/hash/big.bin"
printf 'FROM scratch\nCOPY big.bin /big.bin\n' > "$work/hash/Dockerfile"

names=()
for entry in $apps; do # each app copied, so that Maven rebuilding target/ meanwhile changes nothing
  name="${entry%%=*}"; names+=("$name")
  rm -rf "$work/$name" && cp -a "${entry#*=}" "$work/$name" && rm -f "$work/$name/kiln-cli.jar"
  script="AOT_SCRIPT_$name"   # another scripts/aot-cache (its kiln-cli.jar and training run) for one variant
  # shellcheck disable=SC1090
  cli="$(. "${!script:-$here/scripts/aot-cache}" && kiln_cli_jar "$work/$name")"
  # shellcheck disable=SC1090
  cache="$(. "${!script:-$here/scripts/aot-cache}" && kiln_aot_cache "$work/aot-$name" "$java25" "$cli")" \
    || { echo "short-runs: no AOT cache for $name" >&2; exit 1; }
  printf '%s\n' "$cli" > "$work/$name.cli"; printf '%s\n' "$cache" > "$work/$name.aot"
done
kiln() { # name args…: the launcher's command line for short runs
  local name="$1" extra; shift
  extra="EXTRA_OPTS_$name"
  # shellcheck disable=SC2086
  "$java25" $kiln_short_jvm -XX:AOTCache="$(cat "$work/$name.aot")" -Xlog:aot=off,cds=off \
    ${!extra:-} -jar "$(cat "$work/$name.cli")" "$@"
}
cached() { kiln "$1" build -c "$work/ctx" -d "$reg/bench/small:$1" --insecure-registry "$reg" --cache \
  --cache-repo "$reg/bench/cache-$1" --cache-dir "$work/cache-$1"; }
cold() { kiln "$1" build -c "$work/$2" -d "$reg/bench/$2:$1" --insecure-registry "$reg" --cache-dir "$work/ccache-$1-$2"; }
big() { kiln "$1" build -c "$work/hash" --no-push --tar-path "$work/hash-$1.tar" -d bench/hash:1 --cache-dir "$work/hcache-$1"; }
copy() { kiln "$1" build -c "$work/lctx" -d "$reg/bench/layers:$1" --insecure-registry "$reg" --cache \
  --cache-repo "$reg/bench/lcache-$1" --cache-dir "$work/lcache-$1"; }
bench_buildah_conf "$work/buildah" "$reg"
buildah_build() { # context tag
  local b="buildah --root $work/buildah/root --runroot $work/buildah/runroot --storage-driver overlay"
  $b bud --layers --isolation chroot --signature-policy "$work/buildah/policy.json" --tls-verify=false -q -t "$2" "$1" > /dev/null &&
  $b push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q "$2" "docker://$reg/bench/$2"
}
buildah_cold() { # context tag: a cold build on storage of its own (emptied by buildah_empty, untimed)
  local b="buildah --root $work/buildah/cold-root --runroot $work/buildah/cold-runroot --storage-driver overlay"
  $b bud --layers=false --isolation chroot --signature-policy "$work/buildah/policy.json" --tls-verify=false -q -t "$2" "$1" > /dev/null &&
  $b push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q "$2" "docker://$reg/bench/$2"
}
buildah_empty() {
  buildah --root "$work/buildah/cold-root" --runroot "$work/buildah/cold-runroot" --storage-driver overlay rmi -a -f > /dev/null 2>&1 || true
}
export -f kiln cached cold big copy buildah_build buildah_cold
export java25 work reg kiln_short_jvm
timed() { # file function args…: appends "wall cpu" of the whole process tree
  local out="$1"; shift
  /usr/bin/time -f "%e %U %S" -o "$work/t" bash -c '"$@"' _ "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
  awk '{print $1, $2 + $3}' "$work/t" >> "$work/$out"
}
for name in "${names[@]}"; do cached "$name" > "$work/warm-$name.log" 2>&1; copy "$name" >> "$work/warm-$name.log" 2>&1; done
buildah_build "$work/ctx" small-buildah > /dev/null 2>&1; buildah_build "$work/lctx" layers-buildah > /dev/null 2>&1
for i in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do
    timed "$name.version" kiln "$name" --version
    timed "$name.cached" cached "$name"
    echo "app $i $name" > "$work/lctx/app.txt"; timed "$name.copy" copy "$name"
    # a cold build's cache dir is emptied before it, untimed: deleting a heavy build's layers is seconds on this disk
    rm -rf "$work/ccache-$name-small"; timed "$name.cold" cold "$name" small
    [ "$i" -gt "${HEAVY_ROUNDS:-3}" ] && continue
    [ "${HEAVY:-1}" = 0 ] || { rm -rf "$work/ccache-$name-heavy"; timed "$name.heavy" cold "$name" heavy; }
    rm -rf "$work/hcache-$name" "$work/hash-$name.tar"; timed "$name.hash" big "$name"
  done
  timed buildah.cached buildah_build "$work/ctx" small-buildah
  echo "app $i buildah" > "$work/lctx/app.txt"; timed buildah.copy buildah_build "$work/lctx" layers-buildah
  buildah_empty; timed buildah.cold buildah_cold "$work/small" small-cold
  [ "$i" -gt "${HEAVY_ROUNDS:-3}" ] || [ "${HEAVY:-1}" = 0 ] || { buildah_empty; timed buildah.heavy buildah_cold "$work/heavy" heavy-cold; }
  echo "round $i done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
col() { [ -f "$work/$1" ] && awk -v c="$2" '{print $c}' "$work/$1" | median || echo -; }
echo "| variant | --version wall / CPU s | small cold wall / CPU s | fully cached wall / CPU s | after the last COPY changed wall / CPU s | heavy cold wall / CPU s | ${BIG_MB:-200} MB COPY to a tarball wall / CPU s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for v in "${names[@]}" buildah; do
  echo "| $v | $(col "$v.version" 1) / $(col "$v.version" 2) | $(col "$v.cold" 1) / $(col "$v.cold" 2) | $(col "$v.cached" 1) / $(col "$v.cached" 2) | $(col "$v.copy" 1) / $(col "$v.copy" 2) | $(col "$v.heavy" 1) / $(col "$v.heavy" 2) | $(col "$v.hash" 1) / $(col "$v.hash" 2) |"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw numbers in $work" >&2
