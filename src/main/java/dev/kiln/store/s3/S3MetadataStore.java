package dev.kiln.store.s3;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.InvalidDigestException;
import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.Tag;
import dev.kiln.store.MetadataStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Repository metadata as small objects, in the filesystem store's layout under {@code repositories/}.
 * Every write is one PUT, so readers on any replica see the old or the new value, never a mix. Two
 * replicas tagging the same tag at once: the last PUT wins, as in distribution.
 */
public final class S3MetadataStore implements MetadataStore {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final List<String> MARKERS = List.of("/_layers/", "/_manifests/", "/_tags/");

    private final S3Objects objects;

    S3MetadataStore(S3Objects objects) {
        this.objects = objects;
    }

    private static String repo(RepositoryName name) {
        return "repositories/" + name.value() + "/";
    }

    private static String layer(RepositoryName name, Digest digest) {
        return repo(name) + "_layers/" + digest.algorithm() + "/" + digest.hex();
    }

    private static String manifest(RepositoryName name, Digest digest) {
        return repo(name) + "_manifests/" + digest.algorithm() + "/" + digest.hex();
    }

    private static String tagKey(RepositoryName name, String tag) {
        if (!Tag.isValid(tag)) {
            throw new IllegalArgumentException("invalid tag: " + tag);
        }
        return repo(name) + "_tags/" + tag;
    }

    private static String referrerDir(RepositoryName name, Digest subject) {
        return repo(name) + "_referrers/" + subject.algorithm() + "/" + subject.hex() + "/";
    }

    private Optional<String> readString(String key) throws IOException {
        return objects.getBytes(key).map(bytes -> new String(bytes, StandardCharsets.UTF_8).trim());
    }

    private void write(String key, String value) throws IOException {
        objects.put(key, value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void linkBlob(RepositoryName repository, Digest digest) throws IOException {
        if (!hasBlob(repository, digest)) {
            write(layer(repository, digest), digest.toString());
        }
    }

    @Override
    public boolean hasBlob(RepositoryName repository, Digest digest) throws IOException {
        return objects.head(layer(repository, digest)).isPresent();
    }

    @Override
    public boolean unlinkBlob(RepositoryName repository, Digest digest) throws IOException {
        return objects.delete(layer(repository, digest));
    }

    @Override
    public List<Digest> blobs(RepositoryName repository) throws IOException {
        return digestsUnder(repo(repository) + "_layers/");
    }

    @Override
    public void linkManifest(RepositoryName repository, Digest digest, String mediaType) throws IOException {
        write(manifest(repository, digest), mediaType);
    }

    @Override
    public Optional<String> manifestMediaType(RepositoryName repository, Digest digest) throws IOException {
        return readString(manifest(repository, digest));
    }

    @Override
    public boolean unlinkManifest(RepositoryName repository, Digest digest) throws IOException {
        return objects.delete(manifest(repository, digest));
    }

    @Override
    public List<Digest> manifests(RepositoryName repository) throws IOException {
        return digestsUnder(repo(repository) + "_manifests/");
    }

    private List<Digest> digestsUnder(String prefix) throws IOException {
        List<Digest> digests = new ArrayList<>();
        objects.list(prefix, meta -> {
            String[] parts = meta.key().substring(prefix.length()).split("/");
            if (parts.length == 2) {
                try {
                    digests.add(new Digest(parts[0], parts[1]));
                } catch (InvalidDigestException ignored) {
                    // an object put there by hand
                }
            }
        });
        digests.sort(null);
        return digests;
    }

    @Override
    public void tag(RepositoryName repository, String tag, Digest digest) throws IOException {
        write(tagKey(repository, tag), digest.toString());
    }

    @Override
    public Optional<Digest> resolveTag(RepositoryName repository, String tag) throws IOException {
        return readString(tagKey(repository, tag)).map(Digest::parse);
    }

    @Override
    public boolean untag(RepositoryName repository, String tag) throws IOException {
        return objects.delete(tagKey(repository, tag));
    }

    @Override
    public List<String> tags(RepositoryName repository) throws IOException {
        String prefix = repo(repository) + "_tags/";
        List<String> tags = new ArrayList<>();
        objects.list(prefix, meta -> {
            String name = meta.key().substring(prefix.length());
            if (Tag.isValid(name)) {
                tags.add(name);
            }
        });
        tags.sort(null);
        return tags;
    }

    @Override
    public void addReferrer(RepositoryName repository, Digest subject, Descriptor referrer) throws IOException {
        Digest digest = referrer.parsedDigest();
        objects.put(referrerDir(repository, subject) + digest.algorithm() + "-" + digest.hex() + ".json", JSON.writeValueAsBytes(referrer));
    }

    @Override
    public boolean removeReferrer(RepositoryName repository, Digest subject, Digest referrer) throws IOException {
        return objects.delete(referrerDir(repository, subject) + referrer.algorithm() + "-" + referrer.hex() + ".json");
    }

    @Override
    public List<Descriptor> referrers(RepositoryName repository, Digest subject) throws IOException {
        List<String> keys = new ArrayList<>();
        objects.list(referrerDir(repository, subject), meta -> {
            if (meta.key().endsWith(".json")) {
                keys.add(meta.key());
            }
        });
        List<Descriptor> result = new ArrayList<>();
        for (String key : keys) {
            Optional<byte[]> bytes = objects.getBytes(key);
            if (bytes.isPresent()) {
                result.add(JSON.readValue(bytes.get(), Descriptor.class));
            }
        }
        result.sort((a, b) -> a.digest().compareTo(b.digest()));
        return result;
    }

    @Override
    public List<RepositoryName> repositories() throws IOException {
        TreeSet<String> names = new TreeSet<>();
        objects.list("repositories/", meta -> {
            String key = meta.key().substring("repositories".length());
            int at = MARKERS.stream().mapToInt(key::indexOf).filter(i -> i > 0).min().orElse(-1);
            if (at > 0) {
                names.add(key.substring(1, at));
            }
        });
        List<RepositoryName> result = new ArrayList<>();
        for (String name : names) {
            try {
                result.add(new RepositoryName(name));
            } catch (InvalidNameException ignored) {
                // an object put there by hand
            }
        }
        result.sort(null);
        return result;
    }
}
