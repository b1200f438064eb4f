package dev.kiln.builder.snapshot;

import dev.kiln.builder.sandbox.NamespaceSandbox;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run by {@link UnprivilegedOverlayTest} in a separate JVM as an unprivileged user: every
 * {@link OverlayCases} case that needs no second uid, printing {@code OK name} or
 * {@code FAIL name: detail}, then {@code ALL OK}.
 *
 * <p>Argument: a work directory owned by the user.
 */
public final class UnprivilegedOverlayMain {
    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        NamespaceSandbox sandbox = new NamespaceSandbox();
        int failures = 0;
        Path probe = Files.createDirectories(work.resolve("probe"));
        if (!sandbox.overlayWorks(probe, work)) {
            System.out.println("FAIL probe: overlayfs does not mount in a user namespace under " + work);
            failures++;
        }
        for (OverlayCases.Case c : OverlayCases.CASES) {
            if (c.ids()) {
                continue;
            }
            String problem;
            try {
                problem = OverlayCases.compare(work, c, sandbox);
            } catch (Exception e) {
                problem = e.toString();
            }
            if (problem == null) {
                System.out.println("OK " + c.name());
            } else {
                failures++;
                System.out.println("FAIL " + c.name() + ": " + problem.replace("\n", " | "));
            }
        }
        System.out.println(failures == 0 ? "ALL OK" : "FAILURES " + failures);
    }
}
