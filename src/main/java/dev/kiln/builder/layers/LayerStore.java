package dev.kiln.builder.layers;

import dev.kiln.builder.rootfs.LayerDirIndex;
import dev.kiln.builder.rootfs.LayerDirMerge;
import dev.kiln.builder.rootfs.LayerExtractor;
import dev.kiln.builder.rootfs.Trees;
import dev.kiln.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Image layers kept unpacked on this machine, the way containerd's overlay snapshotter keeps
 * them: each layer once, in a directory named by its ChainID ({@link ChainIds}), holding the
 * layer's own files with its whiteouts in overlayfs's form ({@link LayerExtractor#forLayerDir}).
 * A root filesystem is then the layers stacked ({@link #assemble}): overlayfs lower directories
 * under an upper directory of its own where this process may mount, else a copy of each layer in
 * turn ({@link LayerDirMerge}; {@link LayerStacker} decides). Either way the kept layers are never written.
 *
 * <p>Layout under the store's directory: {@code layers/<chain hex>/} ({@code fs/} the tree,
 * {@code index}, {@code size}, {@code used} whose mtime is the last use), {@code locks/<chain
 * hex>} (a build holds a shared lock on each layer it uses; eviction takes an exclusive one, so
 * builds in other processes are respected too) and {@code tmp/} (a layer is unpacked there, under
 * an exclusive lock of its own, and renamed into {@code layers/} once complete: a half-unpacked
 * layer is never seen, and what a crash leaves in {@code tmp/} is deleted when a store opens) and
 * {@code mounts/} (a record of each overlay mount, so one a killed build left is unmounted when
 * a store opens: {@link OverlayMount}) and {@code listings/} (what each layer holds, by DiffID,
 * for looking below a COPY without unpacking: {@link LayerListings}).
 *
 * <p>The store holds at most {@code maxBytes} (the sum of the unpacked layers' file sizes):
 * after each assembly the least recently used layers that no build holds are removed.
 */
public final class LayerStore {
    private static final System.Logger LOG = System.getLogger(LayerStore.class.getName());
    /** One store per directory in a process: leases are counted here, file locks are per process. */
    private static final Map<Path, LayerStore> OPEN = new HashMap<>();

    /** How a root filesystem is made of the kept layers. */
    public enum Mode {
        /** Overlayfs where a probe in the store's directory shows it works here, else a copy. */
        AUTO,
        /** Overlayfs, failing where it cannot be mounted (a stack overlayfs cannot show is still copied). */
        OVERLAY,
        COPY
    }

    /** One layer of a stack: its DiffID and where its blob is, fetched only when the store lacks it. */
    public record Layer(Digest diffId, BlobFile blob) {
        public Layer {
            Objects.requireNonNull(diffId);
            Objects.requireNonNull(blob);
        }
    }

    @FunctionalInterface
    public interface BlobFile {
        Path get() throws IOException;
    }

    private final Path dir;
    private final Path layers;
    private final Path tmp;
    private volatile long maxBytes;
    private final LayerLeases leases;
    private final LayerStacker stacker;
    private final Map<String, Object> unpacking = new ConcurrentHashMap<>();

    private LayerStore(Path dir, long maxBytes) throws IOException {
        this.dir = dir;
        this.layers = Files.createDirectories(dir.resolve("layers"));
        this.leases = new LayerLeases(Files.createDirectories(dir.resolve("locks")));
        this.tmp = Files.createDirectories(dir.resolve("tmp"));
        this.maxBytes = maxBytes;
        Path mounts = Files.createDirectories(dir.resolve("mounts"));
        this.stacker = new LayerStacker(dir, mounts, tmp);
        // before tmp/ is cleaned: a probe's mount may be among them
        OverlayMount.cleanUpAfterCrash(mounts);
        TmpDirs.clean(tmp);
    }

    /** The store in {@code dir} (made if missing), bounded by {@code maxBytes}; one instance per directory. */
    public static LayerStore open(Path dir, long maxBytes) throws IOException {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("layer store budget must be >= 0, not " + maxBytes);
        }
        Path key = Files.createDirectories(dir).toRealPath();
        synchronized (OPEN) {
            LayerStore store = OPEN.get(key);
            if (store == null) {
                store = new LayerStore(key, maxBytes);
                OPEN.put(key, store);
            } else {
                store.maxBytes = maxBytes;
                TmpDirs.clean(store.tmp);
            }
            return store;
        }
    }

    public Path dir() {
        return dir;
    }

    /**
     * Makes {@code rootfs} (an empty directory) the stack of {@code stack}, bottom layer first:
     * each layer is unpacked into the store if it is not there yet, then stacked by overlayfs or
     * copied ({@code mode}). The layers stay leased (never evicted) until the result is closed,
     * which also unmounts an overlay. A layer the store cannot keep on its own (a hardlink to a
     * file of a lower layer) makes the whole stack unpack straight into {@code rootfs}, as
     * without a store; a broken layer fails with the extractor's error either way.
     */
    public Assembly assemble(List<Layer> stack, Path rootfs, Mode mode, Consumer<String> warnings) throws IOException {
        KeptStack kept;
        try {
            kept = lease(stack, warnings);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "layer store: unpacking straight into " + rootfs + ": " + e);
            LayerExtractor extractor = LayerExtractor.forRootfs(rootfs);
            for (Layer layer : stack) {
                extractor.apply(layer.blob().get());
            }
            return new Assembly(this, List.of(), null, "unpacked");
        }
        Assembly assembly;
        try {
            assembly = stackUp(kept.keys(), kept.layers(), rootfs, mode);
        } catch (IOException | RuntimeException e) {
            kept.close();
            throw e;
        }
        try {
            evict();
        } catch (IOException | RuntimeException e) {
            assembly.close(); // a failed step leaves nothing mounted
            throw e;
        }
        return assembly;
    }

    /**
     * The kept layers of {@code stack}, bottom first, each unpacked into the store if missing and
     * leased until the answer is closed; fails (leasing nothing) where the store cannot keep a
     * layer on its own (a hardlink to a lower layer's file) or a layer is broken.
     */
    public KeptStack lease(List<Layer> stack, Consumer<String> warnings) throws IOException {
        List<Digest> chain = ChainIds.of(stack.stream().map(Layer::diffId).toList());
        List<String> keys = chain.stream().map(Digest::hex).toList();
        List<String> leased = new ArrayList<>();
        List<Path> lowers = new ArrayList<>();
        try {
            for (int i = 0; i < stack.size(); i++) {
                leases.acquire(keys.get(i));
                leased.add(keys.get(i));
                lowers.add(ensure(keys.get(i), stack.get(i), lowers, warnings));
            }
        } catch (IOException | RuntimeException e) {
            release(leased);
            throw e;
        }
        return new KeptStack(this, keys, lowers);
    }

    /**
     * Like {@link #lease}, for looking paths up only: a layer the store does not keep is read
     * through its listing (read off its blob, once, where there is none) instead of being unpacked.
     */
    public KeptStack view(List<Layer> stack, LayerListings listings) throws IOException {
        List<Digest> chain = ChainIds.of(stack.stream().map(Layer::diffId).toList());
        List<String> leased = new ArrayList<>();
        List<Path> kept = new ArrayList<>();
        List<LayerListing> listed = new ArrayList<>();
        try {
            for (int i = 0; i < stack.size(); i++) {
                String key = chain.get(i).hex();
                Path layer = layers.resolve(key);
                if (Files.isRegularFile(layer.resolve("size"))) {
                    leases.acquire(key);
                    leased.add(key);
                    if (Files.isRegularFile(layer.resolve("size"))) { // not evicted before the lease
                        touch(layer.resolve("used"));
                        kept.add(layer);
                        listed.add(null);
                        continue;
                    }
                }
                Digest diffId = stack.get(i).diffId();
                LayerListing listing = listings.get(diffId);
                kept.add(null);
                listed.add(listing != null ? listing : listings.read(diffId, stack.get(i).blob().get()));
            }
        } catch (IOException | RuntimeException e) {
            release(leased);
            throw e;
        }
        return new KeptStack(this, leased, kept, listed);
    }

    private Assembly stackUp(List<String> keys, List<Path> lowers, Path rootfs, Mode mode) throws IOException {
        LayerStacker.Stacked stacked = stacker.stack(lowers, rootfs, mode);
        return new Assembly(this, keys, stacked.mount(), stacked.how());
    }

    /** The kept directory of one layer, unpacked now if missing. */
    private Path ensure(String key, Layer layer, List<Path> below, Consumer<String> warnings) throws IOException {
        Path kept = layers.resolve(key);
        synchronized (unpacking.computeIfAbsent(key, k -> new Object())) {
            if (!Files.isRegularFile(kept.resolve("size"))) {
                if (Files.exists(kept, LinkOption.NOFOLLOW_LINKS)) {
                    discard(kept); // damaged by hand: unpack again
                }
                unpack(key, layer, below, kept, warnings);
            }
        }
        touch(kept.resolve("used"));
        return kept;
    }

    private void unpack(String key, Layer layer, List<Path> below, Path kept, Consumer<String> warnings) throws IOException {
        TmpDirs.inLocked(tmp, key.substring(0, 12) + "-" + UUID.randomUUID(), work -> {
            Path fs = Files.createDirectory(work.resolve("fs"));
            Files.setAttribute(fs, "unix:mode", 0755);
            LayerDirIndex index = new LayerDirIndex();
            LayerExtractor.forLayerDir(fs, index, warnings).apply(layer.blob().get());
            if (!LowerMetadata.adopt(fs, index, below)) {
                Files.createFile(work.resolve("overlay-unsafe"));
            }
            index.write(work.resolve("index"));
            Files.writeString(work.resolve("size"), Long.toString(sizeOf(fs)));
            Files.createFile(work.resolve("used"));
            try {
                Files.move(work, kept, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                // another process kept the same layer first; its copy is as good (ours is deleted)
            }
            return null;
        });
    }

    private static long sizeOf(Path tree) throws IOException {
        long[] total = {0};
        Files.walkFileTree(tree, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                total[0] += attrs.size() + 512;
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                total[0] += 512;
                return FileVisitResult.CONTINUE;
            }
        });
        return total[0];
    }

    /**
     * Removes least recently used layers until the store is within its budget; a layer a build
     * holds (here or in another process) stays, even when that leaves the store above it.
     */
    public synchronized void evict() throws IOException {
        record Kept(Path dir, long size, FileTime used) {
        }
        List<Kept> all = new ArrayList<>();
        long total = 0;
        for (Path layer : list(layers)) {
            try {
                long size = Long.parseLong(Files.readString(layer.resolve("size")).trim());
                all.add(new Kept(layer, size, Files.getLastModifiedTime(layer.resolve("used"))));
                total += size;
            } catch (IOException | NumberFormatException e) {
                // being unpacked again, or damaged: ensure() deals with it
            }
        }
        all.sort(Comparator.comparing(Kept::used));
        for (Kept candidate : all) {
            if (total <= maxBytes) {
                break;
            }
            String key = candidate.dir().getFileName().toString();
            if (leases.heldHere(key)) {
                continue;
            }
            try (FileChannel channel = FileChannel.open(leases.lockFile(key), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = LayerLeases.tryLock(channel, false)) {
                if (lock == null) {
                    continue;
                }
                discard(candidate.dir());
                total -= candidate.size();
            }
        }
    }

    /** Moves a kept layer out of sight at once, then deletes it. */
    private void discard(Path kept) throws IOException {
        Path gone = tmp.resolve("evicted-" + UUID.randomUUID());
        try {
            Files.move(kept, gone, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot move " + kept + " within the layer store", e);
        }
        Trees.deleteTree(gone);
    }

    /** The kept layers' total size, as the budget counts it. */
    public long size() throws IOException {
        long total = 0;
        for (Path layer : list(layers)) {
            try {
                total += Long.parseLong(Files.readString(layer.resolve("size")).trim());
            } catch (IOException | NumberFormatException e) {
                // not complete
            }
        }
        return total;
    }

    /** Whether the layer whose stack has this ChainID is kept. */
    public boolean contains(Digest chainId) {
        return Files.isRegularFile(layers.resolve(chainId.hex()).resolve("size"));
    }

    void release(List<String> keys) {
        leases.release(keys);
    }

    private static void touch(Path file) throws IOException {
        try {
            Files.setLastModifiedTime(file, FileTime.from(Instant.now()));
        } catch (java.nio.file.NoSuchFileException e) {
            Files.createFile(file);
        }
    }

    static List<Path> list(Path dir) throws IOException {
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(entries::add);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return entries;
    }
}
