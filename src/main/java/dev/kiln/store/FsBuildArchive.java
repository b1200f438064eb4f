package dev.kiln.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Build records and logs in the gateway's own layout under {@code builds/}: one directory per build. */
final class FsBuildArchive implements BuildArchive {
    private final Path root;

    FsBuildArchive(Path storeRoot) {
        this.root = storeRoot.resolve("builds");
    }

    @Override
    public boolean isGatewayDirectory() {
        return true;
    }

    private Path dir(String id) {
        return root.resolve(BuildArchive.checked(id));
    }

    @Override
    public void saveRecord(String id, byte[] json) throws IOException {
        FsFiles.atomicWrite(dir(id).resolve("build.json"), json);
    }

    @Override
    public Optional<byte[]> record(String id) throws IOException {
        try {
            return Optional.of(Files.readAllBytes(dir(id).resolve("build.json")));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> ids() throws IOException {
        List<String> ids = new ArrayList<>();
        if (Files.isDirectory(root)) {
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root)) {
                for (Path d : dirs) {
                    String name = d.getFileName().toString();
                    if (name.matches("[0-9a-f]{20}") && Files.exists(d.resolve("build.json"))) {
                        ids.add(name);
                    }
                }
            }
        }
        ids.sort(null);
        return ids;
    }

    @Override
    public void delete(String id) throws IOException {
        Files.deleteIfExists(dir(id).resolve("build.json"));
        FsFiles.deleteTree(dir(id));
    }

    @Override
    public void appendLog(String id, long offset, byte[] bytes) throws IOException {
        FsFiles.createDirectories(dir(id));
        try (FileChannel channel = FileChannel.open(dir(id).resolve("build.log"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            for (long at = offset; buffer.hasRemaining(); ) {
                at += channel.write(buffer, at);
            }
        }
    }

    @Override
    public byte[] readLog(String id, long offset, int max) throws IOException {
        try (FileChannel channel = FileChannel.open(dir(id).resolve("build.log"), StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.max(0, Math.min(max, channel.size() - offset)));
            while (buffer.hasRemaining() && channel.read(buffer, offset + buffer.position()) > 0) {
                // until full or at the end
            }
            return java.util.Arrays.copyOf(buffer.array(), buffer.position());
        } catch (NoSuchFileException e) {
            return new byte[0];
        }
    }
}
