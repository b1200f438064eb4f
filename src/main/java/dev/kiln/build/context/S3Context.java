package dev.kiln.build.context;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code s3://BUCKET/KEY}: a tar(.gz) object fetched with a SigV4-signed GET, configured like kaniko
 * from the environment: {@code S3_ENDPOINT} (default AWS for the region), {@code S3_FORCE_PATH_STYLE},
 * {@code AWS_REGION} (or {@code AWS_DEFAULT_REGION}, default us-east-1), {@code AWS_ACCESS_KEY_ID},
 * {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_SESSION_TOKEN}. Without credentials the GET is unsigned
 * (public objects).
 */
record S3Context(String bucket, String key, Map<String, String> env, Consumer<String> warnings, Consumer<String> debug)
        implements ContextSource {

    static S3Context parse(String spec, Map<String, String> env, Consumer<String> warnings, Consumer<String> debug)
            throws ContextException {
        String rest = spec.substring("s3://".length());
        int slash = rest.indexOf('/');
        if (slash <= 0 || slash == rest.length() - 1) {
            throw new ContextException("build context " + spec + ": expected s3://BUCKET/KEY");
        }
        return new S3Context(rest.substring(0, slash), rest.substring(slash + 1), Map.copyOf(env), warnings, debug);
    }

    /** The object's URL: path style ({@code ENDPOINT/BUCKET/KEY}) or virtual-hosted ({@code BUCKET.HOST/KEY}). */
    URI objectUrl() {
        String region = region();
        String endpoint = env.getOrDefault("S3_ENDPOINT", "");
        boolean pathStyle = Boolean.parseBoolean(env.getOrDefault("S3_FORCE_PATH_STYLE", "false"));
        if (endpoint.isEmpty()) {
            endpoint = "https://s3." + region + ".amazonaws.com";
        } else if (!endpoint.contains("://")) {
            endpoint = "https://" + endpoint;
        }
        URI base = URI.create(endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint);
        String encodedKey = SigV4.encode(key, false);
        String basePath = base.getRawPath() == null ? "" : base.getRawPath();
        String port = base.getPort() < 0 ? "" : ":" + base.getPort();
        if (pathStyle) {
            return URI.create(base.getScheme() + "://" + base.getHost() + port + basePath + "/"
                    + SigV4.encode(bucket, true) + "/" + encodedKey);
        }
        return URI.create(base.getScheme() + "://" + bucket + "." + base.getHost() + port + basePath + "/" + encodedKey);
    }

    String region() {
        String region = env.getOrDefault("AWS_REGION", env.getOrDefault("AWS_DEFAULT_REGION", ""));
        return region.isEmpty() ? "us-east-1" : region;
    }

    @Override
    public Path materialize(Path workDir) throws IOException {
        URI url = objectUrl();
        String id = env.getOrDefault("AWS_ACCESS_KEY_ID", "");
        String secret = env.getOrDefault("AWS_SECRET_ACCESS_KEY", "");
        Map<String, String> headers;
        if (id.isEmpty() || secret.isEmpty()) {
            debug.accept("no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: fetching " + description() + " unsigned");
            headers = Map.of();
        } else {
            headers = SigV4.sign("GET", url, Map.of(), Instant.now(), region(), "s3",
                    new SigV4.Credentials(id, secret, env.get("AWS_SESSION_TOKEN")));
        }
        // An S3 endpoint named in S3_ENDPOINT is the user's explicit choice, plain HTTP included.
        return HttpContext.downloadAndUnpack(Downloads.of(true, false), url, headers, description(),
                "build context " + description() + " at", workDir, warnings, debug);
    }

    @Override
    public String description() {
        return "s3://" + bucket + "/" + key;
    }
}
