package dev.kiln.builder.gateway;

import dev.kiln.oci.image.ImageReference;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which repositories outside the gateway a user's builds may reach with the gateway's own registry
 * credentials (its docker config): globs over {@code host/repository} per user, {@code *} matching
 * within one path component, {@code **} across components; the user {@code *} stands for every user.
 * The same for {@code s3://} contexts, which the gateway fetches with its own AWS credentials: a
 * bucket name (any key in it) or a glob over {@code bucket/key}.
 * Nothing is allowed unless listed: by default a build pushes only into the gateway itself, pulls
 * other registries anonymously and cannot name an S3 context, so a submitter cannot borrow the
 * gateway's identity (a confused deputy).
 */
public final class CredentialScope {
    public static final CredentialScope GATEWAY_ONLY = new CredentialScope(Map.of(), Map.of(), List.of());

    private final Map<String, List<Pattern>> push;
    private final Map<String, List<Pattern>> pull;
    private final Map<String, List<Pattern>> s3;
    private final List<String> ownHosts;

    /** @param ownHosts further addresses of this gateway, such as the one build pods reach it at */
    public CredentialScope(Map<String, List<String>> push, Map<String, List<String>> pull, List<String> ownHosts) {
        this(push, pull, Map.of(), ownHosts);
    }

    /** @param s3 per user, the buckets (or {@code bucket/key} globs) its builds may take a context from */
    public CredentialScope(Map<String, List<String>> push, Map<String, List<String>> pull,
            Map<String, List<String>> s3, List<String> ownHosts) {
        this.push = compile(push);
        this.pull = compile(pull);
        this.s3 = compile(s3.entrySet().stream().collect(java.util.stream.Collectors.toMap(Map.Entry::getKey,
                e -> e.getValue().stream().map(g -> g.contains("/") ? g : g + "/**").toList())));
        this.ownHosts = List.copyOf(ownHosts);
    }

    /** Whether {@code user}'s build may fetch the {@code s3://} URL {@code context} with the gateway's credentials. */
    public boolean mayFetchS3(String user, String context) {
        String location = context.substring(S3.length());
        int query = location.indexOf('?');
        String target = query < 0 ? location : location.substring(0, query);
        return matches(s3, user, target.contains("/") ? target : target + "/");
    }

    private static final String S3 = "s3://";

    /**
     * Refuses an {@code s3://} context outside what the operator allows {@code user}
     * ({@code kiln.builds.s3-allow}); other contexts are the spec's own validation's business.
     */
    public void checkContext(String user, String context) {
        if (context != null && context.startsWith(S3) && !mayFetchS3(user, context)) {
            throw new BuildRequestException(403, "context-not-allowed", "Context not allowed",
                    "builds " + (user == null ? "" : "of " + user + " ") + "may fetch " + context
                            + " with the gateway's AWS credentials only if the operator allows its bucket "
                            + "(kiln.builds.s3-allow); upload the context instead");
        }
    }

    public boolean mayPush(String user, ImageReference reference) {
        return matches(push, user, reference);
    }

    public boolean mayPull(String user, ImageReference reference) {
        return matches(pull, user, reference);
    }

    /**
     * Refuses a destination that is neither this gateway (one of {@code gatewayHosts}) nor allowed for
     * {@code user}: checked when the build is submitted, so a refused build never starts.
     */
    public void checkDestinations(String user, List<String> destinations, List<String> gatewayHosts) {
        for (String destination : destinations) {
            ImageReference reference;
            try {
                reference = ImageReference.parse(destination);
            } catch (RuntimeException e) {
                continue; // the spec's own validation answers for malformed references
            }
            boolean own = gatewayHosts.contains(reference.registry()) || ownHosts.contains(reference.registry());
            if (!own && !mayPush(user, reference)) {
                throw new BuildRequestException(403, "destination-not-allowed", "Destination not allowed",
                        "builds " + (user == null ? "" : "of " + user + " ") + "may push to " + reference.context()
                                + " only if the operator allows it (kiln.builds.push-allow); push to this gateway instead");
            }
        }
    }

    private static boolean matches(Map<String, List<Pattern>> globs, String user, ImageReference reference) {
        return matches(globs, user, reference.registry() + "/" + reference.repository().value());
    }

    private static boolean matches(Map<String, List<Pattern>> globs, String user, String target) {
        for (String key : new String[] {user, "*"}) {
            for (Pattern p : key == null ? List.<Pattern>of() : globs.getOrDefault(key, List.of())) {
                if (p.matcher(target).matches()) {
                    return true;
                }
            }
        }
        return false;
    }

    private static Map<String, List<Pattern>> compile(Map<String, List<String>> globs) {
        Map<String, List<Pattern>> compiled = new HashMap<>();
        globs.forEach((user, list) -> compiled.put(user, list.stream().map(CredentialScope::glob).toList()));
        return Map.copyOf(compiled);
    }

    static Pattern glob(String glob) {
        StringBuilder regex = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*' && i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
                regex.append(".*");
                i++;
            } else if (c == '*') {
                regex.append("[^/]*");
            } else {
                regex.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(regex.toString());
    }
}
