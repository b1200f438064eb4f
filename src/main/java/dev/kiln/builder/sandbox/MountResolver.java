package dev.kiln.builder.sandbox;

import dev.kiln.builder.dockerfile.Mount;
import dev.kiln.builder.rootfs.RootfsPath;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a RUN's parsed {@code --mount} specs ({@link Mount}, already {@link Mount#resolve resolved}
 * when they held variables) into {@link RunMount}s with their host side:
 * <ul>
 * <li>{@code bind}: {@code source} inside the build context ({@code from} unset) or inside the root
 * of another stage or image, as {@link BindRoots} says; never outside that root.</li>
 * <li>{@code cache}: a persistent directory per id (default: the target) under the cache root,
 * created with the spec's mode/uid/gid; {@code sharing=locked} and {@code private} hold an
 * exclusive lock on it until {@link #close()} (private does not make a second instance).</li>
 * <li>{@code secret}: from a file or a value ({@link SecretSource}), copied into a private
 * temporary file with the spec's mode (default 0400) and owner, mounted at the target (default
 * {@code /run/secrets/<id>}); a missing secret is an error when {@code required}, else skipped.</li>
 * <li>{@code tmpfs}: as is. {@code ssh} is not supported.</li>
 * </ul>
 * Close the resolver after the run: it deletes the secret copies and releases cache locks.
 */
public final class MountResolver implements AutoCloseable {

    /** Where a bind mount's {@code from} points on the host: null is the build context. */
    @FunctionalInterface
    public interface BindRoots {
        Path root(String from) throws IOException;
    }

    /** A secret's content: a host file or a literal value (from an environment variable, say). */
    public record SecretSource(Path file, byte[] value) {
        public static SecretSource file(Path file) {
            return new SecretSource(file, null);
        }

        public static SecretSource value(String value) {
            return new SecretSource(null, value.getBytes(StandardCharsets.UTF_8));
        }
    }

    private final Path cacheRoot;
    private final Map<String, SecretSource> secrets;
    private final BindRoots bindRoots;
    private final boolean canChown;
    private final List<FileLock> locks = new ArrayList<>();
    /**
     * A file lock keeps other processes out, but one JVM may hold a file's lock once only (another
     * try throws OverlappingFileLockException): RUNs of concurrent stages and builds take turns here first.
     */
    private static final Map<Path, java.util.concurrent.Semaphore> IN_PROCESS = new java.util.concurrent.ConcurrentHashMap<>();
    private final List<java.util.concurrent.Semaphore> turns = new ArrayList<>();
    private final List<String> secretEnv = new ArrayList<>();
    private Path secretDir;

    public MountResolver(Path cacheRoot, Map<String, SecretSource> secrets, BindRoots bindRoots) {
        this.cacheRoot = cacheRoot;
        this.secrets = Map.copyOf(secrets);
        this.bindRoots = bindRoots;
        this.canChown = ProcessRunner.currentUid() == 0;
    }

    /** The RUN's mounts; relative targets are relative to {@code workdir}. */
    public List<RunMount> resolve(List<Mount> mounts) throws IOException {
        List<RunMount> out = new ArrayList<>();
        for (Mount m : mounts) {
            RunMount r = resolve(m);
            if (r != null) {
                out.add(r);
            }
        }
        return out;
    }

    /** {@code K=V} entries for secrets with {@code env=}: the caller adds them to the RUN's environment. */
    public List<String> secretEnvironment() {
        return List.copyOf(secretEnv);
    }

    private RunMount resolve(Mount m) throws IOException {
        switch (m.type()) {
            case BIND: {
                Path root = bindRoots.root(m.from());
                if (root == null) {
                    throw new SandboxException("no source for bind mount from " + m.from());
                }
                String source = m.source() == null || m.source().isEmpty() ? "/" : m.source();
                Path host = RootfsPath.of(root).resolve(source);
                if (!Files.exists(host)) {
                    throw new SandboxException("bind mount source " + source + " not found"
                            + (m.from() == null ? " in the build context" : " in " + m.from()));
                }
                return new RunMount.Bind(host, m.target(), m.readOnly());
            }
            case CACHE:
                return cache(m);
            case SECRET:
                return secret(m);
            case TMPFS:
                return new RunMount.Tmpfs(m.target(), m.sizeBytes());
            default:
                throw new SandboxException("RUN --mount=type=" + m.type().name().toLowerCase() + " is not supported");
        }
    }

