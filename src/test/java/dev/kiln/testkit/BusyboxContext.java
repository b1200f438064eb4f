package dev.kiln.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A build context whose Dockerfile makes a busybox image from scratch (Debian's busybox-static and
 * its applet links), for tests that need a base with a shell without a registry to pull it from.
 */
public final class BusyboxContext {
    private BusyboxContext() {
    }

    /** Writes the context into {@code dir}; {@code moreSteps} are appended to the Dockerfile. */
    public static Path write(Path dir, String moreSteps) throws IOException {
        Tools.require("/bin/busybox", "busybox-static");
        Path ctx = Files.createDirectories(dir);
        Files.copy(Path.of("/bin/busybox"), ctx.resolve("busybox"));
        Files.writeString(ctx.resolve("Dockerfile"), """
                FROM scratch
                COPY busybox /bin/busybox
                RUN ["/bin/busybox", "--install", "-s", "/bin"]
                """ + moreSteps);
        return ctx;
    }
}
