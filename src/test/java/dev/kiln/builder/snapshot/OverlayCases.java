package dev.kiln.builder.snapshot;

import dev.kiln.builder.rootfs.Trees;
import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.RunMount;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.oci.Digester;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerReader;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * RUN commands whose layer the overlay snapshotter must write exactly as the walking snapshotter
 * does, each run for real through the namespace sandbox on two copies of one rootfs. Plain Java
 * (no JUnit) so {@link UnprivilegedOverlayMain} can run them as another user.
 */
final class OverlayCases {
    static final Path BUSYBOX = Files.isRegularFile(Path.of("/bin/busybox")) ? Path.of("/bin/busybox")
            : Path.of("/usr/bin/busybox");
    private static final List<String> APPLETS = List.of("sh", "ls", "cat", "echo", "mkdir", "rm", "ln", "chmod",
            "chown", "touch", "mv", "true", "mkfifo", "cp", "id");

    /**
     * @param ids     needs more than one uid (chown), so only where the sandbox maps them all
     * @param workdir where the command starts (made when missing)
     * @param cache   a cache mount target, relative to the working directory, or null
     */
    record Case(String name, String script, boolean ids, String workdir, String cache) {
        static Case of(String name, String script) {
            return new Case(name, script, false, "/", null);
        }
    }

    static final List<Case> CASES = List.of(
            Case.of("nothing", "true"),
            Case.of("add", "echo new > /etc/new"),
            Case.of("modify", "echo more >> /etc/conf"),
            Case.of("touch", "touch /etc/conf"),
            Case.of("chmod", "chmod 600 /etc/conf && chmod 700 /d && chmod 4755 /bin/busybox"),
            new Case("chown", "chown 1000:1000 /home/user/file && chown 1000 /home/user", true, "/", null),
            Case.of("delete-file", "rm /etc/old"),
            Case.of("delete-dir", "rm -r /d/c"),
            Case.of("delete-tree", "rm -rf /d"),
            Case.of("dir-to-file", "rm -rf /d && echo file > /d"),
            Case.of("file-to-dir", "rm /f && mkdir /f && echo in > /f/in"),
            Case.of("opaque", "rm -rf /d && mkdir /d && echo n > /d/new"),
            Case.of("opaque-one-old-entry", "rm -rf /e && mkdir /e && echo n > /e/new"),
            Case.of("emptied-in-place", "rm -rf /d/*"),
            Case.of("emptied-but-one", "rm -rf /d/a /d/c"),
            Case.of("delete-recreate", "rm /etc/conf && echo again > /etc/conf"),
            Case.of("delete-recreate-same-type", "rm -rf /d && mkdir -p /d/c && echo x > /d/c/x && echo a > /d/a"),
            Case.of("symlinks", "ln -s /etc/conf /etc/abs && ln -sfn other /link && ln -s ../d /var/dl"),
            Case.of("hardlinks", "echo h > /h1 && ln /h1 /h2 && mkdir /hd && ln /h1 /hd/h3"),
            Case.of("hardlink-to-base-file", "ln /etc/conf /etc/conf2"),
            Case.of("new-tree", "mkdir -p /opt/app/lib/x && echo 1 > /opt/app/lib/x/one && echo 2 > /opt/app/two"),
            Case.of("move-dir", "mv /d /moved"),
            Case.of("fifo", "mkfifo /var/pipe"),
            Case.of("temp-file-gone", "echo t > /tmpfile && rm /tmpfile && mkdir /tmpdir && rmdir /tmpdir 2>/dev/null; rm -rf /tmpdir"),
            Case.of("root-level-deletes", "rm -rf /f /var /link"),
            new Case("workdir", "echo w > here", false, "/new/wd", null),
            new Case("workdir-with-mount", "echo w > here && echo c > cache/c", false, "/w2", "cache"),
            new Case("workdir-in-base-dir", "echo w > here", false, "/home/user/sub", null));

    private OverlayCases() {
    }

    /** The base tree both snapshotters start from; /etc/hosts and /etc/resolv.conf exist, as in real images. */
    static Path rootfs(Path dir) throws IOException {
        Path root = Files.createDirectories(dir.resolve("rootfs"));
        Files.createDirectories(root.resolve("bin"));
        Files.copy(BUSYBOX, root.resolve("bin/busybox"));
        Files.setAttribute(root.resolve("bin/busybox"), "unix:mode", 0755);
        for (String applet : APPLETS) {
            Files.createSymbolicLink(root.resolve("bin").resolve(applet), Path.of("busybox"));
        }
        write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/user:/bin/sh\n");
        write(root, "etc/group", "root:x:0:\napp:x:1000:\n");
        write(root, "etc/hosts", "");
        write(root, "etc/resolv.conf", "");
        write(root, "etc/conf", "conf\n");
        write(root, "etc/old", "old\n");
        write(root, "d/a", "a\n");
        write(root, "d/b", "b\n");
        write(root, "d/c/x", "x\n");
        write(root, "e/only", "only\n");
        write(root, "f", "f\n");
        write(root, "home/user/file", "mine\n");
        write(root, "hl1", "linked\n");
        Files.createLink(root.resolve("hl2"), root.resolve("hl1"));
        Files.createSymbolicLink(root.resolve("link"), Path.of("etc/conf"));
        Files.createDirectories(root.resolve("var/empty"));
        Files.createDirectories(root.resolve("proc"));
        Files.createDirectories(root.resolve("dev"));
        return root;
    }

