package dev.kiln.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.oci.layer.EntryType;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerPaths;
import dev.kiln.oci.layer.LayerReader;
import dev.kiln.oci.layer.Whiteouts;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * An image's filesystem as a container would see it: every layer of an OCI layout applied in
 * order, in memory, with whiteouts and opaque directories (which hide only what lower layers made)
 * and hardlinks kept as groups of paths sharing one inode. Plus its config. Times are not kept:
 * two builders never agree on them, so golden comparisons leave them out.
 */
public final class FlatImage {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a path is, minus times. {@code digest} is the content's sha256 for regular files. */
    public record Node(EntryType type, int mode, long uid, long gid, long size, String digest, String linkTarget,
                       int devMajor, int devMinor) {
        @Override
        public String toString() {
            String what = switch (type) {
                case FILE -> "file " + size + "B " + digest.substring(0, 12);
                case SYMLINK -> "symlink -> " + linkTarget;
                case CHAR_DEVICE, BLOCK_DEVICE -> type.name().toLowerCase() + " " + devMajor + "," + devMinor;
                default -> type.name().toLowerCase();
            };
            return what + String.format(" %04o %d:%d", mode, uid, gid);
        }
    }

    private final Map<String, Node> nodes = new TreeMap<>();
    private final Map<String, Integer> inodes = new TreeMap<>();
    private final JsonNode config;
    private int nextInode;

    FlatImage(JsonNode config) {
        this.config = config;
    }

    /** The single image of an OCI layout ({@code skopeo copy … oci:DIR:ref}). */
    public static FlatImage fromLayout(Path layout) {
        try {
            JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
            JsonNode manifests = index.get("manifests");
            if (manifests == null || manifests.size() != 1) {
                throw new IllegalArgumentException(layout + ": expected one image in index.json, found " + manifests);
            }
            Path blobs = layout.resolve("blobs").resolve("sha256");
            return fromManifest(blobs.resolve(hex(manifests.get(0).get("digest").asText())), blobs);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the image in " + layout + ": " + e.getMessage(), e);
        }
    }

