package dev.kiln.cloud;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.profiles.ProfileFile;

/**
 * AWS credentials as a pod or an instance has them. Keys handed to Kiln in its environment map
 * ({@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_SESSION_TOKEN}) come first;
 * then the AWS SDK's default chain, which reads the process's system properties and environment:
 * {@code ~/.aws/credentials} and {@code ~/.aws/config} ({@code AWS_PROFILE}, {@code AWS_SHARED_CREDENTIALS_FILE},
 * {@code AWS_CONFIG_FILE}), a web identity token file (IRSA: {@code AWS_ROLE_ARN} +
 * {@code AWS_WEB_IDENTITY_TOKEN_FILE}, exchanged with STS), container credentials (ECS's
 * {@code AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}, EKS pod identity's {@code AWS_CONTAINER_CREDENTIALS_FULL_URI}
 * + {@code AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)}) and the instance metadata service (IMDSv2,
 * {@code AWS_EC2_METADATA_SERVICE_ENDPOINT}).
 *
 * <p>A container from a {@code FROM scratch} image running as root gets {@code HOME=/} (there is no
 * {@code /etc/passwd}), while kaniko's Pod spec mounts its AWS secret at {@code /root/.aws/}: when
 * HOME is {@code /} or unset, has no {@code .aws}, and neither profile file is named explicitly,
 * the profiles are read from {@code /root/.aws/}, as in kaniko's image (which sets HOME=/root).
 *
 * <p>The SDK only finds credentials; requests are signed by {@link SigV4}, so Kiln decides where
 * they go. One chain is kept per process ({@link #shared}): it caches the source that worked and
 * refreshes temporary credentials before they expire.
 */
public final class AwsCredentialChain {
    private static final AwsCredentialChain SHARED = new AwsCredentialChain();

    private final Map<String, String> processEnv;
    private final Path rootHome;
    private DefaultCredentialsProvider provider;

    public AwsCredentialChain() {
        this(System.getenv(), Path.of("/root"));
    }

    /** @param processEnv the environment the SDK reads; {@code rootHome} stands for {@code /root} */
    public AwsCredentialChain(Map<String, String> processEnv, Path rootHome) {
        this.processEnv = Map.copyOf(processEnv);
        this.rootHome = rootHome;
    }

    /** What was found: credentials and the source that gave them, or the chain's reasons for finding none. */
    public record Found(Optional<SigV4.Credentials> credentials, String source, String whyNone) {
    }

    public static AwsCredentialChain shared() {
        return SHARED;
    }

    public Found resolve(Map<String, String> env) {
        String id = env.getOrDefault("AWS_ACCESS_KEY_ID", "");
        String secret = env.getOrDefault("AWS_SECRET_ACCESS_KEY", "");
        if (!id.isEmpty() && !secret.isEmpty()) {
            return new Found(Optional.of(new SigV4.Credentials(id, secret, env.get("AWS_SESSION_TOKEN"))), "environment", "");
        }
        try {
            AwsCredentials found = provider().resolveCredentials();
            String token = found instanceof AwsSessionCredentials session ? session.sessionToken() : null;
            return new Found(Optional.of(new SigV4.Credentials(found.accessKeyId(), found.secretAccessKey(), token)),
                    source(found.providerName().orElse("")), "");
        } catch (SdkException e) {
            return new Found(Optional.empty(), "", String.valueOf(e.getMessage()));
        }
    }

    /** Recent SDKs report a provider as a one- or two-letter metrics code: not worth showing. */
    private static String source(String providerName) {
        return providerName.length() > 3 ? providerName : "the AWS default chain";
    }

    private synchronized DefaultCredentialsProvider provider() {
        if (provider == null) {
            // no background refresh thread: a build resolves credentials a few times at most
            DefaultCredentialsProvider.Builder builder = DefaultCredentialsProvider.builder().asyncCredentialUpdateEnabled(false);
            Path awsDir = rootHomeAwsDir();
            if (awsDir != null) {
                ProfileFile profiles = profilesIn(awsDir);
                builder.profileFile(() -> profiles);
            }
            provider = builder.build();
        }
        return provider;
    }

    /** {@code /root/.aws} when the SDK would otherwise look in a HOME of {@code /}; see the class comment. */
    public Path rootHomeAwsDir() {
        String home = processEnv.getOrDefault("HOME", "");
        boolean explicit = processEnv.containsKey("AWS_SHARED_CREDENTIALS_FILE") || processEnv.containsKey("AWS_CONFIG_FILE")
                || System.getProperty("aws.sharedCredentialsFile") != null || System.getProperty("aws.configFile") != null;
        boolean rootless = home.isEmpty() || home.equals("/");
        Path awsDir = rootHome.resolve(".aws");
        return !explicit && rootless && !Files.isDirectory(Path.of(home.isEmpty() ? "/" : home, ".aws"))
                && Files.isDirectory(awsDir) ? awsDir : null;
    }

    private static ProfileFile profilesIn(Path awsDir) {
        ProfileFile.Aggregator aggregator = ProfileFile.aggregator();
        if (Files.isRegularFile(awsDir.resolve("credentials"))) {
            aggregator.addFile(ProfileFile.builder().content(awsDir.resolve("credentials")).type(ProfileFile.Type.CREDENTIALS).build());
        }
        if (Files.isRegularFile(awsDir.resolve("config"))) {
            aggregator.addFile(ProfileFile.builder().content(awsDir.resolve("config")).type(ProfileFile.Type.CONFIGURATION).build());
        }
        return aggregator.build();
    }
}
