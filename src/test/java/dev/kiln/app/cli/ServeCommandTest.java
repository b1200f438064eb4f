package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.store.Store;
import dev.kiln.store.StoreNotUsableException;
import java.io.IOException;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServeCommandTest {
    @TempDir
    Path dir;

    @Test
    void aBusyPortIsOneLineThatNamesTheFix() {
        RuntimeException failure = new RuntimeException("Unable to start HTTP server",
                new IllegalStateException(new BindException("Address already in use")));
        String message = ServeCommand.startFailure(failure);
        assertEquals(1, message.lines().count(), message);
        assertTrue(message.startsWith("kiln: port ") && message.contains("already in use") && message.contains("--port"), message);
    }

    @Test
    void aStoreThatCannotBeWrittenIsRefusedAtStartWithOneLine() throws Exception {
        Path store = Files.createDirectory(dir.resolve("store"));
        Store.openFilesystem(store);
        unwritable(store.resolve("tmp"));
        try {
            StoreNotUsableException failure = assertThrows(StoreNotUsableException.class, () -> Store.openFilesystem(store));
            String message = ServeCommand.startFailure(new RuntimeException("boot failed", failure));
            assertEquals(1, message.lines().count(), message);
            assertTrue(message.contains("the store " + store + " cannot be written") && message.contains("--store"), message);
        } finally {
            new ProcessBuilder("chattr", "-i", store.resolve("tmp").toString()).start().waitFor();
            Files.setPosixFilePermissions(store.resolve("tmp"), PosixFilePermissions.fromString("rwx------"));
        }
    }

    /** Root ignores permission bits, so as root the directory is made immutable instead (ext4, xfs, btrfs). */
    private static void unwritable(Path directory) throws Exception {
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("r-x------"));
        if (writable(directory)) {
            new ProcessBuilder("chattr", "+i", directory.toString()).inheritIO().start().waitFor();
        }
        Assumptions.assumeFalse(writable(directory), "neither permissions nor chattr +i make " + directory + " read-only here");
    }

    private static boolean writable(Path directory) {
        try {
            Files.delete(Files.createTempFile(directory, "probe", null));
            return true;
        } catch (IOException denied) {
            return false;
        }
    }
}
