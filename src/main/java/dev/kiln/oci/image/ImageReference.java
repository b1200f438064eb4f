package dev.kiln.oci.image;

import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidDigestException;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.Tag;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * An image reference {@code [registry[:port]/]name[:tag][@digest]} normalised with Docker's rules: no
 * registry means {@code docker.io}, one-component Docker Hub names get {@code library/}, a first
 * component is a registry when it is {@code localhost} or contains {@code .} or {@code :}, and a
 * reference with neither tag nor digest means {@code :latest}. {@code tag} is null only for digest-only
 * references.
 */
public record ImageReference(String registry, RepositoryName repository, String tag, Digest digest) {
    public static final String DOCKER_HUB = "docker.io";
    public static final String DEFAULT_TAG = "latest";
    private static final Pattern HOST = Pattern.compile(
            "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?");

    public ImageReference {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(repository, "repository");
        if (!HOST.matcher(registry).matches()) {
            throw new InvalidNameException("invalid registry host '" + registry + "'");
        }
        if (tag == null && digest == null) {
            tag = DEFAULT_TAG;
        }
        if (tag != null && !Tag.isValid(tag)) {
            throw new InvalidNameException("invalid tag '" + tag + "': up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'");
        }
    }

    public static ImageReference parse(String text) {
        if (text == null || text.isBlank()) {
            throw new InvalidNameException("image reference is empty");
        }
        if (!text.equals(text.strip())) {
            throw new InvalidNameException("image reference '" + text + "' has leading or trailing whitespace");
        }
        String rest = text;
        Digest digest = null;
        int at = rest.indexOf('@');
        if (at >= 0) {
            try {
                digest = Digest.parse(rest.substring(at + 1));
            } catch (InvalidDigestException e) {
                throw new InvalidNameException("invalid digest in image reference '" + text + "': " + e.getMessage());
            }
            rest = rest.substring(0, at);
        }
        String tag = null;
        int colon = rest.lastIndexOf(':');
        if (colon > rest.lastIndexOf('/')) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
            if (!Tag.isValid(tag)) {
                throw new InvalidNameException("invalid tag '" + tag + "' in image reference '" + text + "'");
            }
        }
        String registry = DOCKER_HUB;
        String name = rest;
        int slash = rest.indexOf('/');
        if (slash > 0) {
            String first = rest.substring(0, slash);
            if (first.equals("localhost") || first.contains(".") || first.contains(":") || !first.equals(first.toLowerCase())) {
                registry = first;
                name = rest.substring(slash + 1);
            }
        }
        if (registry.equals("index.docker.io") || registry.equals("registry-1.docker.io")) {
            registry = DOCKER_HUB;
        }
        if (name.isEmpty()) {
            throw new InvalidNameException("image reference '" + text + "' has no repository name");
        }
        if (registry.equals(DOCKER_HUB) && !name.contains("/")) {
            name = "library/" + name;
        }
        if (!name.equals(name.toLowerCase())) {
            throw new InvalidNameException("invalid image reference '" + text + "': repository name must be lower-case");
        }
        RepositoryName repository;
        try {
            repository = new RepositoryName(name);
        } catch (InvalidNameException e) {
            throw new InvalidNameException("invalid image reference '" + text + "': " + e.getMessage());
        }
        return new ImageReference(registry, repository, tag, digest);
    }

    /** Registry and repository, e.g. {@code docker.io/library/busybox}: where the image lives. */
    public String context() {
        return registry + "/" + repository;
    }

    /** What to ask {@code /v2/<name>/manifests/} for: the digest when there is one, else the tag. */
    public String reference() {
        return digest != null ? digest.toString() : tag;
    }

    public boolean isDockerHub() {
        return registry.equals(DOCKER_HUB);
    }

    public ImageReference withRegistry(String newRegistry) {
        return new ImageReference(newRegistry, repository, tag, digest);
    }

    public ImageReference withRepository(RepositoryName newRepository) {
        return new ImageReference(registry, newRepository, tag, digest);
    }

    public ImageReference withTag(String newTag) {
        return new ImageReference(registry, repository, newTag, digest);
    }

    /** The same image pinned to {@code newDigest}; the tag is kept for display. */
    public ImageReference withDigest(Digest newDigest) {
        return new ImageReference(registry, repository, tag, newDigest);
    }

    /** Canonical form: {@code registry/repository[:tag][@digest]}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(context());
        if (tag != null) {
            s.append(':').append(tag);
        }
        if (digest != null) {
            s.append('@').append(digest);
        }
        return s.toString();
    }
}