    private static void write(Path root, String path, String content) throws IOException {
        Path p = root.resolve(path);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    /** Runs one case with both snapshotters; returns what differs, or null when nothing does. */
    static String compare(Path work, Case c, Sandbox sandbox) throws Exception {
        Path walkDir = Files.createDirectories(work.resolve(c.name() + "-walk"));
        Path overlayDir = Files.createDirectories(work.resolve(c.name() + "-overlay"));
        Path walkRoot = rootfs(walkDir);
        Path overlayRoot = rootfs(overlayDir);
        LayerWriter writer = new LayerWriter(Compression.none(), MtimePolicy.keep());
        List<String> warnings = new ArrayList<>();
        Snapshotter walking = WalkingSnapshotter.startingNow(walkRoot, TreeScanner.withDefaults(), writer, warnings::add);
        OverlaySnapshotter overlay = OverlaySnapshotter.startingNow(overlayRoot, TreeScanner.withDefaults(), writer,
                warnings::add, true);
        // taken now, the baseline must then follow the overlay snapshot, which the walk below checks
        overlay.beforeDirectChange();
        List<String> walkLayer = runAndSnapshot(walking, sandbox, walkRoot, c, walkDir);
        List<String> overlayLayer = runAndSnapshot(overlay, sandbox, overlayRoot, c, overlayDir);
        StringBuilder problems = new StringBuilder();
        if (!walkLayer.equals(overlayLayer)) {
            problems.append("layers differ:\n  walk:    ").append(walkLayer).append("\n  overlay: ").append(overlayLayer);
        }
        Map<String, String> walkTree = describe(walkRoot);
        Map<String, String> overlayTree = describe(overlayRoot);
        if (!walkTree.equals(overlayTree)) {
            problems.append("\ntrees differ:\n  walk:    ").append(walkTree).append("\n  overlay: ").append(overlayTree);
        }
        List<String> next = layer(overlay);
        if (!next.isEmpty()) {
            problems.append("\na walk after the overlay snapshot found changes again: ").append(next);
        }
        try (Stream<Path> left = Files.list(overlayDir)) {
            List<String> names = left.map(p -> p.getFileName().toString()).sorted().toList();
            if (!names.equals(List.of("rootfs")) && !names.equals(List.of("cache", "rootfs"))) {
                problems.append("\nleft next to the rootfs: ").append(names);
            }
        }
        if (!warnings.isEmpty()) {
            problems.append("\nwarnings: ").append(warnings);
        }
        Trees.deleteTree(walkDir);
        Trees.deleteTree(overlayDir);
        return problems.isEmpty() ? null : problems.toString();
    }

    static List<String> runAndSnapshot(Snapshotter snapshotter, Sandbox sandbox, Path rootfs, Case c, Path dir)
            throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        RunSpec.Builder spec = RunSpec.builder(rootfs, List.of("/bin/sh", "-c", c.script()))
                .env(List.of("PATH=/bin")).workdir(c.workdir()).stderr(err).stdout(err);
        if (c.cache() != null) {
            spec.mount(new RunMount.Cache(dir.resolve("cache"), c.cache(), false));
        }
        ExecResult result = snapshotter.run(sandbox, spec.build());
        if (!result.succeeded()) {
            throw new IllegalStateException(c.name() + ": exit " + result.exitCode() + ": "
                    + err.toString(StandardCharsets.UTF_8));
        }
        return layer(snapshotter);
    }

    /** The next snapshot's entries, one line each: everything a layer records but times. */
    static List<String> layer(Snapshotter snapshotter) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        snapshotter.snapshot(out);
        List<String> lines = new ArrayList<>();
        try (LayerReader reader = LayerReader.open(new ByteArrayInputStream(out.toByteArray()))) {
            for (LayerEntry e; (e = reader.next()) != null; ) {
                StringBuilder line = new StringBuilder().append(e.type()).append(' ').append(e.path()).append(' ')
                        .append(Integer.toOctalString(e.mode())).append(' ').append(e.uid()).append(':').append(e.gid());
                if (e.linkTarget() != null) {
                    line.append(" -> ").append(e.linkTarget());
                }
                if (e.type() == EntryType.FILE) {
                    line.append(" sha=").append(Digester.digest(reader.content(), "sha256").hex(), 0, 12);
                }
                if (!e.xattrs().isEmpty()) {
                    line.append(" xattrs=").append(e.xattrs().keySet());
                }
                lines.add(line.toString());
            }
        }
        return lines;
    }

    /**
     * Path to type, mode, owner, content or target, hardlink group and xattrs: a tree as an image
     * sees it. Unlike {@code TreeDescription}, without times (the two trees are made moments apart)
     * and with xattrs (overlayfs's own must never stay behind).
     */
    static Map<String, String> describe(Path root) throws IOException {
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(root)) {
            paths = walk.sorted().toList();
        }
        Map<String, String> out = new TreeMap<>();
        Map<Object, String> firstByInode = new HashMap<>();
        for (Path p : paths) {
            String rel = root.relativize(p).toString();
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,ino,nlink", LinkOption.NOFOLLOW_LINKS);
            StringBuilder d = new StringBuilder(Integer.toOctalString((Integer) a.get("mode")))
                    .append(' ').append(a.get("uid")).append(':').append(a.get("gid"));
            if (Files.isSymbolicLink(p)) {
                d.append(" -> ").append(Files.readSymbolicLink(p));
            } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                try (InputStream in = Files.newInputStream(p)) {
                    d.append(" sha=").append(Digester.digest(in, "sha256").hex(), 0, 12);
                }
                if (((Number) a.get("nlink")).intValue() > 1) {
                    d.append(" links=").append(firstByInode.computeIfAbsent(a.get("ino"), k -> rel));
                }
            }
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                List<String> xattrs = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class,
                        LinkOption.NOFOLLOW_LINKS).list();
                if (!xattrs.isEmpty()) {
                    d.append(" xattrs=").append(new TreeSet<>(xattrs));
                }
            }
            out.put(rel, d.toString());
        }
        return out;
    }
}
