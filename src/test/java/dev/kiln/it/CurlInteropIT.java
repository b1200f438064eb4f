package dev.kiln.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.KilnProcess;
import dev.kiln.testkit.TestImages;
import dev.kiln.testkit.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * curl, as scripts use it: it sends {@code Expect: 100-continue} before any body over 1 MiB and waits
 * for the server's go-ahead; a server that never answers it costs every upload a one-second stall.
 */
class CurlInteropIT {
    @TempDir
    static Path work;

    static KilnProcess kiln;
    static Path curl;

    @BeforeAll
    static void start() throws Exception {
        curl = Tools.require("curl", "curl");
        Path htpasswdTool = Tools.require("htpasswd", "apache2-utils");
        ExecResult made = Tools.run(List.of(htpasswdTool.toString(), "-Bbn", "scripter", "pw-123"), Map.of(), 30);
        assertTrue(made.ok(), made.output());
        Path htpasswd = work.resolve("htpasswd");
        Files.writeString(htpasswd, made.stdout());
        kiln = KilnProcess.start("curl", work.resolve("store"), "--htpasswd", htpasswd.toString());
    }

    @AfterAll
    static void stop() {
        if (kiln != null) {
            kiln.stop();
        }
    }

    private static ExecResult curl(String... args) {
        List<String> command = new ArrayList<>(List.of(curl.toString(), "-sS", "-v", "--max-time", "60"));
        command.addAll(Arrays.asList(args));
        return Tools.run(command, Map.of(), 90);
    }

    @Test
    void uploadAnswersExpectContinueOnlyWhenTheRequestMayProceed() throws Exception {
        byte[] data = new byte[3 << 20];
        new Random(11).nextBytes(data);
        Path file = work.resolve("blob");
        Files.write(file, data);
        String digest = TestImages.sha256(data);
        String url = kiln.baseUrl() + "/v2/local/curl/blobs/uploads/?digest=" + digest;

        // No credentials: refused before the body is sent, so no 100 Continue.
        ExecResult refused = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary", "@" + file,
                "-H", "Content-Type: application/octet-stream", url);
        assertEquals("401", refused.stdout().trim(), refused.output());
        assertFalse(refused.stderr().contains("< HTTP/1.1 100"), "a refused upload must not be told to continue:\n" + refused.stderr());

        ExecResult pushed = curl("-o", "/dev/null", "-w", "%{http_code}", "-u", "scripter:pw-123", "-X", "POST",
                "--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream", url);
        assertTrue(pushed.stderr().contains("Expect: 100-continue"), "curl asks for 100-continue:\n" + pushed.stderr());
        assertTrue(pushed.stderr().contains("< HTTP/1.1 100 Continue"), "the server must answer Expect: 100-continue:\n"
                + pushed.stderr());
        assertEquals("201", pushed.stdout().trim(), pushed.output());

        Path back = work.resolve("back");
        ExecResult pulled = curl("-o", back.toString(), "-w", "%{http_code}", kiln.baseUrl() + "/v2/local/curl/blobs/" + digest);
        assertEquals("200", pulled.stdout().trim(), pulled.output());
        assertArrayEquals(data, Files.readAllBytes(back));

        ExecResult range = curl("-o", back.toString(), "-w", "%{http_code}", "-r", "1000-1999",
                kiln.baseUrl() + "/v2/local/curl/blobs/" + digest);
        assertEquals("206", range.stdout().trim(), range.output());
        assertArrayEquals(Arrays.copyOfRange(data, 1000, 2000), Files.readAllBytes(back));
    }
}
