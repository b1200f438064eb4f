package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.Ports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The packaged {@code kiln serve} refuses a setting it cannot use before it answers anything: one line
 * naming the setting and its value, exit 1, and nothing left listening; a lazily failing bean would
 * only show up at the first build, long after the operator looked.
 */
class ServeConfigIT {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "KILN_BUILDS_LAYER_STORE_MAX_BYTES|lots|kiln: kiln.builds.layer-store-max-bytes=lots: not a byte size: lots (use e.g. 500M, 20G)",
            "KILN_BUILDS_LAYER_STORE_MAX_BYTES|-1|kiln: kiln.builds.layer-store-max-bytes=-1: must be 0 or more",
            "KILN_BUILDS_EGRESS_ALLOW|300.1.1.1|kiln: kiln.builds.egress.allow=300.1.1.1: 300.1.1.1 is not an IP address or CIDR",
            "KILN_BUILDS_MAX_PARALLEL_STAGES|none|kiln: kiln.builds.max-parallel-stages=none: must be a whole number, 1 or more (1 builds stages in file order)",
            "KILN_BUILDS_MAX_PARALLEL_STAGES|0|kiln: kiln.builds.max-parallel-stages=0: must be a whole number, 1 or more (1 builds stages in file order)",
    })
    void aBadSettingStopsServeWithOneLine(String variable, String value, String expected) throws Exception {
        int port = Ports.freePort();
        ExecResult result = KilnProcess.run(Map.of(variable, value),
                "serve", "--store", Files.createDirectories(dir.resolve("store")).toString(), "--port", String.valueOf(port));
        assertEquals(1, result.exitCode(), result.output());
        assertEquals(expected, result.output().strip(), "one line, no stack trace");
        assertTrue(Ports.isFree(port), "nothing listens on " + port + " after the refusal");
    }
}
