package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Whether RUNs can get cgroup v2 limits of their own here: a cgroup2 hierarchy that holds this
 * process, with the memory, pids and cpu controllers, in a subtree this process may write (a
 * delegated one). Read from {@code /proc/self/cgroup} and {@code /proc/self/mountinfo}, each under
 * a root given for tests.
 */
public final class CgroupV2 {
    static final List<String> CONTROLLERS = List.of("memory", "pids", "cpu");

    /** What the probe found: the cgroup directory to make children in, or why there is none. */
    public record Probe(Path dir, String missing) {
        public boolean usable() {
            return missing == null;
        }
    }

    private CgroupV2() {
    }

    /** This machine, as this process sees it. */
    public static Probe probe() {
        return probe(Path.of("/"));
    }

    /** The same with {@code /proc/self} and the mount points read under {@code root}. */
    static Probe probe(Path root) {
        String own;
        List<String> mountinfo;
        try {
            own = Files.readAllLines(root.resolve("proc/self/cgroup")).stream().filter(l -> l.startsWith("0::"))
                    .map(l -> l.substring(3)).findFirst().orElse(null);
            mountinfo = Files.readAllLines(root.resolve("proc/self/mountinfo"));
        } catch (IOException e) {
            return new Probe(null, "cannot read /proc/self/cgroup or mountinfo: " + e.getMessage());
        }
        if (own == null) {
            return new Probe(null, "this process is in no cgroup v2 hierarchy (cgroup v1 only)");
        }
        for (String line : mountinfo) {
            String[] halves = line.split(" - ", 2);
            String[] fields = halves[0].split(" ");
            if (halves.length < 2 || fields.length < 5 || !halves[1].startsWith("cgroup2 ")) {
                continue;
            }
            String mountRoot = unescape(fields[3]);
            if (!own.equals(mountRoot) && !own.startsWith(mountRoot.endsWith("/") ? mountRoot : mountRoot + "/")) {
                continue;
            }
            String relative = own.substring(mountRoot.length()).replaceFirst("^/+", "");
            Path dir = root.resolve(unescape(fields[4]).substring(1)).resolve(relative);
            return check(dir);
        }
        return new Probe(null, "no cgroup2 file system is mounted where this process's cgroup " + own + " is");
    }

    private static Probe check(Path dir) {
        List<String> have;
        try {
            have = Arrays.asList(Files.readString(dir.resolve("cgroup.controllers")).trim().split("\\s+"));
        } catch (IOException e) {
            return new Probe(null, "cannot read " + dir.resolve("cgroup.controllers"));
        }
        List<String> lacking = new ArrayList<>(CONTROLLERS);
        lacking.removeAll(have);
        if (!lacking.isEmpty()) {
            return new Probe(null, "the cgroup v2 hierarchy at " + dir + " has no " + String.join(", ", lacking)
                    + " controller (on this host they may be on cgroup v1)");
        }
        List<String> enabled;
        try {
            enabled = Arrays.asList(Files.readString(dir.resolve("cgroup.subtree_control")).trim().split("\\s+"));
        } catch (IOException e) {
            enabled = List.of();
        }
        List<String> off = new ArrayList<>(CONTROLLERS);
        off.removeAll(enabled);
        if (!off.isEmpty()) {
            // enabling them is the operator's (or systemd's Delegate=) business: the kernel refuses
            // it while this process sits in the cgroup itself
            return new Probe(null, "the cgroup " + dir + " does not enable " + String.join(", ", off)
                    + " for its children (cgroup.subtree_control)");
        }
        if (!Files.isWritable(dir)) {
            return new Probe(null, "the cgroup " + dir + " is not delegated to this process (not writable)");
        }
        return new Probe(dir, null);
    }

    /** The limits of one RUN, in the files' own syntax ({@code max} for none). */
    public record Limits(String memoryMax, String pidsMax, String cpuMax) {
        public static final Limits NONE = new Limits("max", "max", "max");
    }

    private static final java.util.concurrent.atomic.AtomicLong SEQUENCE = new java.util.concurrent.atomic.AtomicLong();

    /** A child cgroup of {@code probe}'s directory with {@code limits} written; the RUN's processes are put in it. */
    static Path create(Probe probe, Limits limits) throws IOException {
        Path child = probe.dir().resolve(RunSetup.SCRATCH_PREFIX + ProcessHandle.current().pid() + "-"
                + SEQUENCE.incrementAndGet());
        Files.createDirectory(child);
        try {
            Files.writeString(child.resolve("memory.max"), limits.memoryMax());
            Files.writeString(child.resolve("pids.max"), limits.pidsMax());
            Files.writeString(child.resolve("cpu.max"), limits.cpuMax());
        } catch (IOException e) {
            remove(child);
            throw e;
        }
        return child;
    }

    static void join(Path cgroup, long pid) throws IOException {
        Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(pid));
    }

    /** Removes a RUN's cgroup once its processes are gone (the kernel may take a moment to empty it). */
    static void remove(Path cgroup) {
        for (int i = 0; i < 50; i++) {
            try {
                Files.deleteIfExists(cgroup);
                return;
            } catch (IOException e) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** mountinfo's octal escapes ({@code \040} for a space). */
    private static String unescape(String field) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length()) {
                s.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                s.append(c);
            }
        }
        return s.toString();
    }
}
