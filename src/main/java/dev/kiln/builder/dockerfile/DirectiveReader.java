package dev.kiln.builder.dockerfile;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Recognises parser directives. They only count while every line so far has been a directive:
 * the first other line (blank line, comment, instruction, unknown directive) ends the header,
 * after which {@code # escape=`} is an ordinary comment.
 */
final class DirectiveReader {

    private static final String SPACE = "[\\t\\n\\f\\r ]*";
    private static final Pattern DIRECTIVE =
            Pattern.compile("(?s)#" + SPACE + "([a-zA-Z][a-zA-Z0-9]*)" + SPACE + "=" + SPACE + "(.+?)" + SPACE);
    private static final Set<String> KNOWN = Set.of("syntax", "escape", "check");

    private final Map<String, String> seen = new HashMap<>();
    private boolean done;

    void offer(String line) {
        if (done) {
            return;
        }
        Matcher m = DIRECTIVE.matcher(line);
        if (!m.matches()) {
            done = true;
            return;
        }
        String key = m.group(1).toLowerCase(Locale.ROOT);
        if (!KNOWN.contains(key)) {
            done = true;
            return;
        }
        if (seen.containsKey(key)) {
            throw new InvalidSyntax("only one " + key + " parser directive can be used");
        }
        String value = m.group(2);
        if (key.equals("escape") && !value.equals("\\") && !value.equals("`")) {
            throw new InvalidSyntax("invalid escape token '" + value + "' does not match ` or \\");
        }
        seen.put(key, value);
    }

    char escapeChar() {
        return seen.getOrDefault("escape", "\\").charAt(0);
    }

    Directives directives() {
        return new Directives(seen.get("syntax"), escapeChar(), seen.get("check"));
    }
}
