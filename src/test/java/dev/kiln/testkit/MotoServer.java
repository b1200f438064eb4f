package dev.kiln.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * moto's S3, STS and IAM as one local server (src/test/resources/moto/kiln_moto.py) that checks
 * signatures and IAM policies: an IAM user's key, a role assumable with a web identity token, and
 * the bucket {@code kiln-contexts} holding the given tar.gz as {@code ctx/context.tar.gz}.
 */
public final class MotoServer implements AutoCloseable {
    public static final String BUCKET = "kiln-contexts";
    public static final String KEY = "ctx/context.tar.gz";

    private final Process process;
    private final Path log;
    private final int port;
    public final String accessKeyId;
    public final String secretAccessKey;
    public final String roleArn;

    private MotoServer(Process process, Path log, int port, JsonNode keys) {
        this.process = process;
        this.log = log;
        this.port = port;
        this.accessKeyId = keys.get("accessKeyId").asText();
        this.secretAccessKey = keys.get("secretAccessKey").asText();
        this.roleArn = keys.get("roleArn").asText();
    }

    /** Starts moto in {@code dir} (its log goes there) serving {@code contextTarGz}. */
    public static MotoServer start(Path dir, Path contextTarGz) throws IOException, InterruptedException {
        Path script = dir.resolve("kiln_moto.py");
        try (InputStream in = MotoServer.class.getResourceAsStream("/moto/kiln_moto.py")) {
            Files.copy(in, script);
        }
        int port = Ports.freePort();
        Path log = dir.resolve("moto.log");
        Process process = new ProcessBuilder(Moto.python(), script.toString(), String.valueOf(port), contextTarGz.toString())
                .redirectError(log.toFile()).start();
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)).readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String keys;
        try {
            // moto imports for ~2 s on an idle machine; a loaded 2-core one can take many times that
            keys = line.get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            keys = null;
        }
        if (keys == null) {
            process.destroyForcibly();
            throw new IOException("moto did not start: " + Moto.tail(log));
        }
        return new MotoServer(process, log, port, new ObjectMapper().readTree(keys));
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** The last lines moto logged, for failure messages. */
    public String logTail() {
        return Moto.tail(log);
    }

    @Override
    public void close() throws IOException {
        process.getOutputStream().close();
        Moto.awaitExit(process);
    }
}
