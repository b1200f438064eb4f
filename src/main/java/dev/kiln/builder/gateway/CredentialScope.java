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
 * Nothing is allowed unless listed: by default a build pushes only into the gateway itself and pulls
 * other registries anonymously, so a submitter cannot borrow the gateway's identity (a confused deputy).
 */
public final class CredentialScope {
    public static final CredentialScope GATEWAY_ONLY = new CredentialScope(Map.of(), Map.of(), List.of());

    private final Map<String, List<Pattern>> push;
    private final Map<String, List<Pattern>> pull;
    private final List<String> ownHosts;

    /** @param ownHosts further addresses of this gateway, such as the one build pods reach it at */
    public CredentialScope(Map<String, List<String>> push, Map<String, List<String>> pull, List<String> ownHosts) {
        this.push = compile(push);
        this.pull = compile(pull);
        this.ownHosts = List.copyOf(ownHosts);
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
        String target = reference.registry() + "/" + reference.repository().value();
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
