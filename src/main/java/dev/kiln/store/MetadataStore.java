package dev.kiln.store;

import dev.kiln.oci.Descriptor;
import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/** Per-repository links to blobs: which blobs and manifests a repository has, its tags and referrers. */
public interface MetadataStore {
    void linkBlob(RepositoryName repository, Digest digest) throws IOException;

    boolean hasBlob(RepositoryName repository, Digest digest) throws IOException;

    boolean unlinkBlob(RepositoryName repository, Digest digest) throws IOException;

    List<Digest> blobs(RepositoryName repository) throws IOException;

    void linkManifest(RepositoryName repository, Digest digest, String mediaType) throws IOException;

    /** The media type the manifest was pushed with, when the repository has it. */
    Optional<String> manifestMediaType(RepositoryName repository, Digest digest) throws IOException;

    boolean unlinkManifest(RepositoryName repository, Digest digest) throws IOException;

    List<Digest> manifests(RepositoryName repository) throws IOException;

    void tag(RepositoryName repository, String tag, Digest digest) throws IOException;

    Optional<Digest> resolveTag(RepositoryName repository, String tag) throws IOException;

    boolean untag(RepositoryName repository, String tag) throws IOException;

    /** Tags in lexical order. */
    List<String> tags(RepositoryName repository) throws IOException;

    void addReferrer(RepositoryName repository, Digest subject, Descriptor referrer) throws IOException;

    boolean removeReferrer(RepositoryName repository, Digest subject, Digest referrer) throws IOException;

    List<Descriptor> referrers(RepositoryName repository, Digest subject) throws IOException;

    /** Repositories that hold anything, in lexical order. */
    List<RepositoryName> repositories() throws IOException;
}
