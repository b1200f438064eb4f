package dev.kiln.registry.client;

import static dev.kiln.testkit.StandIns.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.cloud.AwsCredentialChain;
import dev.kiln.cloud.EcrTokens;
import dev.kiln.cloud.GcpTokens;
import dev.kiln.cloud.RegistryLogin;
import dev.kiln.oci.image.ImageReference;
import dev.kiln.testkit.DockerRegistry;
import dev.kiln.testkit.MotoServer;
import dev.kiln.testkit.OciLayout;
import dev.kiln.testkit.Skopeo;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Native ECR and Google registry logins, used against real docker-registries whose htpasswd holds
 * the login the cloud would give: user {@code AWS} with moto's ECR token (moto checks the SigV4
 * signature and the IAM policy of GetAuthorizationToken), user {@code oauth2accesstoken} with the
 * access token that stand-ins of Google's token endpoint and metadata server hand out.
 */
class CloudRegistryLoginTest {
    private static final String ACCOUNT = "123456789012";
    private static final String ECR_HOST = ACCOUNT + ".dkr.ecr.us-east-1.amazonaws.com";
    private static final String GCP_TOKEN = "ya29.kiln-test-access-token";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static MotoServer moto;
    static DockerRegistry ecrRegistry;
    static DockerRegistry gcpRegistry;
    static HttpServer google;
    static KeyPair serviceAccountKey;
    static final List<String> googleRequests = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void start() throws Exception {
        Path tar = dir.resolve("empty.tar.gz");
        Files.write(tar, new byte[0]);
        moto = MotoServer.start(Files.createDirectories(dir.resolve("moto")), tar);
        // moto's ECR answers the password ACCOUNT-auth-token for user AWS
        ecrRegistry = DockerRegistry.start(dir.resolve("ecr"), "AWS", ACCOUNT + "-auth-token");
        gcpRegistry = DockerRegistry.start(dir.resolve("gcp"), GcpTokens.USER, GCP_TOKEN);
        Path layout = dir.resolve("layout");
        OciLayout oci = new OciLayout(layout);
        oci.tag("v1", oci.platformImage("linux", "amd64", null, "cloud").manifest());
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("--dest-creds", "AWS:" + ACCOUNT + "-auth-token", "oci:" + layout + ":v1",
                "docker://" + ecrRegistry.host() + "/team/app:v1");
        new Skopeo(dir.resolve("skopeo")).copyPlainHttp("--dest-creds", GcpTokens.USER + ":" + GCP_TOKEN, "oci:" + layout + ":v1",
                "docker://" + gcpRegistry.host() + "/team/app:v1");
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        serviceAccountKey = generator.generateKeyPair();
        google = googleStandIn();
    }

    @AfterAll
    static void stop() throws IOException {
        if (google != null) {
            google.stop(0);
        }
        for (AutoCloseable c : new AutoCloseable[] {ecrRegistry, gcpRegistry}) {
            if (c != null) {
                ((DockerRegistry) c).close();
            }
        }
        if (moto != null) {
            moto.close();
        }
    }

    @AfterEach
    void clear() {
        List.of("aws.sharedCredentialsFile", "aws.configFile", "aws.disableEc2Metadata", "aws.region").forEach(System::clearProperty);
    }

    /** The chain finds moto's IAM key in a credentials file in the temp dir, never in ~/.aws. */
    private static AwsCredentialChain chainWithKey(String secret) throws IOException {
        Path credentials = dir.resolve("aws-credentials-" + System.nanoTime());
        Files.writeString(credentials, "[default]\naws_access_key_id = " + moto.accessKeyId + "\naws_secret_access_key = " + secret + "\n");
        System.setProperty("aws.sharedCredentialsFile", credentials.toString());
        System.setProperty("aws.configFile", dir.resolve("no-config").toString());
        System.setProperty("aws.disableEc2Metadata", "true");
        return new AwsCredentialChain();
    }

    private static void pullAndPush(DockerRegistry registry, Registries.CredentialSource credentials, String target) throws IOException {
        Registries registries = new Registries(Set.of(registry.host()), credentials);
        PulledImage image = new ImagePuller(registries, MirrorRoutes.none(), new BlobCache(dir.resolve("cache-" + target)), Retry.NONE)
                .pull(ImageReference.parse(registry.host() + "/team/app:v1"));
        ImagePusher.Result pushed = new ImagePusher(registries, Retry.NONE).push(ImagePusher.Image.of(image),
                List.of(ImageReference.parse(registry.host() + "/team/" + target + ":v1")), ImageReference.parse(registry.host() + "/team/app"));
        assertEquals(image.manifestDigest(), pushed.digest());
    }

