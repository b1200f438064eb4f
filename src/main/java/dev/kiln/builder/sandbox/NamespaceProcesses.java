package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finding the namespace sandbox's process in its new namespaces, and root's identity map there. */
final class NamespaceProcesses {
    private NamespaceProcesses() {
    }

    /**
     * Root's RUN gets a user namespace too, with every uid and gid mapped to itself: files keep
     * their real owners, but its capabilities only reach what the namespaces own, so it cannot
     * create device nodes, mount block devices, load modules or write host-wide /proc/sys knobs.
     * newuidmap would refuse such a map, so this JVM (root) writes it once unshare made the namespace.
     */
    static void mapIdentity(Process process) throws IOException, InterruptedException {
        Long pid = descendantIn(process, "user", System.nanoTime() + 20_000_000_000L);
        if (pid == null) {
            return; // set-up failed before; the status check reports it
        }
        Path proc = Path.of("/proc", Long.toString(pid));
        // both maps before stdin closes: the script goes on at its end of file
        Files.writeString(proc.resolve("gid_map"), "0 0 4294967295\n");
        Files.writeString(proc.resolve("uid_map"), "0 0 4294967295\n");
    }

    /**
     * The first process under {@code process} in a {@code type} namespace ({@code user}, {@code net})
     * other than this JVM's, or null when {@code process} exited before one appeared.
     */
    static Long descendantIn(Process process, String type, long deadline)
            throws IOException, InterruptedException {
        Path own = Files.readSymbolicLink(Path.of("/proc/self/ns", type));
        // unshare --fork's one child is the process that ends up in the new namespaces; the
        // kernel lists it cheaply, where a walk of every process costs milliseconds a round
        Path children = Path.of("/proc", Long.toString(process.pid()), "task", Long.toString(process.pid()), "children");
        while (true) {
            List<Long> candidates = new ArrayList<>();
            try {
                for (String pid : Files.readString(children).trim().split("\\s+")) {
                    if (!pid.isEmpty()) {
                        candidates.add(Long.parseLong(pid));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                process.descendants().forEach(h -> candidates.add(h.pid()));
            }
            for (long pid : candidates) {
                try {
                    if (!Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "ns", type)).equals(own)) {
                        return pid;
                    }
                } catch (IOException e) {
                    // gone or not yet there
                }
            }
            if (!process.isAlive()) {
                return null;
            }
            if (System.nanoTime() > deadline) {
                throw new SandboxException("the RUN's " + type + " namespace did not appear");
            }
            Thread.sleep(1);
        }
    }
}
