package dev.kiln.builder.gateway;

import dev.kiln.oci.Digest;
import dev.kiln.store.FsFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One-time tokens that let a build running elsewhere (a Kubernetes pod) download its uploaded
 * context once, from {@code GET /api/v1/builds/{id}/context?token=…}. Only the token's SHA-256 is
 * kept, in {@code <id>/context.token}, so it survives a gateway restart and a leaked build
 * directory does not leak the token. A complete download consumes it together with the context;
 * a download cut short leaves it usable. One download at a time per build.
 */
public final class ContextTokens {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final BuildFiles files;
    private final Set<String> downloading = ConcurrentHashMap.newKeySet();

    public ContextTokens(BuildFiles files) {
        this.files = files;
    }

    /** A new token for build {@code id}'s uploaded context, replacing any earlier one. */
    public String issue(String id) throws IOException {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        FsFiles.atomicWrite(files.contextToken(id), hash(token).getBytes(StandardCharsets.US_ASCII));
        return token;
    }

    /** Whether build {@code id} has a token that was not used up yet. */
    public boolean issued(String id) {
        return Files.exists(files.contextToken(id));
    }

    /** A context being downloaded: {@link #consumed} once every byte went out, else {@link #release}. */
    public final class Download {
        private final String id;
        private final Path archive;
        private final long size;

        private Download(String id, Path archive, long size) {
            this.id = id;
            this.archive = archive;
            this.size = size;
        }

        public Path archive() {
            return archive;
        }

        public long size() {
            return size;
        }

        /** The whole context went out: the token and the context are gone. */
        public void consumed() {
            try {
                Files.deleteIfExists(files.contextToken(id));
                Files.deleteIfExists(archive);
            } catch (IOException ignored) {
                // removed with the build's other transient files when it ends
            } finally {
                downloading.remove(id);
            }
        }

        /** The download failed: the token stays valid for another try. */
        public void release() {
            downloading.remove(id);
        }
    }

    /**
     * Starts the download of build {@code id}'s context for the holder of {@code token}.
     *
     * @throws BuildRequestException 401 without a token; 403 for a wrong, used or unknown one, and
     *                               while another download with it is under way
     */
    public Download open(String id, String token) {
        if (token == null || token.isEmpty()) {
            throw new BuildRequestException(401, "context-token-required", "Context token required",
                    "the build context is served only with the one-time token its build was given (?token=…)");
        }
        if (!BuildFiles.isId(id) || !matches(id, token)) {
            throw forbidden("the token does not open the context of build " + id + " (wrong, or already used)");
        }
        if (!downloading.add(id)) {
            throw forbidden("the context of build " + id + " is being downloaded already");
        }
        try {
            Path archive = files.context(id);
            return new Download(id, archive, Files.size(archive));
        } catch (IOException e) {
            downloading.remove(id);
            throw forbidden("build " + id + " has no context to download any more");
        }
    }

    private boolean matches(String id, String token) {
        byte[] expected;
        try {
            expected = Files.readAllBytes(files.contextToken(id));
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + files.contextToken(id) + ": " + e.getMessage(), e);
        }
        return MessageDigest.isEqual(expected, hash(token).getBytes(StandardCharsets.US_ASCII));
    }

    private static BuildRequestException forbidden(String detail) {
        return new BuildRequestException(403, "context-token-invalid", "Context token not valid", detail);
    }

    private static String hash(String token) {
        return Digest.sha256(token.getBytes(StandardCharsets.UTF_8)).toString();
    }
}
