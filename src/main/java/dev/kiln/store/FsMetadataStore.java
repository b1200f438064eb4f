package dev.kiln.store;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidDigestException;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.Tag;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Repository metadata as small files under {@code repositories/<name>/}. Repository names never start
 * with '_', so the {@code _layers}, {@code _manifests}, {@code _tags} and {@code _referrers} folders
 * cannot collide with a nested repository such as {@code a/b} inside {@code a}.
 */
public final class FsMetadataStore implements MetadataStore {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final List<String> MARKERS = List.of("_layers", "_manifests", "_tags");

    private final Path repositories;

    public FsMetadataStore(Path root) throws IOException {
        this.repositories = root.resolve("repositories");
        FsFiles.createDirectories(repositories);
    }

    private Path repo(RepositoryName name) {
        return repositories.resolve(name.value());
    }

    private Path layer(RepositoryName name, Digest digest) {
        return repo(name).resolve("_layers").resolve(digest.algorithm()).resolve(digest.hex());
    }

    private Path manifest(RepositoryName name, Digest digest) {
        return repo(name).resolve("_manifests").resolve(digest.algorithm()).resolve(digest.hex());
    }

    private Path tagFile(RepositoryName name, String tag) {
        if (!Tag.isValid(tag)) {
            throw new IllegalArgumentException("invalid tag: " + tag);
        }
        return repo(name).resolve("_tags").resolve(tag);
    }

    private Path referrerDir(RepositoryName name, Digest subject) {
        return repo(name).resolve("_referrers").resolve(subject.algorithm()).resolve(subject.hex());
    }

    @Override
    public void linkBlob(RepositoryName repository, Digest digest) throws IOException {
        Path link = layer(repository, digest);
        if (!Files.exists(link)) {
            FsFiles.atomicWrite(link, digest.toString());
        }
    }

    @Override
    public boolean hasBlob(RepositoryName repository, Digest digest) {
        return Files.exists(layer(repository, digest));
    }

    @Override
    public boolean unlinkBlob(RepositoryName repository, Digest digest) throws IOException {
        return Files.deleteIfExists(layer(repository, digest));
    }

    @Override
    public List<Digest> blobs(RepositoryName repository) throws IOException {
        return digestsUnder(repo(repository).resolve("_layers"));
    }

    @Override
    public void linkManifest(RepositoryName repository, Digest digest, String mediaType) throws IOException {
        FsFiles.atomicWrite(manifest(repository, digest), mediaType);
    }

    @Override
    public Optional<String> manifestMediaType(RepositoryName repository, Digest digest) throws IOException {
        return FsFiles.readString(manifest(repository, digest));
    }

    @Override
    public boolean unlinkManifest(RepositoryName repository, Digest digest) throws IOException {
        return Files.deleteIfExists(manifest(repository, digest));
    }

    @Override
    public List<Digest> manifests(RepositoryName repository) throws IOException {
        return digestsUnder(repo(repository).resolve("_manifests"));
    }

    private static List<Digest> digestsUnder(Path dir) throws IOException {
        List<Digest> digests = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return digests;
        }
        try (DirectoryStream<Path> algorithms = Files.newDirectoryStream(dir)) {
            for (Path algorithm : algorithms) {
                try (DirectoryStream<Path> files = Files.newDirectoryStream(algorithm)) {
                    for (Path file : files) {
                        try {
                            digests.add(new Digest(algorithm.getFileName().toString(), file.getFileName().toString()));
                        } catch (InvalidDigestException ignored) {
                            // a temp file of an interrupted write
                        }
                    }
                }
            }
        } catch (NoSuchFileException e) {
            return digests;
        }
        Collections.sort(digests);
        return digests;
    }

    @Override
    public void tag(RepositoryName repository, String tag, Digest digest) throws IOException {
        FsFiles.atomicWrite(tagFile(repository, tag), digest.toString());
    }

    @Override
    public Optional<Digest> resolveTag(RepositoryName repository, String tag) throws IOException {
        return FsFiles.readString(tagFile(repository, tag)).map(Digest::parse);
    }

    @Override
    public boolean untag(RepositoryName repository, String tag) throws IOException {
        return Files.deleteIfExists(tagFile(repository, tag));
    }

    @Override
    public List<String> tags(RepositoryName repository) throws IOException {
        List<String> tags = new ArrayList<>();
        Path dir = repo(repository).resolve("_tags");
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path file : files) {
                    String name = file.getFileName().toString();
                    if (Tag.isValid(name)) {
                        tags.add(name);
                    }
                }
            } catch (NoSuchFileException ignored) {
                // repository deleted meanwhile
            }
        }
        Collections.sort(tags);
        return tags;
    }

    @Override
    public void addReferrer(RepositoryName repository, Digest subject, Descriptor referrer) throws IOException {
        Digest digest = referrer.parsedDigest();
        FsFiles.atomicWrite(referrerDir(repository, subject).resolve(digest.algorithm() + "-" + digest.hex() + ".json"),
                JSON.writeValueAsBytes(referrer));
    }

    @Override
    public boolean removeReferrer(RepositoryName repository, Digest subject, Digest referrer) throws IOException {
        return Files.deleteIfExists(referrerDir(repository, subject).resolve(referrer.algorithm() + "-" + referrer.hex() + ".json"));
    }

    @Override
    public List<Descriptor> referrers(RepositoryName repository, Digest subject) throws IOException {
        List<Descriptor> result = new ArrayList<>();
        Path dir = referrerDir(repository, subject);
        if (!Files.isDirectory(dir)) {
            return result;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
            for (Path file : files) {
                try {
                    result.add(JSON.readValue(file.toFile(), Descriptor.class));
                } catch (NoSuchFileException ignored) {
                    // removed meanwhile
                }
            }
        }
        result.sort((a, b) -> a.digest().compareTo(b.digest()));
        return result;
    }

    @Override
    public List<RepositoryName> repositories() throws IOException {
        List<RepositoryName> names = new ArrayList<>();
        collect(repositories, names);
        Collections.sort(names);
        return names;
    }

    private void collect(Path dir, List<RepositoryName> names) throws IOException {
        boolean isRepository = false;
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (MARKERS.contains(name) && hasContent(entry)) {
                    isRepository = true;
                } else if (!name.startsWith("_") && !name.startsWith(".") && Files.isDirectory(entry)) {
                    children.add(entry);
                }
            }
        } catch (NoSuchFileException e) {
            return;
        }
        if (isRepository && !dir.equals(repositories)) {
            try {
                names.add(new RepositoryName(repositories.relativize(dir).toString()));
            } catch (InvalidNameException ignored) {
                // a folder made by hand
            }
        }
        for (Path child : children) {
            collect(child, names);
        }
    }

    private static boolean hasContent(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            return files.anyMatch(Files::isRegularFile);
        }
    }
}
