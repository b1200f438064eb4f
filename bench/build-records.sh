#!/usr/bin/env bash
# Start-up of `./kiln serve` over a store already holding N finished builds (default 5,000: build.json with
# six steps and a report, a 4 KiB build.log, finished over the last ten days). Each of RUNS starts on the same
# store, one after the other: seconds from launch until GET /api/v1/builds answers, the builds it lists, the
# directories left under builds/, and the server's RSS once it answers. Under a retention policy the first
# start prunes and the later ones read what it kept. KILN is the launcher (default ./kiln; a wrapper running
# another jar the same way measures a build from before), the kiln.builds.retention.* settings come from the
# environment as usual:
#   RUNS=3 bench/build-records.sh                                                        # the defaults (7d, 1000)
#   RUNS=3 KILN_BUILDS_RETENTION_MAX_AGE=none KILN_BUILDS_RETENTION_MAX_FINISHED=none bench/build-records.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
work="${WORK:-/tmp/kiln-bench-records}"
n="${N:-5000}" runs="${RUNS:-3}" kiln="${KILN:-$here/kiln}"
gw="127.0.0.1:5393"
rm -rf "$work" && mkdir -p "$work/store/builds"
python3 - "$work/store/builds" "$n" <<'PY'
import json, os, sys, random, datetime
root, n = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc)
rnd = random.Random(13)
def iso(t): return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
for i in range(n):
    bid = "%020x" % rnd.getrandbits(80)
    done = now - datetime.timedelta(seconds=rnd.uniform(60, 10 * 86400))
    start = done - datetime.timedelta(seconds=rnd.uniform(1, 120))
    digest = "sha256:%064x" % rnd.getrandbits(256)
    steps = [{"stage": "0", "number": k + 1, "total": 6, "instruction": ins, "durationMillis": rnd.randint(1, 9000), "cached": k % 2 == 0}
             for k, ins in enumerate(["FROM busybox:latest", "ENV APP_HOME=/opt/app", "WORKDIR $APP_HOME",
                                      "COPY conf/ /etc/app/", "RUN echo version > version.txt", "CMD [\"cat\", \"version.txt\"]"])]
    ref = "kiln:5000/builds/app-%d:1" % (i % 50)
    record = {"id": bid, "state": "succeeded" if i % 10 else "failed",
              "spec": {"context": "upload", "dockerfile": "Dockerfile", "buildArgs": {"VERSION": "1"}, "target": None,
                       "labels": {"team": "kiln"}, "destinations": [ref], "cache": True, "platform": None},
              "createdAt": iso(start - datetime.timedelta(seconds=1)), "startedAt": iso(start), "finishedAt": iso(done),
              "steps": steps, "digest": digest, "pushed": [ref.rsplit(":", 1)[0] + "@" + digest], "error": None,
              "report": {"layers": 3, "layersFromCache": 2, "layersReused": 1, "bytesUploaded": 1088, "layerBytesUploaded": 0,
                         "bytesNotUploaded": 1001620, "cacheRepository": "cache/app",
                         "destinations": [{"reference": ref, "inStore": True, "blobsUploaded": 1, "blobsLinked": 3,
                                           "blobsExisting": 0, "bytesUploaded": 1088, "bytesNotUploaded": 1001620}]},
              "owner": None}
    d = os.path.join(root, bid)
    os.mkdir(d)
    with open(os.path.join(d, "build.json"), "w") as f:
        json.dump(record, f, indent=2)
    with open(os.path.join(d, "build.log"), "w") as f:
        f.write(("[0] STEP 5/6: RUN echo version > version.txt  | a line of the build's own output\n") * 52)
PY
echo "store: $n finished builds, $(du -sm "$work/store/builds" | cut -f1) MB; launcher: $kiln; load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$runs"); do
  t0=$(now)
  "$kiln" serve --port "${gw#*:}" --store "$work/store" > "$work/kiln-$run.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_http "http://$gw/api/v1/builds"
  secs=$(since "$t0")
  listed=$(curl -sf "http://$gw/api/v1/builds" | jq '.builds | length')
  jvm=$(pgrep -n -f "serve --port ${gw#*:}")
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$jvm/status")
  left=$(find "$work/store/builds" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' | wc -l)
  echo "start $run: answered in $secs s, lists $listed builds, $left build directories left, RSS $rss MiB"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
grep -h 'pruned\|retention' "$work"/kiln-*.log | sed 's/^/  log: /' || true
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
