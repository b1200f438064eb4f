package dev.kiln.builder.snapshot;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.NamespaceSandbox;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The snapshot cost of a one-file RUN on a large rootfs, walking against overlay: {@code
 * bench/snapshot-100k.sh} runs it. For each snapshotter: one baseline (the stage's start), then
 * {@code rounds} RUNs that each write one file, timing the RUN (the sandbox, with the overlay
 * mount when there is one) and the snapshot (finding the change and writing the gzip layer)
 * apart. Prints one markdown table row per snapshotter, medians in milliseconds.
 *
 * <p>Arguments: work directory (emptied), file count, rounds.
 */
public final class SnapshotBench {
    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        int files = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        Trees.deleteTree(work);
        Files.createDirectories(work);
        Path rootfs = OverlayCases.rootfs(work);
        int perDir = 100;
        for (int d = 0; d < (files + perDir - 1) / perDir; d++) {
            Path dir = Files.createDirectories(rootfs.resolve("usr/share/bench/d" + d));
            for (int f = 0; f < perDir && d * perDir + f < files; f++) {
                Files.writeString(dir.resolve("f" + f), "file " + d + "/" + f + "\n");
            }
        }
        NamespaceSandbox sandbox = new NamespaceSandbox();
        LayerWriter writer = new LayerWriter(Compression.gzip(), MtimePolicy.keep());
        int paths = TreeScanner.withDefaults().scan(rootfs).size();
        System.out.printf("rootfs: %d paths (%d files written for the benchmark), %d rounds, sandbox %s as uid %s%n%n",
                paths, files, rounds, sandbox.name(), Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        System.out.println("| snapshotter | stage start (baseline walk) | RUN (sandbox) | snapshot of the one-file change | RUN + snapshot |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (String mode : List.of("walk", "overlay")) {
            long t0 = System.nanoTime();
            Snapshotter snapshotter = Snapshotters.startingNow(Snapshotters.Mode.of(mode), rootfs,
                    TreeScanner.withDefaults(), writer, w -> System.err.println("warning: " + w));
            double baseline = ms(t0);
            List<Double> runs = new ArrayList<>();
            List<Double> snapshots = new ArrayList<>();
            List<Double> totals = new ArrayList<>();
            for (int i = 0; i < rounds + 1; i++) {
                String name = "/etc/" + mode + "-" + i;
                long r0 = System.nanoTime();
                ExecResult result = snapshotter.run(sandbox, RunSpec.builder(rootfs,
                        List.of("/bin/sh", "-c", "echo " + i + " > " + name)).env(List.of("PATH=/bin")).build());
                long r1 = System.nanoTime();
                if (!result.succeeded()) {
                    throw new IllegalStateException("RUN failed: " + result);
                }
                SnapshotLayer layer = snapshotter.snapshot(OutputStream.nullOutputStream());
                long r2 = System.nanoTime();
                if (layer.changes().changed().size() > 2 || !Files.exists(rootfs.resolve(name.substring(1)))) {
                    throw new IllegalStateException(mode + ": unexpected change " + layer.changes());
                }
                if (i == 0) {
                    continue; // warm-up: JIT, the overlay probe
                }
                runs.add((r1 - r0) / 1e6);
                snapshots.add((r2 - r1) / 1e6);
                totals.add((r2 - r0) / 1e6);
            }
            System.out.printf("| %s | %.0f ms | %.1f ms | %.1f ms | %.1f ms |%n", mode, baseline, median(runs),
                    median(snapshots), median(totals));
        }
        Trees.deleteTree(work);
    }

    private static double ms(long since) {
        return (System.nanoTime() - since) / 1e6;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
