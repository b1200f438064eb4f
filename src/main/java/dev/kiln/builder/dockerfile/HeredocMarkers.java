package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Finds {@code <<EOF}, {@code <<-EOF}, {@code 3<<"EOF"} markers in an instruction line. */
final class HeredocMarkers {

    private static final Pattern MARKER = Pattern.compile("([0-9]*)<<(-?)([^<]*)");
    private static final ShellLexer.Options WORDS_WITH_QUOTES = new ShellLexer.Options(true, true, false, false);
    private static final ShellLexer.Options DELIMITER = new ShellLexer.Options(false, false, true, false);
    private static final ShellLexer.Options DELIMITER_WITH_QUOTES = new ShellLexer.Options(true, false, true, false);

    private HeredocMarkers() {
    }

    /**
     * The markers of a line, in order, with empty content. A line whose quoting is broken has
     * none: such text cannot hold a well-formed marker, and BuildKit reads it that way too.
     */
    static List<Heredoc> inLine(String line) {
        List<String> words;
        try {
            words = ShellLexer.process(line, Map.of(), '\\', WORDS_WITH_QUOTES).words();
        } catch (ShellExpansionException e) {
            return List.of();
        }
        List<Heredoc> markers = new ArrayList<>();
        for (String word : words) {
            marker(word).ifPresent(markers::add);
        }
        return markers;
    }

    /** The heredoc a single (still quoted) word opens, if it is a marker. */
    static Optional<Heredoc> marker(String word) {
        Matcher m = MARKER.matcher(word);
        if (!m.matches() || m.group(3).isEmpty()) {
            return Optional.empty();
        }
        String delimiter = m.group(3);
        List<String> plain = lex(delimiter, DELIMITER);
        if (plain.size() != 1) {
            return Optional.empty();
        }
        List<String> quoted = lex(delimiter, DELIMITER_WITH_QUOTES);
        if (quoted.size() != 1) {
            throw new InvalidSyntax("internal lexing of heredoc produced inconsistent results: " + delimiter);
        }
        // Any quote anywhere in the delimiter disables expansion of the body, as in sh.
        boolean expand = quoteCount(plain.get(0)) == quoteCount(quoted.get(0));
        return Optional.of(new Heredoc(plain.get(0), "", expand, m.group(2).equals("-"), fileDescriptor(m.group(1))));
    }

    private static List<String> lex(String delimiter, ShellLexer.Options options) {
        try {
            return ShellLexer.process(delimiter, Map.of(), '\\', options).words();
        } catch (ShellExpansionException e) {
            throw new InvalidSyntax(e.getMessage());
        }
    }

    private static int fileDescriptor(String digits) {
        try {
            return digits.isEmpty() ? 0 : Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long quoteCount(String s) {
        return s.chars().filter(c -> c == '\'' || c == '"').count();
    }
}
