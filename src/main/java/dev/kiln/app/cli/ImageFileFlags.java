package dev.kiln.app.cli;

import dev.kiln.oci.Digest;
import dev.kiln.oci.image.ImageReference;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** kaniko's flags for the files a build writes besides pushing: image archives and digest files. */
class ImageFileFlags {
    @Option(names = {"--tar-path", "--tarPath"}, description = "Also write the image as a docker-archive tarball here")
    Path tarPath;

    @Option(names = "--oci-layout-path", description = "Also write the image as an OCI image layout here")
    Path ociLayoutPath;

    @Option(names = "--digest-file", description = "Write the image digest to this file")
    Path digestFile;

    @Option(names = "--image-name-with-digest-file", description = "Write NAME@DIGEST for each destination to this file")
    Path imageNameWithDigestFile;

    @Option(names = "--image-name-tag-with-digest-file", description = "Write NAME:TAG@DIGEST for each destination to this file")
    Path imageNameTagWithDigestFile;

    /** Whether the image goes to a file, so a build without a destination still has an output. */
    boolean writesArchive() {
        return tarPath != null || ociLayoutPath != null;
    }

    /** kaniko's NAME:TAG@DIGEST lines, a missing tag read as {@code latest}; nothing without the flag or a digest. */
    void writeNameTagDigests(List<String> destinations, Digest digest) throws IOException {
        if (imageNameTagWithDigestFile == null || digest == null) {
            return;
        }
        StringBuilder names = new StringBuilder();
        for (String destination : destinations) {
            ImageReference ref = ImageReference.parse(destination);
            names.append(ref.context()).append(':').append(ref.tag() != null ? ref.tag() : "latest")
                    .append('@').append(digest).append('\n');
        }
        Files.writeString(imageNameTagWithDigestFile, names.toString());
    }
}