    @Test
    void ecrHostNamesInEveryPartition() {
        assertEquals(Optional.of(new EcrTokens.Registry(ACCOUNT, "eu-west-1", false, "amazonaws.com")),
                EcrTokens.registry(ACCOUNT + ".dkr.ecr.eu-west-1.amazonaws.com"));
        assertEquals(Optional.of(new EcrTokens.Registry(ACCOUNT, "us-gov-west-1", true, "amazonaws.com")),
                EcrTokens.registry(ACCOUNT + ".dkr.ecr-fips.us-gov-west-1.amazonaws.com"));
        assertEquals(Optional.of(new EcrTokens.Registry(ACCOUNT, "cn-north-1", false, "amazonaws.com.cn")),
                EcrTokens.registry(ACCOUNT + ".dkr.ecr.cn-north-1.amazonaws.com.cn"));
        for (String other : List.of("dkr.ecr.us-east-1.amazonaws.com", ACCOUNT + ".dkr.ecr.us-east-1.amazonaws.com.evil.test",
                ACCOUNT + ".dkr.ecr.us-east-1.amazonaws.com:443", "quay.io", "1234.dkr.ecr.us-east-1.amazonaws.com")) {
            assertEquals(Optional.empty(), EcrTokens.registry(other), other);
        }
        assertTrue(GcpTokens.isGoogleRegistry("gcr.io") && GcpTokens.isGoogleRegistry("eu.gcr.io")
                && GcpTokens.isGoogleRegistry("europe-west1-docker.pkg.dev"));
        assertTrue(!GcpTokens.isGoogleRegistry("gcr.io.evil.test") && !GcpTokens.isGoogleRegistry("docker.pkg.dev.evil.test"));
    }

    @Test
    void ecrTokenSignedWithTheChainsCredentialsPullsAndPushes() throws Exception {
        EcrTokens ecr = new EcrTokens(Map.of("AWS_ENDPOINT_URL_ECR", moto.endpoint()), chainWithKey(moto.secretAccessKey));
        EcrTokens.Registry registry = new EcrTokens.Registry(ACCOUNT, "us-east-1", false, "amazonaws.com");
        RegistryLogin login = ecr.login(registry);
        assertEquals("AWS", login.username(), moto.logTail());
        pullAndPush(ecrRegistry, host -> Optional.of(new Credentials(login.username(), login.password())), "ecr-pushed");

        // a wrong secret: moto refuses the signature, and the message says who refused what
        EcrTokens wrong = new EcrTokens(Map.of("AWS_ENDPOINT_URL_ECR", moto.endpoint()), chainWithKey("not-the-secret"));
        IOException refused = assertThrows(IOException.class, () -> wrong.login(registry));
        assertTrue(refused.getMessage().contains("ECR GetAuthorizationToken") && refused.getMessage().contains("HTTP 403"),
                refused.getMessage());
        assertTrue(!refused.getMessage().contains("not-the-secret"), refused.getMessage());
    }

    @Test
    void ecrLoginIsKeptUntilFiveMinutesBeforeItExpires() throws Exception {
        List<String> asked = Collections.synchronizedList(new ArrayList<>());
        long[] validFor = {12 * 3600};
        HttpServer ecrApi = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ecrApi.createContext("/", exchange -> {
            String auth = String.valueOf(exchange.getRequestHeaders().getFirst("Authorization"));
            asked.add(exchange.getRequestHeaders().getFirst("X-Amz-Target") + " " + auth.contains("/us-west-2/ecr/aws4_request"));
            double expires = System.currentTimeMillis() / 1000.0 + validFor[0];
            String token = Base64.getEncoder().encodeToString(("AWS:token-" + asked.size()).getBytes(StandardCharsets.UTF_8));
            send(exchange, 200, "{\"authorizationData\":[{\"authorizationToken\":\"" + token + "\",\"expiresAt\":" + expires + "}]}");
        });
        ecrApi.start();
        try {
            EcrTokens ecr = new EcrTokens(Map.of("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:" + ecrApi.getAddress().getPort()),
                    chainWithKey(moto.secretAccessKey));
            EcrTokens.Registry registry = new EcrTokens.Registry("210987654321", "us-west-2", false, "amazonaws.com");
            assertEquals("token-1", ecr.login(registry).password());
            assertEquals("token-1", ecr.login(registry).password());
            assertEquals(List.of("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken true"), asked);

            validFor[0] = 60;
            EcrTokens.Registry other = new EcrTokens.Registry("210987654322", "us-west-2", false, "amazonaws.com");
            assertEquals("token-2", ecr.login(other).password());
            assertEquals("token-3", ecr.login(other).password(), "a login that expires within 5 minutes is fetched again");
        } finally {
            ecrApi.stop(0);
        }
    }

