package dev.kiln.builder.context;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where a build context comes from (a directory, a tar, an https URL, a git repository, an S3
 * object). {@link #materialize} lays it out as a local directory; see {@link ContextSources#parse}
 * for the kaniko-style {@code --context} spellings.
 */
public interface ContextSource {

    /**
     * The context as a directory. Anything downloaded or unpacked goes under {@code workDir}, an
     * empty directory the caller owns and deletes; a local directory is returned as it is.
     */
    Path materialize(Path workDir) throws IOException;

    /** The context as the user named it, for messages (never with credentials). */
    String description();
}
