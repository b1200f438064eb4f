package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.LayerPaths;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a layer unpacked on its own ({@link LayerExtractor#forLayerDir}) holds besides its files:
 * the paths it whites out and the directories it makes opaque (both also marked in the tree the
 * way overlayfs reads them with {@code userxattr}), the directories it uses without listing them
 * (a stack must look below for those) and whether it lists the root. Kept next to the tree, so a
 * copy can apply the layer without reading an xattr per file.
 */
public final class LayerDirIndex {
    /** Every xattr overlayfs reads with {@code userxattr} starts so. */
    public static final String OVERLAY_PREFIX = "user.overlay.";
    /** {@link UserDefinedFileAttributeView} names (without {@code user.}). */
    public static final String WHITEOUT = "overlay.whiteout";
    public static final String OPAQUE = "overlay.opaque";
    /** An opaque directory: nothing below shows through. */
    public static final String OPAQUE_ALL = "y";
    /** A directory holding xattr whiteouts (kernel 6.7 and later read them only in such a directory). */
    public static final String HAS_WHITEOUTS = "x";

    private final Set<String> whiteouts = new LinkedHashSet<>();
    private final Set<String> opaques = new LinkedHashSet<>();
    private final Set<String> implicitDirectories = new LinkedHashSet<>();
    private boolean rootListed;

    void whiteout(String path) {
        whiteouts.add(path);
    }

    void opaque(String path) {
        opaques.add(path);
    }

    void implicitDirectory(String path) {
        implicitDirectories.add(path);
    }

    void rootListed() {
        rootListed = true;
    }

    /** Paths (clean, relative) whose lower-layer entry this layer deletes; each is a marker file in the tree. */
    public Set<String> whiteouts() {
        return Collections.unmodifiableSet(whiteouts);
    }

    /** Directories whose lower-layer content this layer hides. */
    public Set<String> opaques() {
        return Collections.unmodifiableSet(opaques);
    }

    /** Directories the layer's entries need but the layer does not list: their metadata is the lower layers'. */
    public Set<String> implicitDirectories() {
        return Collections.unmodifiableSet(implicitDirectories);
    }

    public boolean isRootListed() {
        return rootListed;
    }

    /** Whether a directory above {@code path} is opaque, so nothing below needs a whiteout. */
    boolean isBelowOpaque(String path) {
        for (String p = LayerPaths.parent(path); ; p = LayerPaths.parent(p)) {
            if (opaques.contains(p)) {
                return true;
            }
            if (p.isEmpty()) {
                return false;
            }
        }
    }

    public static void setOverlayXattr(Path path, String name, String value) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(path, UserDefinedFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        view.write(name, ByteBuffer.wrap(value.getBytes(StandardCharsets.US_ASCII)));
    }

    /** One line per fact, paths URL-encoded (a tar name may hold a newline). */
    public void write(Path file) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("root " + rootListed);
        whiteouts.forEach(p -> lines.add("w " + encode(p)));
        opaques.forEach(p -> lines.add("o " + encode(p)));
        implicitDirectories.forEach(p -> lines.add("i " + encode(p)));
        Files.write(file, lines, StandardCharsets.UTF_8);
    }

    public static LayerDirIndex read(Path file) throws IOException {
        LayerDirIndex index = new LayerDirIndex();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String value = line.substring(2);
                switch (line.charAt(0)) {
                    case 'r' -> index.rootListed = line.equals("root true");
                    case 'w' -> index.whiteouts.add(decode(value));
                    case 'o' -> index.opaques.add(decode(value));
                    case 'i' -> index.implicitDirectories.add(decode(value));
                    default -> throw new IOException(file + ": unknown line " + line);
                }
            }
        } catch (StringIndexOutOfBoundsException | IllegalArgumentException e) {
            throw new IOException(file + ": damaged (" + e.getMessage() + ")", e);
        }
        return index;
    }

    private static String encode(String path) {
        return URLEncoder.encode(path, StandardCharsets.UTF_8);
    }

    private static String decode(String value) {
        return URLDecoder.decode(value, StandardCharsets.UTF_8);
    }
}