    @Test
    void configJsonNamingAnUninstalledEcrHelperFallsBackToTheNativeLoginAndAnInstalledHelperWins() throws Exception {
        Path config = dir.resolve("ecr-config/config.json");
        Files.createDirectories(config.getParent());
        Files.writeString(config, "{\"credHelpers\":{\"" + ECR_HOST + "\":\"ecr-login\"}}");
        EcrTokens ecr = new EcrTokens(Map.of("AWS_ENDPOINT_URL_ECR", moto.endpoint()), chainWithKey(moto.secretAccessKey));
        Path emptyBin = Files.createDirectories(dir.resolve("empty-bin"));
        DockerCredentials withoutHelper = new DockerCredentials(config, List.of(emptyBin), ecr, new GcpTokens(Map.of()));
        assertEquals(Optional.of(new Credentials("AWS", ACCOUNT + "-auth-token")), withoutHelper.lookup(ECR_HOST));

        Path bin = Files.createDirectories(dir.resolve("helper-bin"));
        Path helper = bin.resolve("docker-credential-ecr-login");
        Files.writeString(helper, "#!/bin/sh\ncat >/dev/null\necho '{\"Username\":\"AWS\",\"Secret\":\"from-the-helper\"}'\n");
        Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwxr-xr-x"));
        DockerCredentials withHelper = new DockerCredentials(config, List.of(bin), ecr, new GcpTokens(Map.of()));
        assertEquals(Optional.of(new Credentials("AWS", "from-the-helper")), withHelper.lookup(ECR_HOST));

        // other hosts whose helper is missing still fail loudly, as before
        Files.writeString(config, "{\"credHelpers\":{\"registry.internal.test\":\"ecr-login\"}}");
        assertThrows(IOException.class, () -> withoutHelper.lookup("registry.internal.test"));
    }

    @Test
    void metadataServerTokenPullsAndPushesAndIsCached() throws Exception {
        GcpTokens gcp = new GcpTokens(Map.of("GCE_METADATA_HOST", "127.0.0.1:" + google.getAddress().getPort()));
        int before = googleRequests.size();
        RegistryLogin login = gcp.login().orElseThrow();
        assertEquals(new Credentials(GcpTokens.USER, GCP_TOKEN), new Credentials(login.username(), login.password()));
        assertEquals(login, gcp.login().orElseThrow());
        assertEquals(1, googleRequests.size() - before, "one metadata request for two logins: " + googleRequests);
        assertTrue(googleRequests.get(before).startsWith("GET /computeMetadata/v1/instance/service-accounts/default/token"));
        pullAndPush(gcpRegistry, host -> Optional.of(new Credentials(login.username(), login.password())), "gcp-pushed");
    }

    @Test
    void serviceAccountKeyFileIsExchangedForAnAccessToken() throws Exception {
        Path key = dir.resolve("sa.json");
        String pem = "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(serviceAccountKey.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n";
        Map<String, String> json = new HashMap<>(Map.of("type", "service_account", "client_email", "builder@kiln-test.iam.test",
                "private_key_id", "k1", "private_key", pem, "token_uri", googleUrl() + "/token"));
        Files.write(key, JSON.writeValueAsBytes(json));
        GcpTokens gcp = new GcpTokens(Map.of("GOOGLE_APPLICATION_CREDENTIALS", key.toString()));
        Path emptyConfig = dir.resolve("no-docker-config.json");
        DockerCredentials credentials = new DockerCredentials(emptyConfig, List.of(), new EcrTokens(Map.of(), new AwsCredentialChain()), gcp);
        assertEquals(Optional.of(new Credentials(GcpTokens.USER, GCP_TOKEN)), credentials.lookup("europe-west1-docker.pkg.dev"));
        assertTrue(googleRequests.stream().anyMatch(r -> r.equals("POST /token jwt-verified")), googleRequests.toString());

        // a key the token endpoint does not know
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        json.put("private_key", "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(generator.generateKeyPair().getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n");
        Path other = dir.resolve("other-sa.json");
        Files.write(other, JSON.writeValueAsBytes(json));
        IOException refused = assertThrows(IOException.class,
                () -> new GcpTokens(Map.of("GOOGLE_APPLICATION_CREDENTIALS", other.toString())).login());
        assertTrue(refused.getMessage().contains("HTTP 400"), refused.getMessage());
    }

