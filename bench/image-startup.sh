#!/usr/bin/env bash
# Issue 10's benchmark: Kiln's image (scripts/build-image) against a distribution registry image
# made the same way from Debian's docker-registry (distribution 2.8, the binary registry:2 ships),
# both run by podman as a kubelet would: image size (compressed, as pushed; unpacked), time from
# `podman run` to the first answer on /v2/ (pull excluded: the image is pulled first), and the CLI
# start of Kiln's image (`podman run IMAGE --version`). kaniko's executor image is not reachable
# here (no Docker Hub). Prints a markdown report. Needs: podman, runc, catatonit, docker-registry, jq.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${ROUNDS:-5}"
work="${WORK:-/tmp/kiln-bench-image}"
reg_port=5111 kiln_port=5112 peer_port=5113
rm -rf "$work" && mkdir -p "$work"/{registry,peer/bin,peer/lib64,peer/lib/x86_64-linux-gnu,peer/etc/docker/registry}
cat > "$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=8192:8192", "nproc=8192:8192"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$work/containers.conf"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; podman rm -f kiln-bench-kiln kiln-bench-peer >/dev/null 2>&1 || true; }
trap cleanup EXIT
cat > "$work/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$reg_port}
YML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 & pids+=($!)
sleep 1
reg="127.0.0.1:$reg_port"

t0=$(date +%s.%N)
"$here/scripts/build-image" "$reg/kiln/kiln:bench" --insecure > /dev/null 2> "$work/build.log"
t1=$(date +%s.%N)
jar="$here/target/quarkus-app/quarkus-run.jar"

# the peer: distribution's binary and the libraries it loads, FROM scratch
cp /usr/bin/docker-registry "$work/peer/bin/registry"
for lib in $(ldd /usr/bin/docker-registry | grep -o '/lib[^ ]*'); do cp -L "$lib" "$work/peer$lib"; done
cat > "$work/peer/etc/docker/registry/config.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: /var/lib/registry}}
http: {addr: 127.0.0.1:$peer_port}
YML
printf 'FROM scratch\nCOPY bin/ /bin/\nCOPY lib/ /lib/\nCOPY lib64/ /lib64/\nCOPY etc/ /etc/\nENTRYPOINT ["/bin/registry"]\nCMD ["serve", "/etc/docker/registry/config.yml"]\n' > "$work/peer/Dockerfile"
java -jar "$jar" build -c "$work/peer" -d "$reg/distribution:bench" --insecure-registry "$reg" > /dev/null 2>&1

compressed() { curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$reg/v2/$1/manifests/bench" | jq '[.layers[].size] + [.config.size] | add'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms_now() { date +%s%3N; }

podman pull -q --tls-verify=false "$reg/kiln/kiln:bench" > /dev/null
podman pull -q --tls-verify=false "$reg/distribution:bench" > /dev/null

first_answer() { # name port command...
  local name=$1 port=$2; shift 2
  local start; start=$(ms_now)
  podman run -d --name "$name" --network host "$@" > /dev/null
  until curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; do sleep 0.02; done
  echo $(( $(ms_now) - start ))
  podman rm -f "$name" > /dev/null
}
kiln_ms=(); peer_ms=(); cli_ms=()
for _ in $(seq "$rounds"); do
  kiln_ms+=("$(first_answer kiln-bench-kiln $kiln_port --user 1000:1000 --read-only --tmpfs /kiln/tmp --tmpfs /store \
    "$reg/kiln/kiln:bench" serve --port $kiln_port --store /store)")
  peer_ms+=("$(first_answer kiln-bench-peer $peer_port --tmpfs /var/lib/registry "$reg/distribution:bench")")
  s=$(ms_now); podman run --rm "$reg/kiln/kiln:bench" --version > /dev/null; cli_ms+=($(( $(ms_now) - s )))
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "## Image (issue 10): $(date -u +%F), $(nproc) cores, load average $load, podman $(podman --version | cut -d' ' -f3), runc"
echo
echo "| image | compressed (pushed) | run → first /v2/ answer, median of $rounds (ms) | runs (ms) |"
echo "| --- | --- | --- | --- |"
echo "| Kiln (\`scripts/build-image\`, JVM, non-root, read-only root) | $(( $(compressed kiln/kiln) / 1000000 )) MB | $(printf '%s\n' "${kiln_ms[@]}" | median) | ${kiln_ms[*]} |"
echo "| distribution 2.8 (Debian's binary FROM scratch, as registry:2) | $(( $(compressed distribution) / 1000000 )) MB | $(printf '%s\n' "${peer_ms[@]}" | median) | ${peer_ms[*]} |"
echo
echo "Kiln unpacked: $(du -sm "$here/target/kiln-image/kiln" | cut -f1) MiB; \`podman run IMAGE --version\` median $(printf '%s\n' "${cli_ms[@]}" | median) ms (${cli_ms[*]});"
echo "scripts/build-image (jar already built) took $(echo "$t1 - $t0" | bc) s."
