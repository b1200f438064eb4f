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
