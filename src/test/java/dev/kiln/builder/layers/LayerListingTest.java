package dev.kiln.builder.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.Digest;
import dev.kiln.oci.layer.Compression;
import dev.kiln.oci.layer.LayerEntry;
import dev.kiln.oci.layer.LayerReader;
import dev.kiln.oci.layer.LayerWriter;
import dev.kiln.oci.layer.MtimePolicy;
import dev.kiln.oci.layer.WrittenLayer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Looking below a COPY through layers' listings ({@link LayerStore#view}) against looking through
 * the same layers unpacked ({@link LayerStore#lease}): the same answer for every path, the same
 * directory metadata given to a scratch directory, and no layer unpacked for it.
 */
class LayerListingTest {
    private static final Instant T1 = Instant.parse("2024-01-02T03:04:05.123456789Z");
    private static final Instant T2 = Instant.parse("2025-06-07T08:09:10.5Z");
    private static final List<String> PROBES = List.of("etc", "etc/hosts", "opt", "opt/sub", "opt/sub/f", "opt/sub/g",
            "lib", "lib/x", "usr/lib", "top", "top/below", "var/cache", "var/cache/sub", "var/cache/new", "data",
            "data/small", "data/small/f1", "app", "app/inner", "app/new", "gone", "gone/sub", "missing", "missing/below");

    @TempDir
    Path tmp;
    final AtomicInteger fetched = new AtomicInteger();
    int dirs;

    private record Written(LayerStore.Layer layer, WrittenLayer written) {
    }

    private Written layer(String name, List<LayerEntry> entries) throws IOException {
        Path file = tmp.resolve(name + ".tar.gz");
        WrittenLayer written = new LayerWriter(Compression.gzip(), MtimePolicy.keep()).write(entries, file);
        return new Written(new LayerStore.Layer(written.diffId(), () -> {
            fetched.incrementAndGet();
            return file;
        }), written);
    }

    private static LayerEntry dir(String path, int mode, long uid, Instant mtime, Map<String, byte[]> xattrs) {
        return LayerEntry.directory(path).withMode(mode).withOwner(uid, uid + 1).withMtime(mtime).withXattrs(xattrs);
    }

    /** A base, a RUN-like layer that implies directories, whites out and makes a directory opaque, and a top. */
    private List<Written> stack() throws IOException {
        Path content = Files.writeString(tmp.resolve("content"), "x");
        Written base = layer("base", List.of(dir("etc", 0755, 0, T1, null),
                dir("opt", 0750, 7, T1, Map.of("user.origin", "base".getBytes(StandardCharsets.UTF_8))),
                dir("opt/sub", 0701, 8, T2, null), LayerEntry.file("opt/sub/f", content),
                LayerEntry.symlink("lib", "usr/lib"), dir("usr/lib", 0755, 0, T1, null), LayerEntry.file("top", content),
                dir("var/cache", 0775, 0, T2, null), dir("var/cache/sub", 0755, 0, T1, null),
                dir("gone", 0755, 0, T1, null), dir("gone/sub", 0755, 0, T1, null)));
        Written middle = layer("middle", List.of(LayerEntry.file("data/small/f1", content),
                dir("app", 0700, 3, T2, Map.of("user.x", "y".getBytes(StandardCharsets.UTF_8))),
                LayerEntry.whiteout("top"), LayerEntry.whiteout("gone"), LayerEntry.opaque("var/cache"),
                LayerEntry.file("var/cache/new", content), LayerEntry.file("opt/sub/g", content)));
        Written top = layer("top", List.of(dir("app/inner", 0711, 5, T1, Map.of("user.x", "y".getBytes(StandardCharsets.UTF_8))), LayerEntry.file("etc/hosts", content)));
        return List.of(base, middle, top);
    }

    private static List<LayerStore.Layer> layers(List<Written> stack) {
        return stack.stream().map(Written::layer).toList();
    }

    /** Each probe's answer, and for a directory the metadata it gives a fresh directory. */
    private Map<String, String> answers(KeptStack kept) throws IOException {
        Map<String, String> out = new TreeMap<>();
        for (String probe : PROBES) {
            KeptStack.Found found = kept.find(probe);
            String answer = found.conflict() ? "in the way" : found.isDirectory() ? "dir" : "missing";
            if (found.isDirectory()) {
                Path target = Files.createDirectory(tmp.resolve("target-" + dirs++));
                found.applyTo(target);
                answer += " " + Files.readAttributes(target, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
                UserDefinedFileAttributeView view = Files.getFileAttributeView(target, UserDefinedFileAttributeView.class);
                for (String name : new TreeSet<>(view.list())) {
                    ByteBuffer value = ByteBuffer.allocate(view.size(name));
                    view.read(name, value);
                    answer += " user." + name + "=" + new String(value.array(), StandardCharsets.UTF_8);
                }
            }
            out.put(probe, answer);
        }
        return out;
    }

    /** The answers of the same layers unpacked into a store of their own. */
    private Map<String, String> unpackedAnswers(List<Written> stack) throws IOException {
        try (KeptStack unpacked = LayerStore.open(tmp.resolve("unpacked"), Long.MAX_VALUE).lease(layers(stack), w -> { })) {
            return answers(unpacked);
        }
    }

    @Test
    void aViewThroughListingsAnswersAsTheUnpackedStackWithoutUnpacking() throws IOException {
        List<Written> stack = stack();
        Map<String, String> expected = unpackedAnswers(stack);
        assertTrue(expected.get("app/inner").contains("uid=5") && expected.get("app/inner").contains("user.x=y")
                && expected.get("usr/lib").contains("gid=1"), "the probes meet directories with metadata: " + expected);

        // as after a cold build: the base kept (a RUN unpacked it), the layers the build wrote listed
        Path storeDir = tmp.resolve("store");
        LayerStore store = LayerStore.open(storeDir, Long.MAX_VALUE);
        store.lease(layers(stack.subList(0, 1)), w -> { }).close();
        LayerListings listings = new LayerListings(storeDir);
        for (Written w : stack.subList(1, 3)) {
            listings.put(w.written().diffId(), w.written().headers());
        }
        fetched.set(0);
        try (KeptStack viewed = store.view(layers(stack), listings)) {
            assertEquals(expected, answers(viewed));
        }
        assertEquals(0, fetched.get(), "no blob read: the listings answered");
        List<Digest> chain = ChainIds.of(stack.stream().map(w -> w.written().diffId()).toList());
        assertTrue(store.contains(chain.get(0)));
        assertFalse(store.contains(chain.get(1)), "the listed layers stay packed");
        assertFalse(store.contains(chain.get(2)), "the listed layers stay packed");
    }

    @Test
    void withoutListingsTheBlobsAreReadOnceAndNothingIsUnpacked() throws IOException {
        List<Written> stack = stack();
        Map<String, String> expected = unpackedAnswers(stack);
        Path storeDir = tmp.resolve("store");
        LayerStore store = LayerStore.open(storeDir, Long.MAX_VALUE);
        fetched.set(0);
        try (KeptStack viewed = store.view(layers(stack), new LayerListings(storeDir))) {
            assertEquals(expected, answers(viewed));
        }
        assertEquals(3, fetched.get(), "each blob read for its listing");
        assertEquals(0, store.size(), "nothing unpacked");
        try (KeptStack again = store.view(layers(stack), new LayerListings(storeDir))) {
            assertEquals(expected, answers(again));
        }
        assertEquals(3, fetched.get(), "the listings were kept");
    }

    @Test
    void aDamagedListingCountsAsNoneAndIsReadOffTheBlobAgain() throws IOException {
        List<Written> stack = stack();
        Map<String, String> expected = unpackedAnswers(stack);
        Path storeDir = tmp.resolve("store");
        LayerStore store = LayerStore.open(storeDir, Long.MAX_VALUE);
        LayerListings listings = new LayerListings(storeDir);
        for (Written w : stack) {
            listings.put(w.written().diffId(), w.written().headers());
        }
        Path first = storeDir.resolve("listings").resolve(stack.get(0).written().diffId().hex());
        Path second = storeDir.resolve("listings").resolve(stack.get(1).written().diffId().hex());
        byte[] whole = Files.readAllBytes(first);
        Files.write(first, Arrays.copyOf(whole, whole.length / 2));
        Files.writeString(second, "not a listing");
        fetched.set(0);
        try (KeptStack viewed = store.view(layers(stack), listings)) {
            assertEquals(expected, answers(viewed));
        }
        assertEquals(2, fetched.get(), "the two damaged listings read off their blobs, the sound one kept");
        assertEquals(0, store.size(), "nothing unpacked");
        assertTrue(Files.size(first) > whole.length / 2, "the damaged listing was written again");
    }

    @Test
    void theHeadersAWriterGivesAreWhatAReaderOfTheLayerReads() throws IOException {
        for (Written w : stack()) {
            List<String> read = new ArrayList<>();
            try (LayerReader reader = LayerReader.open(w.layer().blob().get())) {
                for (LayerEntry e; (e = reader.next()) != null; ) {
                    read.add(describe(e));
                }
            }
            List<String> headers = w.written().headers().stream().map(LayerListingTest::describe).toList();
            assertNotNull(w.written().headers());
            assertEquals(read, headers);
        }
    }

    private static String describe(LayerEntry e) {
        StringBuilder s = new StringBuilder(e.path() + " " + e.type() + " " + Integer.toOctalString(e.mode()) + " " + e.uid()
                + ":" + e.gid() + " " + e.mtime() + " " + e.size() + " " + e.linkTarget());
        e.xattrs().forEach((k, v) -> s.append(' ').append(k).append('=').append(new String(v, StandardCharsets.UTF_8)));
        return s.toString();
    }
}
