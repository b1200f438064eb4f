package dev.kiln.builder.dockerfile;

import java.util.regex.Pattern;

/**
 * One .dockerignore pattern with moby's patternmatcher semantics: {@code *} and {@code ?} stay
 * within a path segment, {@code [...]} is a character class, {@code \} escapes, {@code **}
 * spans any number of segments. As in moby, a pattern starting with {@code **} followed only
 * by literal text matches any path ending in that text.
 */
final class IgnorePattern {

    private enum Kind { EXACT, PREFIX, SUFFIX, REGEX }

    private final String pattern;
    private final boolean exception;
    private final Kind kind;
    private final Pattern regex;

    /**
     * @param pattern   the cleaned pattern without its {@code !}
     * @param exception true for {@code !pattern}, which re-includes what earlier patterns excluded
     */
    IgnorePattern(String pattern, boolean exception) {
        this.pattern = pattern;
        this.exception = exception;
        StringBuilder re = new StringBuilder();
        this.kind = translate(pattern, re);
        this.regex = kind == Kind.REGEX ? Pattern.compile(re.toString(), Pattern.DOTALL) : null;
    }

    String pattern() {
        return pattern;
    }

    boolean exception() {
        return exception;
    }

    boolean matches(String path) {
        return switch (kind) {
            case EXACT -> path.equals(pattern);
            case PREFIX -> path.startsWith(pattern.substring(0, pattern.length() - 2));
            case SUFFIX -> {
                String suffix = pattern.substring(2);
                yield path.endsWith(suffix) || (suffix.startsWith("/") && path.equals(suffix.substring(1)));
            }
            case REGEX -> regex.matcher(path).matches();
        };
    }

    /**
     * Whether some path below {@code dir} could match, judged segment by segment. It errs on the
     * side of yes ({@code **} anywhere), which only costs walking a directory for nothing.
     */
    boolean mayMatchBelow(String dir) {
        String[] patternSegments = pattern.split("/");
        String[] dirSegments = dir.split("/");
        for (int i = 0; i < dirSegments.length; i++) {
            if (i == patternSegments.length || patternSegments[i].contains("**")) {
                return true;
            }
            if (!new IgnorePattern(patternSegments[i], exception).matches(dirSegments[i])) {
                return false;
            }
        }
        return true;
    }

    /** Appends the regex for {@code glob} to {@code re} and says whether a cheaper test suffices. */
    private static Kind translate(String glob, StringBuilder re) {
        Kind kind = Kind.EXACT;
        boolean inClass = false;
        int[] cps = glob.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            int ch = cps[i];
            if (inClass) {
                inClass = ch != ']';
                // Java, unlike Go, gives [ and && meaning inside a class.
                re.append(ch == '[' || ch == '&' ? "\\" + (char) ch : Character.toString(ch));
            } else if (ch == '*' && i + 1 < cps.length && cps[i + 1] == '*') {
                boolean leading = i == 0;
                i++;
                if (i + 1 < cps.length && cps[i + 1] == '/') {
                    i++;
                }
                if (i + 1 < cps.length) {
                    re.append("(.*/)?");
                    kind = Kind.REGEX;
                } else if (kind == Kind.EXACT) {
                    kind = Kind.PREFIX;
                } else {
                    re.append(".*");
                    kind = Kind.REGEX;
                }
                if (leading) {
                    kind = Kind.SUFFIX;
                }
            } else if (ch == '*') {
                re.append("[^/]*");
                kind = Kind.REGEX;
            } else if (ch == '?') {
                re.append("[^/]");
                kind = Kind.REGEX;
            } else if (ch == '\\' && i + 1 < cps.length) {
                re.append(Pattern.quote(Character.toString(cps[++i])));
                kind = Kind.REGEX;
            } else if (ch == '[') {
                re.append('[');
                inClass = true;
                kind = Kind.REGEX;
            } else {
                re.append(Pattern.quote(Character.toString(ch)));
            }
        }
        return kind;
    }
}
