package dev.kiln.builder.gateway;

/**
 * A build request the gateway refuses, with what an HTTP answer needs to say why (RFC 9457 problem
 * details): a stable problem slug, a title, the status and the detail.
 */
public final class BuildRequestException extends RuntimeException {
    private final int status;
    private final String slug;
    private final String title;

    public BuildRequestException(int status, String slug, String title, String detail) {
        super(detail);
        this.status = status;
        this.slug = slug;
        this.title = title;
    }

    public static BuildRequestException invalidSpec(String detail) {
        return new BuildRequestException(400, "invalid-request", "Invalid build request", detail);
    }

    public static BuildRequestException brokenContext(String detail) {
        return new BuildRequestException(400, "broken-context", "Broken build context", detail);
    }

    public static BuildRequestException missingDockerfile(String detail) {
        return new BuildRequestException(400, "missing-dockerfile", "Dockerfile not found in the context", detail);
    }

    public static BuildRequestException contextTooLarge(long limit) {
        return new BuildRequestException(413, "context-too-large", "Build context too large",
                "the build context is larger than the gateway's limit of " + limit + " bytes (kiln.builds.max-context-bytes)");
    }

    public static BuildRequestException contextUnpacksTooLarge(long limit) {
        return new BuildRequestException(413, "context-too-large", "Build context too large",
                "the build context unpacks to more than " + limit + " bytes (kiln.builds.limits.max-unpacked-bytes)");
    }

    public static BuildRequestException notFound(String id) {
        return new BuildRequestException(404, "build-not-found", "No such build", "no build with id " + id);
    }

    public static BuildRequestException alreadyEnded(String id, BuildState state) {
        return new BuildRequestException(409, "build-ended", "Build already ended",
                "build " + id + " already ended: " + state.wireName());
    }

    public int status() {
        return status;
    }

    public String slug() {
        return slug;
    }

    public String title() {
        return title;
    }
}
