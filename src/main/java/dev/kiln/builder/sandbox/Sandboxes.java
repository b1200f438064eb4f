package dev.kiln.builder.sandbox;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Picks the RUN sandbox: {@code auto}, {@code namespaces}, {@code proot}, {@code in-place}. Auto
 * means the namespace sandbox or a refusal that says what is missing, never a weaker one.
 */
public final class Sandboxes {

    public enum Mode {
        AUTO, NAMESPACES, PROOT, IN_PLACE;

        public static Mode of(String value) {
            if (value == null || value.isEmpty()) {
                return AUTO;
            }
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "namespaces", "namespace", "unshare" -> NAMESPACES;
                case "proot" -> PROOT;
                case "in-place", "inplace", "in_place" -> IN_PLACE;
                default -> throw new IllegalArgumentException("unknown sandbox " + value
                        + " (auto, namespaces, proot, in-place)");
            };
        }
    }

    private static volatile CgroupV2.Probe cgroupProbe;
    private static final java.util.concurrent.atomic.AtomicBoolean CGROUP_WARNED = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * A fresh cgroup with the policy's RUN limits for one RUN, or null when none are asked for or
     * (with a warning, unless the policy requires them) none can be had here.
     */
    static java.nio.file.Path runCgroup(SandboxPolicy policy) throws SandboxException {
        return runCgroup(policy.cgroupLimits(), policy.requireCgroupLimits(), () -> {
            CgroupV2.Probe p = cgroupProbe;
            if (p == null) {
                p = CgroupV2.probe();
                cgroupProbe = p;
            }
            return p;
        });
    }

    static java.nio.file.Path runCgroup(CgroupV2.Limits limits, boolean required,
            java.util.function.Supplier<CgroupV2.Probe> probe) throws SandboxException {
        if (!required && limits.equals(CgroupV2.Limits.NONE)) {
            return null;
        }
        CgroupV2.Probe p = probe.get();
        String missing = p.missing();
        if (p.usable()) {
            try {
                return CgroupV2.create(p, limits);
            } catch (java.io.IOException e) {
                missing = "cannot make a cgroup under " + p.dir() + ": " + e.getMessage();
            }
        }
        if (required) {
            throw new SandboxException("RUN refused: no cgroup v2 limits here (" + missing
                    + "); kiln.builds.require-cgroup-limits=true");
        }
        if (CGROUP_WARNED.compareAndSet(false, true)) {
            System.getLogger(Sandboxes.class.getName()).log(System.Logger.Level.WARNING,
                    "RUNs get no cgroup limits of their own: " + missing + "; the build's container or Job bounds them");
        }
        return null;
    }

    private static volatile Boolean namespacesWork;
    private static volatile Boolean prootWorks;

    private Sandboxes() {
    }

    public static Sandbox choose(Mode mode) throws SandboxException {
        return choose(mode, false);
    }

    /**
     * @param forceInPlace allow {@link Mode#IN_PLACE} outside a marked executor container
     */
    public static Sandbox choose(Mode mode, boolean forceInPlace) throws SandboxException {
        switch (mode) {
            case NAMESPACES:
                return new NamespaceSandbox();
            case PROOT:
                return new ProotSandbox();
            case IN_PLACE:
                if (!InPlaceSandbox.allowed(forceInPlace)) {
                    throw new SandboxException("the in-place sandbox runs RUN commands on this machine's own root "
                            + "filesystem; use it only in a dedicated executor container (set "
                            + InPlaceSandbox.MARKER + "=1 there) or force it");
                }
                return new InPlaceSandbox(forceInPlace);
            default:
                // never a weaker sandbox than the namespaces one: proot and in-place only when named
                if (!namespacesWork()) {
                    throw new SandboxException("RUN refused: the namespace sandbox does not work here: util-linux "
                            + "unshare cannot create mount+pid namespaces"
                            + (ProcessRunner.currentUid() == 0 ? "" : " in a user namespace")
                            + " (in a container: allow unshare, e.g. a seccomp/AppArmor profile that permits it, or "
                            + "kernel.unprivileged_userns_clone=1). Choose another sandbox explicitly with --sandbox / "
                            + "kiln.builds.sandbox: in-place inside a dedicated executor container, or proot (does not isolate)");
                }
                NamespaceSandbox.requireStaticBusybox(null);
                return new NamespaceSandbox();
        }
    }

    /** A quick {@code unshare} probe with the namespaces the sandbox uses; cached. */
    public static boolean namespacesWork() {
        Boolean known = namespacesWork;
        if (known == null) {
            String unshare = ProcessRunner.hostTool("unshare");
            boolean root = ProcessRunner.currentUid() == 0;
            known = unshare != null && probe(root
                    ? List.of(unshare, "--mount", "--pid", "--uts", "--ipc", "--fork", "--propagation", "private",
                            ProcessRunner.hostShell(), "-c", "mount -t proc proc /proc && true")
                    : List.of(unshare, "--map-root-user", "--mount", "--pid", "--uts", "--ipc", "--fork",
                            "--propagation", "private", ProcessRunner.hostShell(), "-c", "mount -t proc proc /proc && true"));
            namespacesWork = known;
        }
        return known;
    }

    /** Whether proot can run a host binary; cached. */
    public static boolean prootWorks() {
        Boolean known = prootWorks;
        if (known == null) {
            String proot = ProcessRunner.hostTool("proot");
            known = proot != null && probe(List.of(proot, "-r", "/", "-0", "/bin/true"));
            prootWorks = known;
        }
        return known;
    }

    private static boolean probe(List<String> command) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().clear();
            pb.environment().putAll(Map.of("PATH", ProcessRunner.toolPath()));
            pb.directory(Path.of("/").toFile());
            Process p = pb.start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
