package dev.kiln.registry.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.Digester;
import dev.kiln.oci.InvalidDigestException;
import dev.kiln.oci.InvalidManifestException;
import dev.kiln.oci.Manifest;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.RepositoryName;
import dev.kiln.oci.Tag;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import dev.kiln.store.BlobInfo;
import dev.kiln.store.BlobNotFoundException;
import dev.kiln.store.BlobWriter;
import dev.kiln.store.DigestMismatchException;
import dev.kiln.store.ManifestLimits;
import dev.kiln.store.ManifestLinks;
import dev.kiln.store.Store;
import dev.kiln.store.UploadNotFoundException;
import dev.kiln.store.UploadOffsetException;
import dev.kiln.store.UploadSession;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The OCI distribution API over the store, for repositories in the local namespaces: every rule of
 * the spec lives here, so the HTTP layer only parses requests and writes answers.
 */
public final class RegistryService {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Store store;
    private final NamespacePolicy namespaces;

    public RegistryService(Store store, NamespacePolicy namespaces) {
        this.store = store;
        this.namespaces = namespaces;
    }

    public Store store() {
        return store;
    }

    public NamespacePolicy namespaces() {
        return namespaces;
    }

    // ---- blobs

    public BlobLocation blob(RepositoryName name, Digest digest) throws IOException {
        if (!store.metadata().hasBlob(name, digest)) {
            throw blobUnknown(digest);
        }
        Optional<BlobInfo> info = store.blobs().stat(digest);
        if (info.isEmpty()) {
            throw blobUnknown(digest);
        }
        return new BlobLocation(digest, info.get().size(), "application/octet-stream");
    }

    public void deleteBlob(RepositoryName name, Digest digest) throws IOException {
        namespaces.requireWritable(name, "delete from");
        if (!store.metadata().unlinkBlob(name, digest)) {
            throw blobUnknown(digest);
        }
    }

