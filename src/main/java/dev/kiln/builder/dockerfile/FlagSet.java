package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The {@code --name[=value]} flags of one instruction, checked against what that instruction accepts. */
final class FlagSet {

    enum Kind {
        /** {@code --link}, {@code --link=true|false}. */
        BOOL,
        /** {@code --from=x}, at most once. */
        STRING,
        /** {@code --mount=x}, repeatable. */
        STRINGS
    }

    private static final Map<Keyword, Map<String, Kind>> ACCEPTED = new EnumMap<>(Keyword.class);

    static {
        ACCEPTED.put(Keyword.FROM, Map.of("platform", Kind.STRING));
        ACCEPTED.put(Keyword.RUN, Map.of("mount", Kind.STRINGS, "network", Kind.STRING, "security", Kind.STRING));
        ACCEPTED.put(Keyword.COPY, Map.of("from", Kind.STRING, "chown", Kind.STRING, "chmod", Kind.STRING,
                "link", Kind.BOOL, "parents", Kind.BOOL, "exclude", Kind.STRINGS));
        ACCEPTED.put(Keyword.ADD, Map.of("chown", Kind.STRING, "chmod", Kind.STRING, "link", Kind.BOOL,
                "keep-git-dir", Kind.BOOL, "checksum", Kind.STRING, "unpack", Kind.BOOL, "exclude", Kind.STRINGS));
        ACCEPTED.put(Keyword.HEALTHCHECK, Map.of("interval", Kind.STRING, "timeout", Kind.STRING,
                "start-period", Kind.STRING, "start-interval", Kind.STRING, "retries", Kind.STRING));
    }

    private final Map<String, List<String>> values;

    private FlagSet(Map<String, List<String>> values) {
        this.values = values;
    }

    static FlagSet parse(Keyword keyword, List<String> flags) {
        Map<String, Kind> accepted = ACCEPTED.getOrDefault(keyword, Map.of());
        Map<String, List<String>> values = new HashMap<>();
        for (String flag : flags) {
            String body = flag.substring(2);
            int eq = body.indexOf('=');
            String name = eq < 0 ? body : body.substring(0, eq);
            String value = eq < 0 ? null : body.substring(eq + 1);
            Kind kind = accepted.get(name);
            if (kind == null) {
                throw new InvalidSyntax(rejection(keyword, name));
            }
            List<String> list = values.computeIfAbsent(name, k -> new ArrayList<>());
            if (!list.isEmpty() && kind != Kind.STRINGS) {
                throw new InvalidSyntax("duplicate flag specified: --" + name);
            }
            list.add(switch (kind) {
                case BOOL -> bool(name, value);
                case STRING, STRINGS -> {
                    if (value == null) {
                        throw new InvalidSyntax("missing a value on flag: --" + name);
                    }
                    yield value;
                }
            });
        }
        return new FlagSet(values);
    }

    /** A flag known elsewhere gets a message pointing there; a typo gets a plain "unknown flag". */
    private static String rejection(Keyword keyword, String name) {
        String owners = ACCEPTED.entrySet().stream()
                .filter(e -> e.getValue().containsKey(name))
                .map(e -> e.getKey().name())
                .collect(Collectors.joining(", "));
        if (owners.isEmpty()) {
            return "unknown flag: --" + name;
        }
        return "flag --" + name + " is not valid for " + keyword + " (valid for " + owners + ")";
    }

    private static String bool(String name, String value) {
        if (value == null) {
            return "true";
        }
        if (value.isEmpty()) {
            throw new InvalidSyntax("missing a value on flag: --" + name);
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true" -> "true";
            case "false" -> "false";
            default -> throw new InvalidSyntax("expecting boolean value for flag --" + name + ", not: " + value);
        };
    }

    /** The value, or null when the flag was not given. */
    String string(String name) {
        List<String> list = values.get(name);
        return list == null ? null : list.get(0);
    }

    String string(String name, String fallback) {
        String v = string(name);
        return v == null ? fallback : v;
    }

    boolean bool(String name) {
        return "true".equals(string(name));
    }

    /** Null when the flag was not given, so "default" and "explicitly false" stay distinct. */
    Boolean optionalBool(String name) {
        String v = string(name);
        return v == null ? null : Boolean.valueOf(v);
    }

    List<String> strings(String name) {
        return List.copyOf(values.getOrDefault(name, List.of()));
    }
}
