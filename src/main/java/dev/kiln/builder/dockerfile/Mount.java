package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code RUN --mount=...} specification.
 *
 * <p>Option values may reference build variables ({@code target=$HOME/.cache}), which are only
 * known when the RUN is dispatched. So a spec is validated in full at parse time only when it has
 * no {@code $}; otherwise the parse checks syntax and literal values and
 * {@link #resolve(UnaryOperator)} must be called with the stage's expander before use.
 *
 * @param spec      the text after {@code --mount=}, as written
 * @param type      mount type, {@code bind} by default
 * @param target    mount point in the container ({@code target}, {@code dst}, {@code destination})
 * @param source    path in {@code from} (bind), cache subpath, or secret source ({@code source}, {@code src})
 * @param from      stage name, stage index or image to mount from; null for the build context
 * @param id        cache or secret id
 * @param sharing   cache sharing mode; {@link Sharing#SHARED} for caches, null for other types
 * @param mode      file mode (octal in the spec) for cache/secret/ssh, or null
 * @param uid       owner uid for cache/secret/ssh, or null
 * @param gid       owner gid for cache/secret/ssh, or null
 * @param readOnly  read-only; defaults to true for bind/secret/ssh and false for cache/tmpfs
 * @param required  secret/ssh: fail if the secret or agent is not provided
 * @param env       secret: also expose the secret as this environment variable, or null
 * @param sizeBytes tmpfs size limit, or null
 */
public record Mount(String spec, Type type, String target, String source, String from, String id, Sharing sharing,
                    Integer mode, Long uid, Long gid, boolean readOnly, boolean required, String env, Long sizeBytes) {

    public enum Type { BIND, CACHE, TMPFS, SECRET, SSH }

    public enum Sharing { SHARED, PRIVATE, LOCKED }

    private static final Pattern SIZE = Pattern.compile("([0-9]+(?:\\.[0-9]+)?) ?([kKmMgGtTpP])?[iI]?[bB]?");

    /** Parses a spec as written; see the class comment for specs that reference variables. */
    public static Mount parse(String spec) {
        return new Builder(spec, null).build();
    }

    /** Whether {@link #resolve} must run before the mount is used. */
    public boolean hasVariables() {
        return spec.indexOf('$') >= 0;
    }

    /** Expands every option value with {@code expander} and validates the result in full. */
    public Mount resolve(UnaryOperator<String> expander) {
        return new Builder(spec, expander).build();
    }

    /** Accumulates options in spec order; later options override earlier ones, as in BuildKit. */
    private static final class Builder {
        private final String spec;
        private final UnaryOperator<String> expander;
        /** Parse time: values are taken literally and those holding variables are checked later. */
        private final boolean parseTime;
        private final boolean deferred;
        private Type type = Type.BIND;
        private boolean typeUnresolved;
        private String target;
        private String source;
        private String from;
        private String id;
        private Sharing sharing;
        private Integer mode;
        private Long uid;
        private Long gid;
        private Boolean readOnly;
        private boolean required;
        private String env;
        private Long sizeBytes;

        Builder(String spec, UnaryOperator<String> expander) {
            this.spec = spec;
            this.parseTime = expander == null;
            this.expander = parseTime ? UnaryOperator.identity() : expander;
            this.deferred = parseTime && spec.indexOf('$') >= 0;
        }

        Mount build() {
            for (String field : csvFields(spec)) {
                int eq = field.indexOf('=');
                if (eq < 0) {
                    flag(field.toLowerCase(Locale.ROOT), field);
                } else {
                    option(field.substring(0, eq).toLowerCase(Locale.ROOT), field.substring(eq + 1), field);
                }
            }
            if (!deferred) {
                validate();
            }
            boolean ro = readOnly != null ? readOnly : !(type == Type.CACHE || type == Type.TMPFS);
            Sharing share = sharing == null && type == Type.CACHE ? Sharing.SHARED : sharing;
            return new Mount(spec, type, target, source, from, id, share, mode, uid, gid, ro, required, env, sizeBytes);
        }

        private void flag(String key, String field) {
            switch (key) {
                case "readonly", "ro" -> readOnly = true;
                case "readwrite", "rw" -> readOnly = false;
                case "required" -> {
                    requireType(key, Type.SECRET, Type.SSH);
                    required = true;
                }
                default -> throw new InvalidSyntax("invalid field '" + field + "' must be a key=value pair");
            }
        }

        private void option(String key, String rawValue, String field) {
            if (key.equals("from") && parseTime) {
                int dollar = rawValue.indexOf('$');
                if (dollar >= 0 && dollar != rawValue.length() - 1) {
                    throw new InvalidSyntax("'from' doesn't support variable expansion, define alias stage instead");
                }
            }
            String value = expander.apply(rawValue);
            // Typed values that still hold a variable are checked once resolve() expands them.
            boolean unresolved = deferred && value.indexOf('$') >= 0;
            switch (key) {
                case "from" -> from = value.isEmpty() ? null : value;
                case "source", "src" -> source = value;
                case "target", "dst", "destination" -> target = value;
                case "id" -> id = value;
                case "env" -> env = value;
                case "required" -> {
                    requireType(key, Type.SECRET, Type.SSH);
                    if (!unresolved) {
                        required = bool(key, value);
                    }
                }
                case "size" -> {
                    requireType(key, Type.TMPFS);
                    if (!unresolved) {
                        sizeBytes = size(value);
                    }
                }
                case "type" -> {
                    typeUnresolved = unresolved;
                    if (!unresolved) {
                        type = parseType(value);
                    }
                }
                case "readonly", "ro", "readwrite", "rw", "sharing", "mode", "uid", "gid" -> {
                    if (!unresolved) {
                        typedOption(key, value);
                    }
                }
                default -> throw new InvalidSyntax("unexpected key '" + key + "' in '" + field + "'");
            }
        }

        private void typedOption(String key, String value) {
            switch (key) {
                case "readonly", "ro" -> readOnly = bool(key, value);
                case "readwrite", "rw" -> readOnly = !bool(key, value);
                case "sharing" -> sharing = parseSharing(value);
                case "mode" -> mode = (int) unsigned(key, value, 8);
                case "uid" -> uid = unsigned(key, value, 10);
                default -> gid = unsigned(key, value, 10);
            }
        }

        private void validate() {
            boolean ownerAllowed = type == Type.CACHE || type == Type.SECRET || type == Type.SSH;
            if (!ownerAllowed && mode != null) {
                throw notAllowed("mode");
            }
            if (!ownerAllowed && uid != null) {
                throw notAllowed("uid");
            }
            if (!ownerAllowed && gid != null) {
                throw notAllowed("gid");
            }
            if (sharing != null && type != Type.CACHE) {
                throw new InvalidSyntax("invalid cache sharing set for " + typeName(type) + " mount");
            }
            if (env != null && type != Type.SECRET) {
                throw new InvalidSyntax("env can only be set on secret mounts, not " + typeName(type));
            }
            if (type == Type.SECRET) {
                if (from != null) {
                    throw new InvalidSyntax("secret mount should not have a from");
                }
                if (source == null && target == null && id == null && env == null) {
                    throw new InvalidSyntax("invalid secret mount. one of source, target, id or env required");
                }
                if (source != null && id != null) {
                    throw new InvalidSyntax("both source and id can't be set");
                }
            }
            if ((type == Type.BIND || type == Type.CACHE || type == Type.TMPFS) && (target == null || target.isEmpty())) {
                throw new InvalidSyntax(typeName(type) + " mount requires a target");
            }
        }

        private void requireType(String key, Type... allowed) {
            if (typeUnresolved) {
                return;
            }
            for (Type t : allowed) {
                if (t == type) {
                    return;
                }
            }
            throw new InvalidSyntax("unexpected key '" + key + "' for mount type '" + typeName(type) + "'");
        }

        private InvalidSyntax notAllowed(String key) {
            return new InvalidSyntax(key + " not allowed for \"" + typeName(type) + "\" type mounts");
        }
    }

    private static String typeName(Type type) {
        return type.name().toLowerCase(Locale.ROOT);
    }

    private static Type parseType(String value) {
        for (Type t : Type.values()) {
            if (typeName(t).equals(value.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new InvalidSyntax("unsupported mount type " + GoText.quote(value));
    }

    private static Sharing parseSharing(String value) {
        for (Sharing s : Sharing.values()) {
            if (s.name().equalsIgnoreCase(value)) {
                return s;
            }
        }
        throw new InvalidSyntax("unsupported sharing value " + GoText.quote(value));
    }

    /** Go's {@code strconv.ParseBool}. */
    private static boolean bool(String key, String value) {
        return switch (value) {
            case "1", "t", "T", "true", "TRUE", "True" -> true;
            case "0", "f", "F", "false", "FALSE", "False" -> false;
            default -> throw new InvalidSyntax("invalid value for " + key + ": " + value);
        };
    }

    private static long unsigned(String key, String value, int radix) {
        try {
            long v = Long.parseLong(value, radix);
            if (v < 0 || v > 0xFFFF_FFFFL) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new InvalidSyntax("invalid value " + value + " for " + key);
        }
    }

    /** docker's RAM sizes: a number with an optional binary unit, {@code 64m}, {@code 1.5GiB}. */
    private static long size(String value) {
        Matcher m = SIZE.matcher(value);
        if (!m.matches()) {
            throw new InvalidSyntax("invalid value for size: " + value);
        }
        String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
        int shift = switch (unit) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            case "p" -> 50;
            default -> 0;
        };
        return (long) (Double.parseDouble(m.group(1)) * (1L << shift));
    }

    /** CSV with double-quote quoting, so a value may contain commas: {@code "target=/a,b"}. */
    static List<String> csvFields(String text) {
        List<String> fields = new ArrayList<>();
        int i = 0;
        while (true) {
            StringBuilder field = new StringBuilder();
            if (i < text.length() && text.charAt(i) == '"') {
                i++;
                while (true) {
                    if (i >= text.length()) {
                        throw new InvalidSyntax("failed to parse csv mounts: extraneous or missing \" in quoted-field");
                    }
                    char c = text.charAt(i++);
                    if (c == '"') {
                        if (i < text.length() && text.charAt(i) == '"') {
                            field.append('"');
                            i++;
                            continue;
                        }
                        break;
                    }
                    field.append(c);
                }
                if (i < text.length() && text.charAt(i) != ',') {
                    throw new InvalidSyntax("failed to parse csv mounts: extraneous or missing \" in quoted-field");
                }
            } else {
                int comma = text.indexOf(',', i);
                int end = comma < 0 ? text.length() : comma;
                String raw = text.substring(i, end);
                if (raw.indexOf('"') >= 0) {
                    throw new InvalidSyntax("failed to parse csv mounts: bare \" in non-quoted-field");
                }
                field.append(raw);
                i = end;
            }
            fields.add(field.toString());
            if (i >= text.length()) {
                return fields;
            }
            i++; // the comma
        }
    }
}
