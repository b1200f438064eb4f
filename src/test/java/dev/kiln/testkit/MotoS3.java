package dev.kiln.testkit;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A plain {@code moto_server} (S3 emulation, no IAM) with one bucket, for the store backend. The
 * signature-checking moto of {@code dev.kiln.cloud.support.MotoServer} rejects ListObjectsV2 requests
 * whose prefix holds a '/', which real S3 accepts, so the store is tested against this one.
 */
public final class MotoS3 implements AutoCloseable {
    public static final String ACCESS_KEY = "kiln-test";
    public static final String SECRET_KEY = "kiln-test-secret";

    private final Process process;
    private final Path log;
    private final int port;

    private MotoS3(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /** Starts moto in {@code dir} (its log goes there) and creates {@code bucket}. */
    public static MotoS3 start(Path dir, String bucket) throws IOException, InterruptedException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Path log = dir.resolve("moto-s3.log");
        Process process = new ProcessBuilder(Moto.python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", String.valueOf(port))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        MotoS3 moto = new MotoS3(process, log, port);
        // moto imports for ~2 s on an idle machine; a loaded 2-core one can take many times that
        long deadline = System.nanoTime() + Slowness.scale(Duration.ofSeconds(60)).toNanos();
        while (!moto.answers()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                moto.close();
                throw new IOException("moto did not start: " + moto.logTail());
            }
            Thread.sleep(200);
        }
        try (S3Client s3 = moto.client()) {
            s3.createBucket(b -> b.bucket(bucket));
        }
        return moto;
    }

    private boolean answers() {
        try {
            HttpURLConnection connection = (HttpURLConnection) URI.create(endpoint() + "/").toURL().openConnection();
            connection.setConnectTimeout(1000);
            connection.setReadTimeout(5000);
            connection.getResponseCode();
            connection.disconnect();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    public StaticCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY));
    }

    public S3Client client() {
        return S3Client.builder().httpClient(UrlConnectionHttpClient.create()).region(Region.US_EAST_1).credentialsProvider(credentials())
                .forcePathStyle(true).endpointOverride(URI.create(endpoint())).build();
    }

    /** The last lines moto logged, for failure messages. */
    public String logTail() {
        return Moto.tail(log);
    }

    @Override
    public void close() {
        process.destroy();
        Moto.awaitExit(process);
    }
}
