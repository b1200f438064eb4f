package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code ExposedPorts} keys one expanded EXPOSE word gives, as BuildKit writes them: the
 * protocol lower-cased ({@code tcp} when absent) and a range {@code 8080-8082} one key per port
 * (kaniko and buildah keep the range as one key).
 */
public final class ExposedPorts {
    private static final Pattern RANGE = Pattern.compile("(\\d+)-(\\d+)");
    /** More keys than this from one range is a typo, not a plan. */
    private static final int MAX_RANGE = 65536;

    private ExposedPorts() {
    }

    public static List<String> keys(String word) {
        int slash = word.indexOf('/');
        String ports = slash < 0 ? word : word.substring(0, slash);
        String protocol = slash < 0 ? "tcp" : word.substring(slash + 1).toLowerCase(Locale.ROOT);
        Matcher range = RANGE.matcher(ports);
        if (!range.matches()) {
            return List.of(ports + "/" + protocol);
        }
        int from = Integer.parseInt(range.group(1));
        int to = Integer.parseInt(range.group(2));
        if (to < from || to - from >= MAX_RANGE) {
            throw new InvalidSyntax("invalid port range " + ports);
        }
        List<String> keys = new ArrayList<>();
        for (int port = from; port <= to; port++) {
            keys.add(port + "/" + protocol);
        }
        return keys;
    }
}
