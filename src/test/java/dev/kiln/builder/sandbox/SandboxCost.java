package dev.kiln.builder.sandbox;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * bench/sandbox-cost.sh: what each sandbox adds to a one-line {@code RUN true}, against a bare
 * fork/exec of {@code /bin/true} from this JVM. Not a test; prints one line per case with the
 * median and every run in milliseconds.
 */
public final class SandboxCost {
    private SandboxCost() {
    }

    interface Case {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 25;
        // a second argument picks the cases whose name contains it (for profiling one under strace or perf)
        String only = args.length > 1 ? args[1] : "";
        Path tmp = Files.createTempDirectory("kiln-sandbox-cost-");
        Path rootfs = TestRootfs.create(tmp);
        Map<String, Case> cases = new java.util.LinkedHashMap<>();
        cases.put("bare fork/exec of /bin/true", () -> {
            Process p = new ProcessBuilder("/bin/true").start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("true failed");
            }
        });
        cases.put("in-place sandbox, RUN true", () -> check(new InPlaceSandbox(true)
                .run(RunSpec.builder(Path.of("/"), List.of("/bin/sh", "-c", "true")).env(List.of("PATH=/usr/bin:/bin"))
                        .workdir(tmp.toString()).build())));
        for (boolean seccomp : new boolean[] {true, false}) {
            String filter = seccomp ? "" : ", seccomp off";
            cases.put("namespaces sandbox as root" + filter + ", RUN true", () -> check(new NamespaceSandbox(true, null, seccomp)
                    .run(RunSpec.builder(rootfs, List.of("/bin/sh", "-c", "true")).env(List.of("PATH=/bin")).build())));
            cases.put("namespaces sandbox, user namespace" + filter + ", RUN true", () -> check(new NamespaceSandbox(false, null, seccomp)
                    .run(RunSpec.builder(rootfs, List.of("/bin/sh", "-c", "true")).env(List.of("PATH=/bin")).build())));
        }
        // a RUN allowed the network: the egress proxy's unix socket and socat in the RUN's namespace on top
        cases.put("namespaces sandbox as root, egress proxy, RUN true", () -> check(new NamespaceSandbox(true, null, true)
                .run(RunSpec.builder(rootfs, List.of("/bin/sh", "-c", "true")).env(List.of("PATH=/bin"))
                        .network(RunSpec.Network.PROXY).build())));
        for (Map.Entry<String, Case> c : cases.entrySet()) {
            if (!c.getKey().contains(only)) {
                continue;
            }
            for (int i = 0; i < 5; i++) {
                c.getValue().run(); // warm-up: class loading, JIT, page cache
            }
            double[] ms = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                long start = System.nanoTime();
                c.getValue().run();
                ms[i] = (System.nanoTime() - start) / 1e6;
            }
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double median = rounds % 2 == 1 ? sorted[rounds / 2] : (sorted[rounds / 2 - 1] + sorted[rounds / 2]) / 2;
            List<String> all = new ArrayList<>();
            for (double m : ms) {
                all.add(String.format("%.1f", m));
            }
            System.out.printf("%-48s median %7.1f ms  min %7.1f  max %7.1f  runs: %s%n", c.getKey(), median, sorted[0],
                    sorted[rounds - 1], String.join(" ", all));
        }
        dev.kiln.builder.rootfs.Trees.deleteQuietly(tmp);
    }

    private static void check(ExecResult r) {
        if (r.exitCode() != 0) {
            throw new IllegalStateException("exit " + r.exitCode());
        }
    }
}
