package dev.kiln.builder.context;

import dev.kiln.cloud.AwsCredentialChain;
import dev.kiln.cloud.SigV4;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * {@code s3://BUCKET/KEY}: a tar(.gz) object fetched with a SigV4-signed GET, configured like kaniko
 * from the environment: {@code S3_ENDPOINT} (default AWS for the region), {@code S3_FORCE_PATH_STYLE},
 * {@code AWS_REGION} (or {@code AWS_DEFAULT_REGION}, default us-east-1). Credentials come from
 * {@link AwsCredentialChain} (environment, {@code ~/.aws} profiles, web identity, container and
 * instance metadata); without any the GET is unsigned (public objects).
 *
 * <p>The bucket must be a valid S3 bucket name: it becomes part of the URL, and the signed request
 * (key id, session token) must only ever reach the configured endpoint, never a host a submitter
 * spells into the bucket.
 */
record S3Context(String bucket, String key, Map<String, String> env, Consumer<String> warnings, Consumer<String> debug,
                 AwsCredentialChain credentials) implements ContextSource {
    /** S3's rules for new buckets: 3-63 of a-z 0-9 . -, letter or digit at both ends. */
    private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
    private static final Pattern IP_ADDRESS = Pattern.compile("\\d+\\.\\d+\\.\\d+\\.\\d+");

    static S3Context parse(String spec, Map<String, String> env, Consumer<String> warnings, Consumer<String> debug)
            throws ContextException {
        return parse(spec, env, warnings, debug, AwsCredentialChain.shared());
    }

    static S3Context parse(String spec, Map<String, String> env, Consumer<String> warnings, Consumer<String> debug,
                           AwsCredentialChain credentials) throws ContextException {
        String rest = spec.substring("s3://".length());
        int slash = rest.indexOf('/');
        if (slash <= 0 || slash == rest.length() - 1) {
            throw new ContextException("build context " + spec + ": expected s3://BUCKET/KEY");
        }
        String bucket = rest.substring(0, slash);
        String problem = bucketProblem(bucket);
        if (problem != null) {
            throw new ContextException("build context s3://…: the bucket name " + quoted(bucket) + " is not a valid S3 bucket name ("
                    + problem + ")");
        }
        return new S3Context(bucket, rest.substring(slash + 1), Map.copyOf(env), warnings, debug, credentials);
    }

    /** Why {@code bucket} is not a valid S3 bucket name, or null when it is. */
    static String bucketProblem(String bucket) {
        if (!BUCKET.matcher(bucket).matches()) {
            return "3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit";
        }
        if (bucket.contains("..") || bucket.contains(".-") || bucket.contains("-.")) {
            return "no empty or hyphen-edged labels between dots";
        }
        if (IP_ADDRESS.matcher(bucket).matches()) {
            return "not an IP address";
        }
        return null;
    }

    private static String quoted(String text) {
        return "'" + text.replaceAll("[^\\x20-\\x7e]", "?") + "'";
    }

    /** The object's URL: path style ({@code ENDPOINT/BUCKET/KEY}) or virtual-hosted ({@code BUCKET.HOST/KEY}). */
    URI objectUrl() throws ContextException {
        String region = region();
        String endpoint = env.getOrDefault("S3_ENDPOINT", "");
        boolean pathStyle = Boolean.parseBoolean(env.getOrDefault("S3_FORCE_PATH_STYLE", "false"));
        if (endpoint.isEmpty()) {
            endpoint = "https://s3." + region + ".amazonaws.com";
        } else if (!endpoint.contains("://")) {
            endpoint = "https://" + endpoint;
        }
        URI base;
        try {
            base = new URI(endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint);
        } catch (URISyntaxException e) {
            throw new ContextException("S3_ENDPOINT=" + endpoint + " is not a URL: " + e.getMessage());
        }
        if (base.getHost() == null || base.getRawUserInfo() != null || base.getRawQuery() != null || base.getRawFragment() != null) {
            throw new ContextException("S3_ENDPOINT=" + endpoint + ": expected [http(s)://]HOST[:PORT][/PATH]");
        }
        String encodedKey = SigV4.encode(key, false);
        String basePath = base.getRawPath() == null ? "" : base.getRawPath();
        String port = base.getPort() < 0 ? "" : ":" + base.getPort();
        URI url = URI.create(pathStyle
                ? base.getScheme() + "://" + base.getHost() + port + basePath + "/" + SigV4.encode(bucket, true) + "/" + encodedKey
                : base.getScheme() + "://" + bucket + "." + base.getHost() + port + basePath + "/" + encodedKey);
        // a valid bucket name cannot move the request elsewhere; checked again where it matters
        boolean atEndpoint = url.getHost() != null && url.getPort() == base.getPort() && url.getRawUserInfo() == null
                && (url.getHost().equals(base.getHost()) || url.getHost().equals(bucket + "." + base.getHost()));
        if (!atEndpoint) {
            throw new ContextException("build context " + description() + " does not resolve to the S3 endpoint " + base.getHost());
        }
        return url;
    }

    String region() {
        String region = env.getOrDefault("AWS_REGION", env.getOrDefault("AWS_DEFAULT_REGION", ""));
        return region.isEmpty() ? "us-east-1" : region;
    }

    @Override
    public Path materialize(Path workDir) throws IOException {
        URI url = objectUrl();
        AwsCredentialChain.Found found = credentials.resolve(env);
        Optional<SigV4.Credentials> signing = found.credentials();
        Map<String, String> headers = signing.map(c -> SigV4.sign("GET", url, Map.of(), Instant.now(), region(), "s3", c))
                .orElse(Map.of());
        debug.accept(signing.isPresent() ? "signing " + description() + " with AWS credentials from " + found.source()
                : "no AWS credentials found: fetching " + description() + " unsigned (" + found.whyNone() + ")");
        try {
            // An S3 endpoint named in S3_ENDPOINT is the user's explicit choice, plain HTTP included.
            return HttpContext.downloadAndUnpack(Downloads.of(true, false), url, headers, description(),
                    "build context " + description() + " at", workDir, warnings, debug);
        } catch (ContextException e) {
            if (signing.isEmpty()) {
                throw new ContextException(e.getMessage() + " (unsigned: no AWS credentials were found; " + found.whyNone() + ")", e);
            }
            throw e;
        }
    }

    @Override
    public String description() {
        return "s3://" + bucket + "/" + key;
    }
}
