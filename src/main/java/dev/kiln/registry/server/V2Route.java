package dev.kiln.registry.server;

import dev.kiln.oci.InvalidNameException;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The endpoints of the distribution API, recognised from the raw request path. Repository names hold
 * slashes, so each pattern anchors on the suffix that names the endpoint, as distribution's router does.
 */
public record V2Route(Kind kind, RepositoryName name, String argument) {

    public enum Kind { BASE, CATALOG, TAGS, MANIFEST, BLOB, UPLOADS, UPLOAD, REFERRERS }

    private record Rule(Kind kind, Pattern pattern) {
    }

    private static final Rule[] RULES = {
            new Rule(Kind.TAGS, Pattern.compile("(.+)/tags/list")),
            new Rule(Kind.MANIFEST, Pattern.compile("(.+)/manifests/([^/]+)")),
            new Rule(Kind.UPLOADS, Pattern.compile("(.+)/blobs/uploads/?")),
            new Rule(Kind.UPLOAD, Pattern.compile("(.+)/blobs/uploads/([^/]+)")),
            new Rule(Kind.BLOB, Pattern.compile("(.+)/blobs/([^/]+)")),
            new Rule(Kind.REFERRERS, Pattern.compile("(.+)/referrers/([^/]+)")),
    };

    /** Parses a raw path starting with {@code /v2}; null when it is no endpoint of the API. */
    public static V2Route parse(String rawPath) {
        if (rawPath.equals("/v2") || rawPath.equals("/v2/")) {
            return new V2Route(Kind.BASE, null, null);
        }
        if (!rawPath.startsWith("/v2/")) {
            return null;
        }
        String rest = rawPath.substring(4);
        if (rest.equals("_catalog")) {
            return new V2Route(Kind.CATALOG, null, null);
        }
        for (Rule rule : RULES) {
            Matcher m = rule.pattern.matcher(rest);
            if (m.matches()) {
                RepositoryName name;
                try {
                    name = new RepositoryName(m.group(1));
                } catch (InvalidNameException e) {
                    throw new RegistryException(ErrorCode.NAME_INVALID, e.getMessage(), java.util.Map.of("name", m.group(1)));
                }
                String argument = m.groupCount() > 1 ? URLDecoder.decode(m.group(2), StandardCharsets.UTF_8) : null;
                return new V2Route(rule.kind, name, argument);
            }
        }
        return null;
    }
}
