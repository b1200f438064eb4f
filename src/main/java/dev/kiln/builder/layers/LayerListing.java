package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerDirIndex;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerPaths;
import dev.kiln.oci.layer.Whiteouts;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What one layer's tar holds, without the contents: its paths and their kind, its directories'
 * metadata, its whiteouts and opaque directories. It answers, for a layer the store does not
 * keep unpacked, the questions {@link KeptStack#find} asks of a kept one, with the same answers:
 * a COPY over a big cached RUN layer learns that its destination is new without unpacking the
 * layer. Made from the headers a build writes, or by reading the blob once.
 */
public final class LayerListing {
    private static final int FORMAT = 1;

    /** A directory's metadata as the tar gives it, applied the way the extractor would. */
    public record Dir(int mode, long uid, long gid, Instant mtime, Map<String, byte[]> xattrs) {
        /** What {@code LayerDirMerge.copyDirectoryMetadata} copies from a kept directory made of this entry. */
        public void applyTo(Path target) throws IOException {
            if (Trees.runningAsRoot()) {
                Files.setAttribute(target, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(target, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
            }
            UserDefinedFileAttributeView view = Files.getFileAttributeView(target, UserDefinedFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS);
            for (Map.Entry<String, byte[]> xattr : xattrs.entrySet()) {
                // the extractor sets user.* only, and a stack's copy skips overlayfs's own markers
                if (xattr.getKey().startsWith("user.") && !xattr.getKey().startsWith(LayerDirIndex.OVERLAY_PREFIX)) {
                    view.write(xattr.getKey().substring("user.".length()), ByteBuffer.wrap(xattr.getValue()));
                }
            }
            Files.setAttribute(target, "unix:mode", mode & 07777);
            Files.setLastModifiedTime(target, FileTime.from(mtime));
        }
    }

    /** What the layer has at one path. */
    enum Kind { ABSENT, LISTED_DIR, IMPLICIT_DIR, OTHER }

    private final Map<String, Dir> dirs = new HashMap<>();
    private final Set<String> others = new HashSet<>();
    private final Set<String> implicit = new HashSet<>();
    private final Set<String> whiteouts = new HashSet<>();
    private final Set<String> opaques = new HashSet<>();

    private LayerListing() {
    }

    /** The listing of a layer whose entries, in tar order, are {@code entries} (names as stored). */
    public static LayerListing of(Iterable<LayerEntry> entries) {
        LayerListing listing = new LayerListing();
        Set<String> parents = new HashSet<>();
        for (LayerEntry entry : entries) {
            String rel = LayerPaths.clean(entry.path());
            if (rel.isEmpty()) {
                continue; // the root is never looked up
            }
            String parent = LayerPaths.parent(rel);
            String base = LayerPaths.baseName(rel);
            if (entry.type() == EntryType.FILE && Whiteouts.isOpaque(base)) {
                listing.opaques.add(parent);
                addWithParents(parents, parent);
            } else if (entry.type() == EntryType.FILE && Whiteouts.isWhiteout(base)) {
                listing.whiteouts.add(LayerPaths.child(parent, Whiteouts.deletedName(base)));
                addWithParents(parents, parent);
            } else if (entry.type() == EntryType.DIRECTORY) {
                listing.others.remove(rel);
                listing.dirs.put(rel, new Dir(entry.mode(), entry.uid(), entry.gid(), entry.mtime(), entry.xattrs()));
                addWithParents(parents, parent);
            } else {
                listing.dirs.remove(rel);
                listing.others.add(rel);
                addWithParents(parents, parent);
            }
        }
        for (String p : parents) {
            if (!listing.dirs.containsKey(p) && !listing.others.contains(p)) {
                listing.implicit.add(p);
            }
        }
        return listing;
    }

    private static void addWithParents(Set<String> into, String dir) {
        for (String p = dir; !p.isEmpty() && into.add(p); p = LayerPaths.parent(p)) {
            // each parent once: a set that has a path has its parents
        }
    }

    boolean whitesOut(String path) {
        return whiteouts.contains(path);
    }

    boolean isOpaque(String path) {
        return opaques.contains(path);
    }

    Kind kind(String path) {
        if (dirs.containsKey(path)) {
            return Kind.LISTED_DIR;
        }
        if (implicit.contains(path)) {
            return Kind.IMPLICIT_DIR;
        }
        return others.contains(path) ? Kind.OTHER : Kind.ABSENT;
    }

    Dir dir(String path) {
        return dirs.get(path);
    }

    /** Writes the listing to {@code file} (replaced atomically by the caller). */
    void write(Path file) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 64 * 1024))) {
            out.writeInt(FORMAT);
            writeSet(out, others);
            writeSet(out, implicit);
            writeSet(out, whiteouts);
            writeSet(out, opaques);
            out.writeInt(dirs.size());
            for (Map.Entry<String, Dir> e : dirs.entrySet()) {
                Dir d = e.getValue();
                out.writeUTF(e.getKey());
                out.writeInt(d.mode());
                out.writeLong(d.uid());
                out.writeLong(d.gid());
                out.writeLong(d.mtime().getEpochSecond());
                out.writeInt(d.mtime().getNano());
                out.writeInt(d.xattrs().size());
                for (Map.Entry<String, byte[]> x : d.xattrs().entrySet()) {
                    out.writeUTF(x.getKey());
                    out.writeInt(x.getValue().length);
                    out.write(x.getValue());
                }
            }
        }
    }

    /** A listing {@link #write} wrote; an IOException for anything else. */
    static LayerListing read(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 64 * 1024))) {
            if (in.readInt() != FORMAT) {
                throw new IOException(file + " is not a layer listing Kiln writes");
            }
            LayerListing listing = new LayerListing();
            readSet(in, listing.others);
            readSet(in, listing.implicit);
            readSet(in, listing.whiteouts);
            readSet(in, listing.opaques);
            for (int i = in.readInt(); i > 0; i--) {
                String path = in.readUTF();
                int mode = in.readInt();
                long uid = in.readLong();
                long gid = in.readLong();
                Instant mtime = Instant.ofEpochSecond(in.readLong(), in.readInt());
                Map<String, byte[]> xattrs = new TreeMap<>();
                for (int x = in.readInt(); x > 0; x--) {
                    String name = in.readUTF();
                    xattrs.put(name, in.readNBytes(in.readInt()));
                }
                listing.dirs.put(path, new Dir(mode, uid, gid, mtime, xattrs));
            }
            return listing;
        } catch (IllegalArgumentException | java.io.EOFException e) {
            throw new IOException(file + " is damaged: " + e.getMessage(), e);
        }
    }

    private static void writeSet(DataOutputStream out, Set<String> set) throws IOException {
        out.writeInt(set.size());
        for (String s : set) {
            out.writeUTF(s);
        }
    }

    private static void readSet(DataInputStream in, Set<String> set) throws IOException {
        for (int i = in.readInt(); i > 0; i--) {
            set.add(in.readUTF());
        }
    }
}