    private static RegistryException blobUnknown(Digest digest) {
        return new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not in this repository",
                Map.of("digest", digest.toString()));
    }

    // ---- uploads

    public UploadState startUpload(RepositoryName name) throws IOException {
        namespaces.requireWritable(name, "push to");
        UploadSession session = store.uploads().create(name);
        return new UploadState(name, session.id(), 0);
    }

    /** Cross-repository mount: links the blob when {@code from} has it, else empty (the client uploads). */
    public Optional<Digest> mount(RepositoryName name, Digest digest, RepositoryName from) throws IOException {
        namespaces.requireWritable(name, "push to");
        if (from == null || !store.metadata().hasBlob(from, digest) || !store.blobs().exists(digest)) {
            return Optional.empty();
        }
        store.blobs().touch(digest);
        store.metadata().linkBlob(name, digest);
        return Optional.of(digest);
    }

    public UploadState uploadStatus(RepositoryName name, String id) throws IOException {
        return state(session(name, id));
    }

    public UploadState appendChunk(RepositoryName name, String id, InputStream body, long start, long contentLength) throws IOException {
        namespaces.requireWritable(name, "push to");
        UploadSession before = session(name, id);
        try {
            UploadSession after = store.uploads().append(id, body, start);
            checkLength(contentLength, after.size() - before.size());
            return state(after);
        } catch (UploadOffsetException e) {
            throw rangeInvalid(name, id, e);
        } catch (UploadNotFoundException e) {
            throw uploadUnknown(id);
        }
    }

    public Digest completeUpload(RepositoryName name, String id, Digest digest, InputStream body, long start, long contentLength)
            throws IOException {
        namespaces.requireWritable(name, "push to");
        UploadSession before = session(name, id);
        try {
            if (contentLength != 0) {
                UploadSession after = store.uploads().append(id, body, start);
                checkLength(contentLength, after.size() - before.size());
            }
            Digest committed = store.uploads().commit(id, digest);
            store.metadata().linkBlob(name, committed);
            return committed;
        } catch (UploadOffsetException e) {
            throw rangeInvalid(name, id, e);
        } catch (UploadNotFoundException e) {
            throw uploadUnknown(id);
        } catch (DigestMismatchException e) {
            throw digestInvalid(e);
        }
    }

    public void cancelUpload(RepositoryName name, String id) throws IOException {
        namespaces.requireWritable(name, "push to");
        session(name, id);
        store.uploads().cancel(id);
    }

    private UploadSession session(RepositoryName name, String id) throws IOException {
        return store.uploads().find(id)
                .filter(s -> s.repository().equals(name))
                .orElseThrow(() -> uploadUnknown(id));
    }

    private static UploadState state(UploadSession session) {
        return new UploadState(session.repository(), session.id(), session.size());
    }

    private static void checkLength(long declared, long actual) {
        if (declared >= 0 && declared != actual) {
            throw new RegistryException(ErrorCode.SIZE_INVALID,
                    "Content-Length was " + declared + " but " + actual + " bytes arrived");
        }
    }

    private static RegistryException uploadUnknown(String id) {
        return new RegistryException(ErrorCode.BLOB_UPLOAD_UNKNOWN, "upload " + id + " is unknown or has expired");
    }

    private static RegistryException rangeInvalid(RepositoryName name, String id, UploadOffsetException e) {
        UploadState state = new UploadState(name, id, e.currentSize());
        return new RegistryException(ErrorCode.RANGE_INVALID, 416, e.getMessage() + "; resume from byte " + e.currentSize(),
                null, Map.of("Location", state.location(), "Range", state.range(), "Docker-Upload-UUID", id));
    }

    private static RegistryException digestInvalid(DigestMismatchException e) {
        return new RegistryException(ErrorCode.DIGEST_INVALID, e.getMessage(),
                Map.of("expected", e.expected().toString(), "actual", e.actual().toString()));
    }

    // ---- manifests

    public BlobLocation manifest(RepositoryName name, String reference, List<String> accepted) throws IOException {
        Digest digest = resolve(name, reference);
        String mediaType = store.metadata().manifestMediaType(name, digest).orElseThrow(() -> manifestUnknown(name, reference));
        if (!MediaTypes.accepts(accepted, mediaType)) {
            throw new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "manifest " + name + ":" + reference + " is a " + mediaType
                    + ", which the request's Accept header does not include", Map.of("mediaType", mediaType));
        }
        Optional<BlobInfo> info = store.blobs().stat(digest);
        if (info.isEmpty()) {
            throw manifestUnknown(name, reference);
        }
        return new BlobLocation(digest, info.get().size(), mediaType);
    }

    private Digest resolve(RepositoryName name, String reference) throws IOException {
        if (Digest.isDigest(reference)) {
            return parseDigest(reference);
        }
        if (!Tag.isValid(reference)) {
            // No manifest can have such a tag; distribution, zot and the conformance suite answer 404 here, not 400.
            throw manifestUnknown(name, reference);
        }
        return store.metadata().resolveTag(name, reference).orElseThrow(() -> manifestUnknown(name, reference));
    }

    public static Digest parseDigest(String text) {
        try {
            return Digest.parse(text);
        } catch (InvalidDigestException e) {
            throw new RegistryException(ErrorCode.DIGEST_INVALID, e.getMessage(), Map.of("digest", String.valueOf(text)));
        }
    }

    private static RegistryException manifestUnknown(RepositoryName name, String reference) {
        return new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "manifest " + name + (Digest.isDigest(reference) ? "@" : ":")
                + reference + " is unknown", Map.of("name", name.value(), "reference", reference));
    }

    public ManifestPut putManifest(RepositoryName name, String reference, String contentType, byte[] body) throws IOException {
        namespaces.requireWritable(name, "push to");
        if (body.length > ManifestLimits.MAX_MANIFEST_BYTES) {
            throw new RegistryException(ErrorCode.SIZE_INVALID, 413, "manifest is larger than "
                    + ManifestLimits.MAX_MANIFEST_BYTES + " bytes", null, Map.of());
        }
        Digest digest;
        String tag = null;
        if (Digest.isDigest(reference)) {
            Digest expected = parseDigest(reference);
            digest = Digester.forAlgorithm(expected.algorithm()).update(body).digest();
            if (!digest.equals(expected)) {
                throw new RegistryException(ErrorCode.DIGEST_INVALID, "manifest content hashes to " + digest
                        + ", not to the reference " + expected, Map.of("expected", expected.toString(), "actual", digest.toString()));
            }
        } else {
            if (!Tag.isValid(reference)) {
                throw new RegistryException(ErrorCode.MANIFEST_INVALID, "invalid tag " + reference
                        + ": tags are up to 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'");
            }
            tag = reference;
            digest = Digest.sha256(body);
        }
        Manifest manifest;
        try {
            manifest = Manifest.parse(body, contentType);
        } catch (InvalidManifestException e) {
            throw new RegistryException(ErrorCode.MANIFEST_INVALID, e.getMessage());
        }
        List<Digest> referenced = checkReferences(name, manifest);

        try (BlobWriter writer = store.blobs().newWriter()) {
            writer.write(body, 0, body.length);
            writer.commit(digest);
        } catch (DigestMismatchException e) {
            throw digestInvalid(e);
        }
        try {
            ManifestLinks.link(store, name, digest, manifest.mediaType(), referenced);
        } catch (BlobNotFoundException e) {
            throw new RegistryException(ErrorCode.MANIFEST_BLOB_UNKNOWN, e.getMessage()
                    + ": garbage collection removed it while the manifest was pushed; push it again", Map.of());
        }
        if (tag != null) {
            store.metadata().tag(name, tag, digest);
        }
        Digest subject = null;
        if (manifest.subject() != null) {
            subject = manifest.subject().parsedDigest();
            store.metadata().addReferrer(name, subject, new Descriptor(manifest.mediaType(), digest.toString(), body.length,
                    manifest.effectiveArtifactType(), manifest.annotations(), null, null));
        }
        return new ManifestPut(digest, subject);
    }

    private List<Digest> checkReferences(RepositoryName name, Manifest manifest) throws IOException {
        List<Digest> referenced = new ArrayList<>();
        List<Descriptor> required = manifest.isIndex() ? manifest.manifests() : manifest.blobReferences().toList();
        for (Descriptor descriptor : required) {
            boolean byUrl = descriptor.urls() != null && !descriptor.urls().isEmpty();
            if (byUrl && descriptor != manifest.config()) {
                continue; // non-distributable layers live elsewhere by design
            }
            Digest digest = descriptor.parsedDigest();
            boolean present = manifest.isIndex()
                    ? store.metadata().manifestMediaType(name, digest).isPresent()
                    : store.metadata().hasBlob(name, digest) && store.blobs().exists(digest);
            if (!present && byUrl) {
                // clients read the config from this registry only: a URL elsewhere does not make an image they can pull
                throw new RegistryException(ErrorCode.MANIFEST_INVALID, "the config " + digest
                        + " is listed only by URL; push the config blob to " + name + " first");
            }
            if (!present) {
                throw new RegistryException(ErrorCode.MANIFEST_BLOB_UNKNOWN, (manifest.isIndex() ? "manifest " : "blob ")
                        + digest + " referenced by the manifest is not in " + name + "; push it first",
                        Map.of("digest", digest.toString()));
            }
            if (!manifest.isIndex()) {
                referenced.add(digest);
            }
        }
        return referenced;
    }

    public void deleteManifest(RepositoryName name, String reference) throws IOException {
        namespaces.requireWritable(name, "delete from");
        if (!Digest.isDigest(reference)) {
            if (!Tag.isValid(reference) || !store.metadata().untag(name, reference)) {
                throw manifestUnknown(name, reference);
            }
            return;
        }
        Digest digest = parseDigest(reference);
        Optional<String> mediaType = store.metadata().manifestMediaType(name, digest);
        if (mediaType.isEmpty()) {
            throw manifestUnknown(name, reference);
        }
        Manifest manifest = readManifest(digest, mediaType.get());
        if (manifest != null && manifest.subject() != null) {
            store.metadata().removeReferrer(name, manifest.subject().parsedDigest(), digest);
        }
        for (String tag : store.metadata().tags(name)) {
            if (store.metadata().resolveTag(name, tag).filter(digest::equals).isPresent()) {
                store.metadata().untag(name, tag);
            }
        }
        store.metadata().unlinkManifest(name, digest);
    }

    private Manifest readManifest(Digest digest, String mediaType) throws IOException {
        try (InputStream in = store.blobs().open(digest, 0)) {
            return Manifest.parse(in.readNBytes(ManifestLimits.MAX_MANIFEST_BYTES + 1), mediaType);
        } catch (BlobNotFoundException | InvalidManifestException e) {
            return null;
        }
    }

    // ---- listings

    public Page tags(RepositoryName name, Integer n, String last) throws IOException {
        List<String> tags = store.metadata().tags(name);
        if (tags.isEmpty() && store.metadata().manifests(name).isEmpty() && store.metadata().blobs(name).isEmpty()) {
            throw new RegistryException(ErrorCode.NAME_UNKNOWN, "repository " + name + " is unknown", Map.of("name", name.value()));
        }
        return Page.of(tags, n, last);
    }

    /**
     * Repositories someone pushed to, or pulled an image of: a local one with any content, a
     * mirrored one only once it holds a manifest. A blob HEAD under a mirrored name links the blob
     * (so eviction and GC see it) but names no image anyone could pull.
     */
    public Page catalog(Integer n, String last) throws IOException {
        List<String> names = new ArrayList<>();
        for (RepositoryName name : store.metadata().repositories()) {
            if (namespaces.isLocal(name) || !store.metadata().manifests(name).isEmpty()) {
                names.add(name.value());
            }
        }
        return Page.of(names, n, last);
    }

    /** The referrers of {@code subject} as an OCI image index, filtered by artifact type when asked. */
    public byte[] referrers(RepositoryName name, Digest subject, String artifactType) throws IOException {
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        ArrayNode manifests = index.putArray("manifests");
        for (Descriptor descriptor : store.metadata().referrers(name, subject)) {
            if (artifactType == null || artifactType.equals(descriptor.artifactType())) {
                manifests.add(JSON.valueToTree(descriptor));
            }
        }
        return JSON.writeValueAsBytes(index);
    }
}
