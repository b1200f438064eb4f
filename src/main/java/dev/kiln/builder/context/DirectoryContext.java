package dev.kiln.builder.context;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code dir://PATH} or a plain path: the directory is the context, nothing is copied. */
record DirectoryContext(Path directory) implements ContextSource {

    @Override
    public Path materialize(Path workDir) throws ContextException {
        if (!Files.isDirectory(directory)) {
            throw new ContextException("build context " + directory + " does not exist or is not a directory");
        }
        return directory;
    }

    @Override
    public String description() {
        return "dir://" + directory;
    }
}
