#!/usr/bin/env bash
# Kiln's short runs as ./kiln runs them on Java 25 (kiln-cli.jar, C1 + serial GC, the AOT cache that
# scripts/aot-cache trains), one build of the jar against another (issue 13):
#   version   kiln --version
#   cached    the small build (busybox, ENV, two COPY, RUN, push) fully cached: --cache, after a warm-up
#   copy      FROM debian:minbase / RUN / COPY app.txt with app.txt changed before each run (--cache and
#             the kept layers of a warm-up build, as bench/layer-store.sh's "direct" column)
#   buildah   the same two rebuilds with buildah bud --layers + push on kept storage (the peer)
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
  "$java25" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:AOTCache="$(cat "$work/$name.aot")" -Xlog:aot=off,cds=off \
    ${!extra:-} -jar "$(cat "$work/$name.cli")" "$@"
}
cached() { kiln "$1" build -c "$work/ctx" -d "$reg/bench/small:$1" --insecure-registry "$reg" --cache \
  --cache-repo "$reg/bench/cache-$1" --cache-dir "$work/cache-$1"; }
copy() { kiln "$1" build -c "$work/lctx" -d "$reg/bench/layers:$1" --insecure-registry "$reg" --cache \
  --cache-repo "$reg/bench/lcache-$1" --cache-dir "$work/lcache-$1"; }
bench_buildah_conf "$work/buildah" "$reg"
buildah_build() { # context tag
  local b="buildah --root $work/buildah/root --runroot $work/buildah/runroot --storage-driver overlay"
  $b bud --layers --isolation chroot --signature-policy "$work/buildah/policy.json" --tls-verify=false -q -t "$2" "$1" > /dev/null &&
  $b push --signature-policy "$work/buildah/policy.json" --tls-verify=false -q "$2" "docker://$reg/bench/$2"
}
export -f kiln cached copy buildah_build
export java25 work reg
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
  done
  timed buildah.cached buildah_build "$work/ctx" small-buildah
  echo "app $i buildah" > "$work/lctx/app.txt"; timed buildah.copy buildah_build "$work/lctx" layers-buildah
done
col() { [ -f "$work/$1" ] && awk -v c="$2" '{print $c}' "$work/$1" | median || echo -; }
echo "| variant | --version wall / CPU s | fully cached wall / CPU s | after the last COPY changed wall / CPU s |"
echo "| --- | --- | --- | --- |"
for v in "${names[@]}" buildah; do
  echo "| $v | $(col "$v.version" 1) / $(col "$v.version" 2) | $(col "$v.cached" 1) / $(col "$v.cached" 2) | $(col "$v.copy" 1) / $(col "$v.copy" 2) |"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw numbers in $work" >&2
