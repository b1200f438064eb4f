#!/usr/bin/env bash
# Issue 11's cloud-context numbers: time to fetch the same context as s3:// (moto, credentials from a
# profile file) and as git (JGit over HTTPS with a token, git http-backend), and the cold first
# resolution of the AWS credential chain in a fresh JVM per source (profile file; web identity through
# moto's STS), plus the jar bytes the AWS SDK and JGit add. Needs: moto (KILN_MOTO_PYTHON or pyenv's
# python3), git, tar, keytool. ROUNDS (7), FILES (500).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
rounds="${ROUNDS:-7}" files="${FILES:-500}"
flock /tmp/kiln-maven.lock mvn -B -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/bench-cp.txt >/dev/null
cp="target/test-classes:target/classes:$(cat target/bench-cp.txt)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
java -cp "$cp" dev.kiln.builder.context.ContextFetchBench "$rounds" "$files"

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
printf '[default]\naws_access_key_id = AKIABENCH\naws_secret_access_key = bench\n' > "$work/credentials"
for i in 1 2 3 4 5; do
  java -cp "$cp" -Daws.sharedCredentialsFile="$work/credentials" -Daws.configFile="$work/none" \
    dev.kiln.builder.context.ContextFetchBench chain profile
done
echo "jars added (bytes):"
for jar in $(tr ':' '\n' < target/bench-cp.txt | grep -E 'awssdk|reactive-streams|jgit|JavaEWAH'); do stat -c '%s %n' "$jar"; done \
  | awk '{ n=$2; sub(".*/", "", n); if (n ~ /jgit|EWAH/) g+=$1; else a+=$1; print "  " $1 " " n } END { printf "  AWS SDK total %.2f MB, JGit total %.2f MB\n", a/1e6, g/1e6 }'