    /**
     * The image of a {@code skopeo copy … dir:DIR}, which keeps manifest and config as the
     * registry had them; an {@code oci:} copy would turn a Docker config into an OCI one and so
     * drop Healthcheck, Shell and OnBuild.
     */
    public static FlatImage fromDirCopy(Path dir) {
        try {
            return fromManifest(dir.resolve("manifest.json"), dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the image in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static FlatImage fromManifest(Path manifestFile, Path blobs) throws IOException {
        JsonNode manifest = JSON.readTree(manifestFile.toFile());
        if (manifest.get("layers") == null) {
            throw new IllegalArgumentException(manifestFile + " is not an image manifest (an index?)");
        }
        FlatImage image = new FlatImage(JSON.readTree(blobs.resolve(hex(manifest.get("config").get("digest").asText())).toFile()));
        for (JsonNode layer : manifest.get("layers")) {
            image.apply(blobs.resolve(hex(layer.get("digest").asText())));
        }
        return image;
    }

    private static String hex(String digest) {
        return digest.substring(digest.indexOf(':') + 1);
    }

    /** The image config JSON (architecture, os, config, rootfs, history). */
    public JsonNode config() {
        return config;
    }

    public Map<String, Node> nodes() {
        return java.util.Collections.unmodifiableMap(nodes);
    }

    public Node node(String path) {
        return nodes.get(path);
    }

    /** The other paths that share {@code path}'s inode (hardlinks), sorted; empty for a lone file. */
    public Set<String> hardlinksOf(String path) {
        Integer inode = inodes.get(path);
        Set<String> group = new TreeSet<>();
        if (inode != null) {
            inodes.forEach((p, i) -> {
                if (i.equals(inode) && !p.equals(path)) {
                    group.add(p);
                }
            });
        }
        return group;
    }

    /** Applies one layer: its whiteouts and opaque markers to what lower layers made, then its entries in order. */
    void apply(Path layer) throws IOException {
        record Pending(String path, LayerEntry entry, String digest) {
        }
        List<Pending> entries = new ArrayList<>();
        List<String> whiteouts = new ArrayList<>();
        List<String> opaque = new ArrayList<>();
        try (LayerReader reader = LayerReader.open(layer)) {
            for (LayerEntry e = reader.next(); e != null; e = reader.next()) {
                String path = LayerPaths.clean(e.path());
                if (path.isEmpty()) {
                    continue; // the root directory's own entry: every builder writes it differently, a container never sees it
                }
                String base = LayerPaths.baseName(path);
                if (Whiteouts.isOpaque(base)) {
                    opaque.add(LayerPaths.parent(path));
                } else if (Whiteouts.isWhiteout(base)) {
                    whiteouts.add(LayerPaths.child(LayerPaths.parent(path), Whiteouts.deletedName(base)));
                } else {
                    entries.add(new Pending(path, e, e.type() == EntryType.FILE ? sha256(reader.content()) : null));
                }
            }
        }
        for (String dir : opaque) {
            removeBelow(dir);
        }
        for (String path : whiteouts) {
            remove(path);
        }
        for (Pending p : entries) {
            add(p.path(), p.entry(), p.digest());
        }
    }

    private void add(String path, LayerEntry e, String digest) {
        ensureParents(path);
        Node existing = nodes.get(path);
        if (e.type() == EntryType.DIRECTORY && existing != null && existing.type() == EntryType.DIRECTORY) {
            nodes.put(path, node(e, null));
            return; // a directory entry over a directory changes its metadata and keeps its content
        }
        remove(path);
        if (e.type() == EntryType.HARDLINK) {
            String target = LayerPaths.clean(e.linkTarget());
            Node linked = nodes.get(target);
            if (linked == null) {
                throw new IllegalStateException("hardlink " + path + " to missing " + target);
            }
            nodes.put(path, linked);
            inodes.put(path, inodes.computeIfAbsent(target, t -> nextInode++));
            return;
        }
        nodes.put(path, node(e, digest));
        if (e.type() == EntryType.FILE) {
            inodes.put(path, nextInode++);
        }
    }

    private static Node node(LayerEntry e, String digest) {
        return new Node(e.type(), e.mode(), e.uid(), e.gid(), e.size(), digest,
                e.type() == EntryType.SYMLINK ? e.linkTarget() : null, e.devMajor(), e.devMinor());
    }

    /** A layer that names {@code a/b/c} without {@code a/b} still makes it, as a root-owned 0755 directory. */
    private void ensureParents(String path) {
        for (String p = LayerPaths.parent(path); !p.isEmpty(); p = LayerPaths.parent(p)) {
            Node n = nodes.get(p);
            if (n != null && n.type() == EntryType.DIRECTORY) {
                return;
            }
            if (n == null) {
                nodes.put(p, new Node(EntryType.DIRECTORY, 0755, 0, 0, 0, null, null, 0, 0));
            }
        }
    }

    private void remove(String path) {
        nodes.remove(path);
        inodes.remove(path);
        removeBelow(path);
    }

    private void removeBelow(String dir) {
        nodes.keySet().removeIf(p -> LayerPaths.isUnder(p, dir));
        inodes.keySet().removeIf(p -> LayerPaths.isUnder(p, dir));
    }

    private static String sha256(InputStream in) throws IOException {
        return dev.kiln.oci.Digester.digest(in, "sha256").toString();
    }

    /** What to leave out of a comparison, each with its reason at the call site. */
    public record Ignore(Predicate<String> path, Predicate<String> content) {
        public static final Ignore NOTHING = new Ignore(p -> false, p -> false);

        public Ignore orPath(Predicate<String> more) {
            return new Ignore(path.or(more), content);
        }

        public Ignore orContent(Predicate<String> more) {
            return new Ignore(path, content.or(more));
        }
    }

    /** The runtime config fields a container's behaviour depends on. */
    public static final List<String> CONFIG_FIELDS = List.of("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels",
            "ExposedPorts", "Volumes", "StopSignal", "Healthcheck", "Shell", "OnBuild");

    /**
     * The differences in {@link #CONFIG_FIELDS} plus architecture and os. Absent, null and empty
     * ({@code []}, {@code {}}, {@code ""}) are one value, as they are to a runtime; so is a zero
     * Healthcheck duration and a missing one (both mean "the default"). Env is compared as a set:
     * when ENV redefines a variable, BuildKit (and Kiln) keep it in its place and buildah moves it
     * to the end, and a container's environment has no order.
     */
    public List<String> configDifferences(FlatImage other, String mine, String theirs, Set<String> ignoredLabels) {
        List<String> out = new ArrayList<>();
        for (String field : List.of("architecture", "os")) {
            JsonNode a = normalized(config.get(field), ignoredLabels, field);
            JsonNode b = normalized(other.config.get(field), ignoredLabels, field);
            if (!java.util.Objects.equals(a, b)) {
                out.add(field + ": " + mine + " " + a + ", " + theirs + " " + b);
            }
        }
        for (String field : CONFIG_FIELDS) {
            JsonNode a = normalized(runtime().get(field), ignoredLabels, field);
            JsonNode b = normalized(other.runtime().get(field), ignoredLabels, field);
            if (!java.util.Objects.equals(a, b)) {
                out.add("config." + field + ": " + mine + " " + a + ", " + theirs + " " + b);
            }
        }
        return out;
    }

    /** The image config's {@code config} object (Env, Cmd, …); an empty object when there is none. */
    public JsonNode runtime() {
        JsonNode runtime = config.get("config");
        return runtime == null || runtime.isNull() ? JSON.createObjectNode() : runtime;
    }

    private static JsonNode normalized(JsonNode value, Set<String> ignoredLabels, String field) {
        if (value == null || value.isNull() || (value.isContainerNode() && value.isEmpty())
                || (value.isTextual() && value.asText().isEmpty())) {
            return null;
        }
        if (field.equals("Env")) {
            List<String> sorted = new ArrayList<>();
            value.forEach(v -> sorted.add(v.asText()));
            sorted.sort(null);
            return JSON.valueToTree(sorted);
        }
        if (field.equals("Labels") || field.equals("Healthcheck")) {
            com.fasterxml.jackson.databind.node.ObjectNode copy = ((com.fasterxml.jackson.databind.node.ObjectNode) value).deepCopy();
            if (field.equals("Labels")) {
                copy.remove(ignoredLabels);
            } else {
                List<String> zero = new ArrayList<>();
                copy.properties().forEach(e -> {
                    if (e.getValue().isNumber() && e.getValue().asLong() == 0) {
                        zero.add(e.getKey());
                    }
                });
                copy.remove(zero);
            }
            return copy.isEmpty() ? null : copy;
        }
        return value;
    }

    /**
     * Every difference between this filesystem ({@code mine}) and {@code other} ({@code theirs}),
     * one line per path: missing on one side, or type, mode, owner, content, link target or
     * hardlink group differing. Empty when they match.
     */
    public List<String> filesystemDifferences(FlatImage other, String mine, String theirs, Ignore ignore) {
        List<String> out = new ArrayList<>();
        Set<String> paths = new TreeSet<>(nodes.keySet());
        paths.addAll(other.nodes.keySet());
        for (String path : paths) {
            if (ignore.path().test(path)) {
                continue;
            }
            Node a = nodes.get(path);
            Node b = other.nodes.get(path);
            if (a == null || b == null) {
                out.add("/" + path + ": only in " + (a == null ? theirs + " (" + b : mine + " (" + a) + ")");
                continue;
            }
            boolean sameContent = ignore.content().test(path)
                    || (a.size() == b.size() && java.util.Objects.equals(a.digest(), b.digest()));
            if (a.type() != b.type() || a.mode() != b.mode() || a.uid() != b.uid() || a.gid() != b.gid() || !sameContent
                    || !java.util.Objects.equals(a.linkTarget(), b.linkTarget())
                    || a.devMajor() != b.devMajor() || a.devMinor() != b.devMinor()) {
                out.add("/" + path + ": " + mine + " " + a + ", " + theirs + " " + b);
            }
            Set<String> linksA = hardlinksOf(path);
            Set<String> linksB = other.hardlinksOf(path);
            linksA.removeIf(ignore.path());
            linksB.removeIf(ignore.path());
            if (!linksA.equals(linksB)) {
                out.add("/" + path + ": hardlinked with " + linksA + " in " + mine + ", " + linksB + " in " + theirs);
            }
        }
        return out;
    }
}