    @Test
    void externalAccountSubjectTokenFileIsExchangedThenImpersonated() throws Exception {
        Path subject = dir.resolve("k8s-token");
        Files.writeString(subject, "projected-service-account-token\n");
        Path file = dir.resolve("external.json");
        Files.write(file, JSON.writeValueAsBytes(Map.of("type", "external_account",
                "audience", "//iam.test/projects/1/locations/global/workloadIdentityPools/p/providers/k",
                "subject_token_type", "urn:ietf:params:oauth:token-type:jwt", "token_url", googleUrl() + "/sts",
                "service_account_impersonation_url", googleUrl() + "/impersonate",
                "credential_source", Map.of("file", subject.toString()))));
        RegistryLogin login = new GcpTokens(Map.of("GOOGLE_APPLICATION_CREDENTIALS", file.toString())).login().orElseThrow();
        assertEquals(GCP_TOKEN, login.password());
        assertTrue(googleRequests.contains("POST /sts subject=projected-service-account-token"), googleRequests.toString());
        assertTrue(googleRequests.contains("POST /impersonate bearer=federated-token"), googleRequests.toString());
    }

    private static String googleUrl() {
        return "http://127.0.0.1:" + google.getAddress().getPort();
    }

    /** The metadata server, the OAuth token endpoint (checks the JWT's RS256 signature and claims), STS and impersonation. */
    private static HttpServer googleStandIn() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Map<String, String> form = new HashMap<>();
            for (String pair : body.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    form.put(pair.substring(0, eq), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
            String tokenAnswer = "{\"access_token\":\"" + GCP_TOKEN + "\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";
            try {
                if (path.equals("/computeMetadata/v1/instance/service-accounts/default/token")
                        && "Google".equals(exchange.getRequestHeaders().getFirst("Metadata-Flavor"))) {
                    googleRequests.add("GET " + path);
                    send(exchange, 200, tokenAnswer);
                } else if (path.equals("/token") && verifiedJwt(form.get("assertion"))
                        && "urn:ietf:params:oauth:grant-type:jwt-bearer".equals(form.get("grant_type"))) {
                    googleRequests.add("POST /token jwt-verified");
                    send(exchange, 200, tokenAnswer);
                } else if (path.equals("/sts") && "urn:ietf:params:oauth:grant-type:token-exchange".equals(form.get("grant_type"))) {
                    googleRequests.add("POST /sts subject=" + form.get("subject_token"));
                    send(exchange, 200, "{\"access_token\":\"federated-token\",\"expires_in\":3600}");
                } else if (path.equals("/impersonate")) {
                    googleRequests.add("POST /impersonate bearer="
                            + String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")).replace("Bearer ", ""));
                    send(exchange, 200, "{\"accessToken\":\"" + GCP_TOKEN + "\",\"expireTime\":\"2099-01-01T00:00:00Z\"}");
                } else {
                    googleRequests.add(exchange.getRequestMethod() + " " + path + " refused");
                    send(exchange, path.equals("/token") ? 400 : 404, "{\"error\":\"invalid_grant\"}");
                }
            } catch (Exception e) {
                send(exchange, 500, "{\"error\":\"" + e + "\"}");
            }
        });
        server.start();
        return server;
    }

    private static boolean verifiedJwt(String jwt) throws Exception {
        if (jwt == null) {
            return false;
        }
        String[] parts = jwt.split("\\.");
        Signature rsa = Signature.getInstance("SHA256withRSA");
        rsa.initVerify(serviceAccountKey.getPublic());
        rsa.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
        if (!rsa.verify(Base64.getUrlDecoder().decode(parts[2]))) {
            return false;
        }
        JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
        long now = System.currentTimeMillis() / 1000;
        return claims.path("iss").asText().equals("builder@kiln-test.iam.test") && claims.path("aud").asText().endsWith("/token")
                && claims.path("scope").asText().endsWith("/auth/cloud-platform") && claims.path("exp").asLong() > now;
    }
}
