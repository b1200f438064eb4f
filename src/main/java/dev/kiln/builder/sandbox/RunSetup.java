package dev.kiln.builder.sandbox;

import dev.kiln.builder.rootfs.Trees;

import dev.kiln.builder.rootfs.RootfsPath;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * The host-side half of a run shared by the chroot strategies: a private scratch directory
 * (generated {@code resolv.conf} and {@code hosts}, copies of read-write binds), the working
 * directory, and every mount resolved to a host source and a host mount point inside the rootfs.
 */
final class RunSetup implements AutoCloseable {

    enum Kind { BIND, TMPFS }

    /** One mount: {@code target} is the host path of the mount point inside the rootfs. */
    record Planned(Kind kind, Path source, Path target, boolean readOnly, Long sizeBytes) {
    }

    final RunSpec spec;
    final RunUser user;
    /** The USER's supplementary groups from the image's /etc/group ({@link RunUser#supplementaryGroups}). */
    final List<Long> groups;
    final Path scratch;
    final Scaffold scaffold;
    final List<Planned> mounts = new ArrayList<>();
    /** For an overlay run: working directories the sandbox makes inside the overlay, outermost first. */
    List<Path> workdirToMake = List.of();
    Path resolvConf;
    Path hosts;

    private RunSetup(RunSpec spec, RunUser user, List<Long> groups, Path scratch, Scaffold scaffold) {
        this.spec = spec;
        this.user = user;
        this.groups = groups;
        this.scratch = scratch;
        this.scaffold = scaffold;
    }

    static RunSetup prepare(RunSpec spec, boolean canChown, boolean networkFiles) throws IOException {
        RootfsPath root = RootfsPath.of(spec.rootfs());
        RunUser user = RunUser.resolve(root, spec.user());
        List<Long> groups = RunUser.supplementaryGroups(root, spec.user());
        cleanLeftoversOnce();
        Path scratch = Files.createTempDirectory(SCRATCH_PREFIX + ProcessHandle.current().pid() + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        RunSetup setup = new RunSetup(spec, user, groups, scratch, new Scaffold(root, spec.restoredDirs()));
        try {
            if (spec.overlay() != null) {
                setup.workdirToMake = setup.scaffold.missingWorkdir(spec.workdir());
            } else {
                setup.scaffold.workdir(spec.workdir(), user, canChown);
            }
            if (networkFiles) {
                setup.networkFiles();
            }
            for (RunMount m : spec.mounts()) {
                setup.plan(m);
            }
            return setup;
        } catch (IOException | RuntimeException e) {
            setup.close();
            throw e;
        }
    }

    private void networkFiles() throws IOException {
        Path hostResolv = Path.of("/etc/resolv.conf");
        byte[] resolv = Files.isReadable(hostResolv) ? Files.readAllBytes(hostResolv) : new byte[0];
        Path r = scratch.resolve("resolv.conf");
        Files.write(r, resolv);
        Path h = scratch.resolve("hosts");
        Files.writeString(h, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t"
                + spec.hostname() + "\n", StandardCharsets.UTF_8);
        for (Path p : List.of(r, h)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        }
        mounts.add(new Planned(Kind.BIND, r, scaffold.file("/etc/resolv.conf"), true, null));
        mounts.add(new Planned(Kind.BIND, h, scaffold.file("/etc/hosts"), true, null));
        resolvConf = r;
        hosts = h;
    }

    private String absolute(String target) {
        if (target == null || target.isEmpty()) {
            throw new IllegalArgumentException("mount without a target");
        }
        if (target.startsWith("/")) {
            return target;
        }
        return spec.workdir().endsWith("/") ? spec.workdir() + target : spec.workdir() + "/" + target;
    }

    private void plan(RunMount m) throws IOException {
        String target = absolute(m.target());
        if (m instanceof RunMount.Bind b) {
            if (!Files.exists(b.source())) {
                throw new SandboxException("bind mount source " + b.source() + " does not exist");
            }
            Path source = b.source();
            if (!b.readOnly()) {
                // BuildKit discards what a RUN writes to a read-write bind; so do we, with a copy
                source = scratch.resolve("bind-" + mounts.size());
                copy(b.source(), source);
            }
            Path point = Files.isDirectory(source) ? scaffold.dir(target) : scaffold.file(target);
            mounts.add(new Planned(Kind.BIND, source, point, b.readOnly(), null));
        } else if (m instanceof RunMount.Cache c) {
            Files.createDirectories(c.directory());
            mounts.add(new Planned(Kind.BIND, c.directory(), scaffold.dir(target), c.readOnly(), null));
        } else if (m instanceof RunMount.Secret s) {
            if (!Files.isRegularFile(s.file())) {
                throw new SandboxException("secret file " + s.file() + " does not exist");
            }
            mounts.add(new Planned(Kind.BIND, s.file(), scaffold.file(target), true, null));
        } else if (m instanceof RunMount.Tmpfs t) {
            mounts.add(new Planned(Kind.TMPFS, null, scaffold.dir(target), false, t.sizeBytes()));
        }
    }

    /** Scratch dirs are {@code kiln-run-<pid of the JVM>-<random>}, so leftovers of a dead process can be told apart. */
    static final String SCRATCH_PREFIX = "kiln-run-";

    private static final java.util.concurrent.atomic.AtomicBoolean CLEANED = new java.util.concurrent.atomic.AtomicBoolean();

    private static void cleanLeftoversOnce() {
        if (CLEANED.compareAndSet(false, true)) {
            cleanLeftovers(Path.of(System.getProperty("java.io.tmpdir")));
        }
    }

    /**
     * Removes the scratch dirs in {@code tmp} of Kiln processes that are gone (a crash or kill -9
     * leaves them, with copies of read-write binds in them); those of live processes stay.
     *
     * @return how many were removed
     */
    static int cleanLeftovers(Path tmp) {
        java.util.regex.Pattern name = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(SCRATCH_PREFIX) + "(\\d+)-.*");
        int removed = 0;
        try (var entries = Files.newDirectoryStream(tmp, SCRATCH_PREFIX + "*")) {
            for (Path dir : entries) {
                java.util.regex.Matcher m = name.matcher(dir.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()
                        && Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Trees.deleteQuietly(dir);
                    removed++;
                }
            }
        } catch (IOException | RuntimeException e) {
            // best effort: the next start tries again
        }
        return removed;
    }

    /** The mount point's path as the command sees it. */
    String inside(Path target) {
        return scaffold.inside(target);
    }

    static void copy(Path from, Path to) throws IOException {
        Process p = new ProcessBuilder("cp", "-a", "--", from.toString(), to.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new SandboxException("copying " + from + " for a read-write bind failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException("interrupted", e);
        }
    }

    @Override
    public void close() {
        scaffold.close();
        deleteTree(scratch);
    }

    static void deleteTree(Path dir) {
        Trees.deleteQuietly(dir);
    }
}
