package dev.kiln.builder.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.oci.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The racy rule and the bookkeeping, on hand-made snapshots. */
class SnapshotDiffTest {
    private static final Instant T = Instant.parse("2024-01-01T00:00:00.123456789Z");

    private static FileStat file(long ino, Digest hash) {
        return new FileStat(FileType.REGULAR, 0644, 0, 0, 5, T, T, ino, 1, 1, 0, null, hash);
    }

    private static FileStat dir(long ino) {
        return new FileStat(FileType.DIRECTORY, 0755, 0, 0, 4096, T, T, ino, 1, 2, 0, null, null);
    }

    @Test
    void aRacyFileWithAnUnchangedStatHasItsContentCompared() throws IOException {
        Digest old = Digest.sha256("hello".getBytes(StandardCharsets.UTF_8));
        FileSnapshot before = new FileSnapshot(Map.of("f", file(1, old), "g", file(2, old)), T);
        FileSnapshot after = new FileSnapshot(Map.of("f", file(1, null), "g", file(2, null)), T.plusSeconds(5));
        List<String> checked = new ArrayList<>();
        ChangeSet changes = SnapshotDiff.compute(before, after, (path, then) -> {
            checked.add(path);
            return path.equals("f");
        });
        assertEquals(List.of("f"), changes.changed());
        assertEquals(List.of("f", "g"), checked.stream().sorted().toList());
    }

    @Test
    void aFileWithATrustedStatIsNeverRead() throws IOException {
        FileSnapshot before = new FileSnapshot(Map.of("f", file(1, null)), T);
        FileSnapshot after = new FileSnapshot(Map.of("f", file(1, null)), T);
        ChangeSet changes = SnapshotDiff.compute(before, after, (path, then) -> {
            throw new AssertionError("read " + path);
        });
        assertEquals(List.of(), changes.changed());
    }

    @Test
    void aNewInodeIsAChangeEvenWithTheSameMetadata() throws IOException {
        FileSnapshot before = new FileSnapshot(Map.of("f", file(1, null)), T);
        FileSnapshot after = new FileSnapshot(Map.of("f", file(9, null)), T);
        assertEquals(List.of("f"), SnapshotDiff.compute(before, after, (p, s) -> false).changed());
    }

    @Test
    void deletionsBelowDeletedOrOpaqueDirectoriesAreImplied() throws IOException {
        FileSnapshot before = new FileSnapshot(Map.of(
                "a", dir(1), "a/b", dir(2), "a/b/c", file(3, null),
                "k", dir(4), "k/x", file(5, null), "k/y", file(6, null), "k/sub", dir(7), "k/sub/z", file(8, null),
                "top1", file(9, null), "top2", file(10, null)), T);
        FileSnapshot after = new FileSnapshot(Map.of("k", dir(4)), T);
        ChangeSet changes = SnapshotDiff.compute(before, after, (p, s) -> false);
        assertEquals(List.of("a", "top1", "top2"), changes.whiteouts(), "the root is never made opaque");
        assertEquals(List.of("k"), changes.opaqueDirs());
    }
}