    private RunMount cache(Mount m) throws IOException {
        if (cacheRoot == null) {
            throw new SandboxException("cache mounts need a cache directory");
        }
        String id = m.id() == null || m.id().isEmpty() ? m.target() : m.id();
        Path dir = cacheRoot.resolve(dirName(id));
        Files.createDirectories(cacheRoot);
        if (m.sharing() == Mount.Sharing.LOCKED || m.sharing() == Mount.Sharing.PRIVATE) {
            Path lockFile = cacheRoot.resolve(dirName(id) + ".lock").toAbsolutePath().normalize();
            java.util.concurrent.Semaphore turn = IN_PROCESS.computeIfAbsent(lockFile, f -> new java.util.concurrent.Semaphore(1));
            try {
                turn.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the cache mount " + id);
            }
            turns.add(turn);
            FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            locks.add(ch.lock());
        }
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            int mode = m.mode() == null ? 0755 : m.mode();
            Files.setPosixFilePermissions(dir, permissions(mode));
            chown(dir, m.uid(), m.gid());
        }
        Path target = dir;
        if (m.source() != null && !m.source().isEmpty()) {
            target = RootfsPath.of(dir).resolve(m.source());
            Files.createDirectories(target);
        }
        return new RunMount.Cache(target, m.target(), m.readOnly());
    }

    private RunMount secret(Mount m) throws IOException {
        String id = m.id();
        if (id == null || id.isEmpty()) {
            id = m.source();
        }
        if ((id == null || id.isEmpty()) && m.target() != null) {
            id = Path.of(m.target()).getFileName().toString();
        }
        if ((id == null || id.isEmpty()) && m.env() != null) {
            id = m.env();
        }
        SecretSource source = secrets.get(id);
        if (source == null) {
            if (m.required()) {
                throw new SandboxException("secret " + id + " not found");
            }
            return null;
        }
        byte[] content = source.value() != null ? source.value() : Files.readAllBytes(source.file());
        if (m.env() != null) {
            secretEnv.add(m.env() + "=" + new String(content, StandardCharsets.UTF_8));
            if (m.target() == null) {
                return null;
            }
        }
        if (secretDir == null) {
            secretDir = Files.createTempDirectory("kiln-secrets-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Path file = secretDir.resolve(dirName(id) + "-" + locks.size() + "-" + secretEnv.size() + "-" + System.nanoTime());
        Files.write(file, content, StandardOpenOption.CREATE_NEW);
        Files.setPosixFilePermissions(file, permissions(m.mode() == null ? 0400 : m.mode()));
        chown(file, m.uid(), m.gid());
        String target = m.target() == null || m.target().isEmpty() ? "/run/secrets/" + id : m.target();
        return new RunMount.Secret(file, target);
    }

    private void chown(Path p, Long uid, Long gid) throws IOException {
        if (canChown) {
            Files.setAttribute(p, "unix:uid", (int) (uid == null ? 0 : uid), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:gid", (int) (gid == null ? 0 : gid), LinkOption.NOFOLLOW_LINKS);
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        StringBuilder s = new StringBuilder();
        String rwx = "rwx";
        for (int i = 8; i >= 0; i--) {
            s.append((mode & (1 << i)) != 0 ? rwx.charAt(2 - i % 3) : '-');
        }
        return PosixFilePermissions.fromString(s.toString());
    }

    /** A readable, collision-free directory name for a cache or secret id. */
    static String dirName(String id) {
        String safe = id.replaceAll("[^A-Za-z0-9._-]", "_");
        if (safe.length() > 40) {
            safe = safe.substring(0, 40);
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
            return safe + "-" + HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        for (FileLock lock : locks) {
            try {
                lock.release();
                lock.channel().close();
            } catch (IOException e) {
                // already gone
            }
        }
        locks.clear();
        turns.forEach(java.util.concurrent.Semaphore::release);
        turns.clear();
        if (secretDir != null) {
            RunSetup.deleteTree(secretDir);
            secretDir = null;
        }
    }
}
