package dev.kiln.registry.client;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** A parsed {@code WWW-Authenticate} header: the scheme and its parameters (realm, service, scope). */
public record AuthChallenge(String scheme, Map<String, String> parameters) {

    public static AuthChallenge parse(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        String trimmed = header.trim();
        int space = trimmed.indexOf(' ');
        String scheme = (space < 0 ? trimmed : trimmed.substring(0, space)).toLowerCase(Locale.ROOT);
        Map<String, String> parameters = new LinkedHashMap<>();
        if (space > 0) {
            String rest = trimmed.substring(space + 1);
            int i = 0;
            while (i < rest.length()) {
                while (i < rest.length() && (rest.charAt(i) == ',' || rest.charAt(i) == ' ')) {
                    i++;
                }
                int eq = rest.indexOf('=', i);
                if (eq < 0) {
                    break;
                }
                String key = rest.substring(i, eq).trim().toLowerCase(Locale.ROOT);
                i = eq + 1;
                StringBuilder value = new StringBuilder();
                if (i < rest.length() && rest.charAt(i) == '"') {
                    i++;
                    while (i < rest.length() && rest.charAt(i) != '"') {
                        if (rest.charAt(i) == '\\' && i + 1 < rest.length()) {
                            i++;
                        }
                        value.append(rest.charAt(i++));
                    }
                    i++;
                } else {
                    while (i < rest.length() && rest.charAt(i) != ',') {
                        value.append(rest.charAt(i++));
                    }
                }
                parameters.put(key, value.toString().trim());
            }
        }
        return new AuthChallenge(scheme, parameters);
    }

    public String parameter(String name) {
        return parameters.get(name);
    }
}
