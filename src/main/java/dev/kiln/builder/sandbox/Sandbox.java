package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Runs one RUN step's command against a root filesystem directory. Implementations differ in how
 * they isolate the command ({@link NamespaceSandbox}, {@link ProotSandbox}, {@link InPlaceSandbox});
 * {@link Sandboxes#choose} picks one.
 *
 * <p>Whatever the strategy, the rootfs is left exactly as the command left it, apart from the
 * scaffolding the sandbox puts in place for the duration of the run ({@code /etc/resolv.conf},
 * {@code /etc/hosts}, mount points), which is removed again so it never reaches a snapshot.
 */
public interface Sandbox {

    /** Runs the command and waits for it; a timeout or cancellation kills it and every child. */
    ExecResult run(RunSpec spec) throws IOException, InterruptedException;

    /**
     * Whether this sandbox can run a command on an overlay of {@code rootfs} ({@link RunSpec#overlay()})
     * with the upper and work directories under {@code scratch}. Only the namespace sandbox can, where
     * the kernel lets it mount overlayfs there.
     */
    default boolean overlayWorks(Path rootfs, Path scratch) {
        return false;
    }

    /** A short name for logs: {@code namespaces}, {@code proot}, {@code in-place}. */
    String name();
}
