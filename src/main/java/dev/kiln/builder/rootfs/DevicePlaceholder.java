package dev.kiln.builder.rootfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Optional;

/**
 * A device node from a layer or a build context, kept on disk as an empty regular file marked
 * with the xattr {@code user.kiln.device=<c|b>:<major>:<minor>}: a real node would give whoever
 * reads it (COPY, a RUN) the host's device. The snapshot turns the marker back into the device
 * entry, with the file's mode, owner and mtime, so the image has what the layer had.
 */
public final class DevicePlaceholder {
    /** The xattr's name in {@link UserDefinedFileAttributeView} terms (without {@code user.}). */
    public static final String XATTR = "kiln.device";

    /** A device: {@code 'c'} or {@code 'b'}, and its numbers. */
    public record Device(char type, int major, int minor) {
        String value() {
            return type + ":" + major + ":" + minor;
        }
    }

    private DevicePlaceholder() {
    }

    /** Makes {@code target} (absent) a placeholder for {@code device}. */
    public static void create(Path target, Device device) throws IOException {
        Files.createFile(target);
        UserDefinedFileAttributeView view = Files.getFileAttributeView(target, UserDefinedFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        try {
            view.write(XATTR, ByteBuffer.wrap(device.value().getBytes(StandardCharsets.US_ASCII)));
        } catch (IOException | UnsupportedOperationException e) {
            Files.deleteIfExists(target);
            throw new IOException("cannot record the device " + device.value() + " at " + target
                    + ": the filesystem takes no user xattrs (" + e.getMessage() + ")", e);
        }
    }

    /** The device {@code path} stands for, when it is a placeholder. */
    public static Optional<Device> read(Path path) {
        if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        UserDefinedFileAttributeView view = Files.getFileAttributeView(path, UserDefinedFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        try {
            if (view == null || !view.list().contains(XATTR)) {
                return Optional.empty();
            }
            ByteBuffer buffer = ByteBuffer.allocate(Math.min(view.size(XATTR), 64));
            view.read(XATTR, buffer);
            String[] parts = StandardCharsets.US_ASCII.decode(buffer.flip()).toString().split(":");
            if (parts.length != 3 || !(parts[0].equals("c") || parts[0].equals("b"))) {
                return Optional.empty();
            }
            return Optional.of(new Device(parts[0].charAt(0), Integer.parseInt(parts[1]), Integer.parseInt(parts[2])));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
