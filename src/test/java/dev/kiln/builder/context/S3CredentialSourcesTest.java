package dev.kiln.builder.context;

import static dev.kiln.cloud.support.StandIns.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.cloud.AwsCredentialChain;
import dev.kiln.cloud.support.MotoServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every source of the AWS default chain, used for an {@code s3://} context served by moto with
 * signature and IAM checks on. The chain reads the process's settings; the tests set the SDK's
 * system-property twins of the environment variables ({@code aws.sharedCredentialsFile} for
 * {@code AWS_SHARED_CREDENTIALS_FILE} and so on), all pointing into the test's temp dir, and never
 * read the real {@code ~/.aws}. Container and instance metadata are small HTTP servers in the test
 * that speak those protocols and hand out moto's IAM key.
 */
class S3CredentialSourcesTest {
    private static final List<String> PROPERTIES = List.of("aws.sharedCredentialsFile", "aws.configFile", "aws.profile",
            "aws.region", "aws.roleArn", "aws.webIdentityTokenFile", "aws.roleSessionName", "aws.endpointUrlSts",
            "aws.containerCredentialsFullUri", "aws.containerCredentialsPath", "aws.containerServiceEndpoint",
            "aws.containerAuthorizationToken", "aws.containerAuthorizationTokenFile", "aws.ec2MetadataServiceEndpoint",
            "aws.disableEc2Metadata", "aws.accessKeyId", "aws.secretAccessKey", "aws.sessionToken");
    private static final String SPEC = "s3://" + MotoServer.BUCKET + "/" + MotoServer.KEY;

    @TempDir
    static Path shared;
    private static MotoServer moto;
    private static HttpServer metadata;
    private static final List<String> metadataRequests = Collections.synchronizedList(new ArrayList<>());
    private static volatile String metadataSecret;

    @TempDir
    Path dir;

    @BeforeAll
    static void motoWithAContext() throws Exception {
        Path src = Files.createDirectories(shared.resolve("src"));
        Files.writeString(src.resolve("Dockerfile"), "FROM scratch\nCOPY hello /\n");
        Files.writeString(src.resolve("hello"), "from s3\n");
        Path tar = shared.resolve("context.tar.gz");
        ContextSourcesTest.exec(shared, "tar", "-czf", tar.toString(), "-C", "src", ".");
        moto = MotoServer.start(shared, tar);
        metadata = metadataServer();
        metadataSecret = moto.secretAccessKey;
    }

    @AfterAll
    static void stop() throws IOException {
        if (metadata != null) {
            metadata.stop(0);
        }
        if (moto != null) {
            moto.close();
        }
    }

    @BeforeEach
    void nothingFromThisMachine() {
        PROPERTIES.forEach(System::clearProperty);
        // the chain must never fall through to this machine's files or a real metadata service
        System.setProperty("aws.sharedCredentialsFile", dir.resolve("no-credentials").toString());
        System.setProperty("aws.configFile", dir.resolve("no-config").toString());
        System.setProperty("aws.disableEc2Metadata", "true");
        System.setProperty("aws.region", "us-east-1");
        metadataRequests.clear();
        metadataSecret = moto.secretAccessKey;
    }

    @AfterEach
    void clear() {
        PROPERTIES.forEach(System::clearProperty);
    }

    private Path fetch(String spec) throws IOException {
        Path work = Files.createDirectories(dir.resolve("work-" + System.nanoTime()));
        Map<String, String> env = Map.of("S3_ENDPOINT", moto.endpoint(), "S3_FORCE_PATH_STYLE", "true", "AWS_REGION", "us-east-1");
        List<String> debug = new ArrayList<>();
        try {
            return S3Context.parse(spec, env, w -> { }, debug::add, new AwsCredentialChain()).materialize(work);
        } catch (IOException | RuntimeException e) {
            throw new IOException(e.getMessage() + "\ndebug: " + debug + "\nmoto log:\n" + moto.logTail(), e);
        }
    }

    private void assertFetched() throws IOException {
        Path ctx = fetch(SPEC);
        assertEquals("from s3\n", Files.readString(ctx.resolve("hello")));
    }

    private void assertRefused() {
        ContextException refused = assertThrows(ContextException.class, () -> {
            try {
                fetch(SPEC);
            } catch (IOException e) {
                throw e.getCause() instanceof ContextException c ? c : e;
            }
        });
        assertTrue(refused.getMessage().contains("HTTP 403"), refused.getMessage());
    }

    @Test
    void withoutAnyCredentialsTheRequestIsUnsignedAndRefusedWithTheChainsReasons() {
        ContextException refused = assertThrows(ContextException.class, () -> S3Context.parse(SPEC,
                Map.of("S3_ENDPOINT", moto.endpoint(), "S3_FORCE_PATH_STYLE", "true"), w -> { }, d -> { },
                new AwsCredentialChain()).materialize(Files.createDirectories(dir.resolve("w"))));
        assertTrue(refused.getMessage().contains("HTTP 403"), refused.getMessage());
        assertTrue(refused.getMessage().contains("no AWS credentials were found"), refused.getMessage());
    }

    @Test
    void sharedCredentialsFileWithAProfileChosenByAwsProfile() throws Exception {
        Path credentials = dir.resolve("credentials");
        Files.writeString(credentials, "[default]\naws_access_key_id = AKIADEFAULTNOTVALID\naws_secret_access_key = nope\n\n"
                + "[builder]\naws_access_key_id = " + moto.accessKeyId + "\naws_secret_access_key = " + moto.secretAccessKey + "\n");
        System.setProperty("aws.sharedCredentialsFile", credentials.toString());
        assertRefused();
        System.setProperty("aws.profile", "builder");
        assertFetched();
    }

    @Test
    void kanikosSecretAtRootAwsIsFoundWhenAScratchImageLeavesHomeAtSlash() throws Exception {
        System.clearProperty("aws.sharedCredentialsFile");
        System.clearProperty("aws.configFile");
        Path root = Files.createDirectories(dir.resolve("root/.aws")).getParent();
        Files.writeString(root.resolve(".aws/credentials"), "[default]\naws_access_key_id = " + moto.accessKeyId
                + "\naws_secret_access_key = " + moto.secretAccessKey + "\n");
        AwsCredentialChain podman = new AwsCredentialChain(Map.of("HOME", "/"), root);
        assertEquals(root.resolve(".aws"), podman.rootHomeAwsDir());
        Path work = Files.createDirectories(dir.resolve("w-root"));
        Path ctx = S3Context.parse(SPEC, Map.of("S3_ENDPOINT", moto.endpoint(), "S3_FORCE_PATH_STYLE", "true"), w -> { }, d -> { },
                podman).materialize(work);
        assertEquals("from s3\n", Files.readString(ctx.resolve("hello")));
        assertEquals(null, new AwsCredentialChain(Map.of("HOME", dir.toString()), root).rootHomeAwsDir(), "a real HOME is the SDK's");
        assertEquals(null, new AwsCredentialChain(Map.of("HOME", "/", "AWS_SHARED_CREDENTIALS_FILE", "/x"), root).rootHomeAwsDir());
    }

    @Test
    void configFileProfileWithStaticKeys() throws Exception {
        Path config = dir.resolve("config");
        Files.writeString(config, "[profile ci]\nregion = us-east-1\naws_access_key_id = " + moto.accessKeyId
                + "\naws_secret_access_key = " + moto.secretAccessKey + "\n");
        System.setProperty("aws.configFile", config.toString());
        System.setProperty("aws.profile", "ci");
        assertFetched();
    }

    @Test
    void webIdentityTokenFileExchangedWithSts() throws Exception {
        Path token = dir.resolve("token");
        Files.writeString(token, "eyJ0ZXN0IjoidG9rZW4ifQ.kiln.irsa");
        System.setProperty("aws.webIdentityTokenFile", token.toString());
        System.setProperty("aws.roleArn", moto.roleArn);
        System.setProperty("aws.roleSessionName", "kiln-test");
        System.setProperty("aws.endpointUrlSts", moto.endpoint());
        assertFetched();
        assertTrue(moto.logTail().contains("POST / HTTP"), "STS was asked: " + moto.logTail());
    }

    @Test
    void eksPodIdentityFullUriWithAnAuthorizationTokenFile() throws Exception {
        Path token = dir.resolve("eks-pod-identity-token");
        Files.writeString(token, "pod-identity-token");
        System.setProperty("aws.containerCredentialsFullUri", metadataUrl() + "/v1/credentials");
        System.setProperty("aws.containerAuthorizationTokenFile", token.toString());
        assertFetched();
        assertTrue(metadataRequests.contains("GET /v1/credentials auth=pod-identity-token"), metadataRequests.toString());
    }

    @Test
    void containerCredentialsRelativeUri() throws Exception {
        System.setProperty("aws.containerServiceEndpoint", metadataUrl());
        System.setProperty("aws.containerCredentialsPath", "/v2/credentials/task-1");
        assertFetched();
        assertTrue(metadataRequests.contains("GET /v2/credentials/task-1 auth=null"), metadataRequests.toString());
    }

    @Test
    void instanceMetadataV2WithASessionToken() throws Exception {
        System.clearProperty("aws.disableEc2Metadata");
        System.setProperty("aws.ec2MetadataServiceEndpoint", metadataUrl());
        assertFetched();
        assertTrue(metadataRequests.stream().anyMatch(r -> r.startsWith("PUT /latest/api/token")), metadataRequests.toString());
        assertTrue(metadataRequests.stream().anyMatch(r -> r.startsWith("GET /latest/meta-data/iam/security-credentials")
                && r.endsWith("imds=imds-session-1")), metadataRequests.toString());
    }

    @Test
    void aWrongSecretFromTheMetadataServiceIsRefusedByS3() throws Exception {
        metadataSecret = "not-the-secret";
        System.clearProperty("aws.disableEc2Metadata");
        System.setProperty("aws.ec2MetadataServiceEndpoint", metadataUrl());
        assertRefused();
    }

    @Test
    void hostileBucketNamesAreRefusedBeforeAnyRequest() {
        Map<String, String> env = Map.of("S3_ENDPOINT", moto.endpoint(), "S3_FORCE_PATH_STYLE", "false");
        for (String bucket : List.of("attacker.example#", "evil.example:8080", "user@evil.example", "evil.example%2F",
                "a..b", "UPPER", "x", "-lead", "trail-", "192.168.0.1", "bucket\\evil", "bu cket", "evil.example?",
                "b\u00e4d", "a.-b")) {
            ContextException refused = assertThrows(ContextException.class, () -> S3Context.parse("s3://" + bucket + "/k.tar.gz",
                    env, w -> { }, d -> { }, new AwsCredentialChain()), bucket);
            assertTrue(refused.getMessage().contains("not a valid S3 bucket name"), refused.getMessage());
        }
    }

    @Test
    void validBucketNamesStayOnTheConfiguredEndpoint() throws Exception {
        for (String bucket : List.of("my.bucket.evil.example", "kiln-contexts", "a1b")) {
            for (String pathStyle : List.of("true", "false")) {
                S3Context context = S3Context.parse("s3://" + bucket + "/k@evil.example:1/x#y.tgz",
                        Map.of("S3_ENDPOINT", "https://s3.internal.test:9000", "S3_FORCE_PATH_STYLE", pathStyle), w -> { },
                        d -> { }, new AwsCredentialChain());
                var url = context.objectUrl();
                assertTrue(url.getHost().equals("s3.internal.test") || url.getHost().equals(bucket + ".s3.internal.test"),
                        url.toString());
                assertEquals(9000, url.getPort(), url.toString());
                assertFalse(url.toString().contains("#"), url.toString());
            }
        }
    }

    private static String metadataUrl() {
        return "http://127.0.0.1:" + metadata.getAddress().getPort();
    }

    /** Container credentials (ECS and EKS pod identity) and IMDSv2 in one server: different paths. */
    private static HttpServer metadataServer() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            String imds = exchange.getRequestHeaders().getFirst("X-aws-ec2-metadata-token");
            metadataRequests.add(method + " " + path + (path.startsWith("/latest/") ? " imds=" + imds
                    : " auth=" + exchange.getRequestHeaders().getFirst("Authorization")));
            String expiration = Instant.now().plus(1, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS).toString();
            String credentials = "{\"AccessKeyId\":\"" + moto.accessKeyId + "\",\"SecretAccessKey\":\"" + metadataSecret
                    + "\",\"Expiration\":\"" + expiration + "\"";
            if (path.equals("/latest/api/token") && method.equals("PUT")
                    && exchange.getRequestHeaders().getFirst("X-aws-ec2-metadata-token-ttl-seconds") != null) {
                send(exchange, 200, "imds-session-1");
            } else if (path.startsWith("/latest/") && !"imds-session-1".equals(imds)) {
                send(exchange, 401, "");
            } else if (path.equals("/latest/meta-data/iam/security-credentials/")) {
                send(exchange, 200, "kiln-instance-role");
            } else if (path.equals("/latest/meta-data/iam/security-credentials/kiln-instance-role")) {
                send(exchange, 200, credentials + ",\"Code\":\"Success\",\"Type\":\"AWS-HMAC\"}");
            } else if (path.equals("/v1/credentials")
                    && "pod-identity-token".equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                send(exchange, 200, credentials + "}");
            } else if (path.equals("/v2/credentials/task-1")) {
                send(exchange, 200, credentials + ",\"RoleArn\":\"" + moto.roleArn + "\"}");
            } else {
                send(exchange, 404, "");
            }
        });
        server.start();
        return server;
    }
}
