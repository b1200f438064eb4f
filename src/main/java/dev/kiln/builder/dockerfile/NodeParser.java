package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** Turns one logical line into a {@link Node}, splitting arguments the way its keyword requires. */
final class NodeParser {

    /** Go's {@code [\t\v\f\r ]+}: newlines never occur here and other Unicode spaces do not split. */
    private static final Pattern WHITESPACE = Pattern.compile("[\\t\\x0B\\f\\r ]+");

    private record Arguments(List<String> values, boolean json, Node trigger) {
        static final Arguments NONE = new Arguments(List.of(), false, null);

        static Arguments of(List<String> values) {
            return new Arguments(values, false, null);
        }
    }

    private NodeParser() {
    }

    static Node parse(String line, char escape, int startLine, int endLine) {
        String[] parts = WHITESPACE.split(GoText.trim(line), 2);
        String word = parts[0];
        Keyword keyword = Keyword.lookup(word)
                .orElseThrow(() -> new InvalidSyntax("unknown instruction: " + word));
        List<String> flags = List.of();
        String rest = "";
        if (parts.length == 2) {
            FlagExtractor.Result extracted = FlagExtractor.extract(parts[1]);
            flags = extracted.flags();
            rest = GoText.trim(extracted.rest());
        }
        Arguments a = arguments(keyword, rest, escape, startLine, endLine);
        return new Node(keyword, word, flags, a.values(), a.json(), a.trigger(), List.of(), line, startLine, endLine);
    }

    private static Arguments arguments(Keyword keyword, String rest, char escape, int startLine, int endLine) {
        return switch (keyword.style()) {
            case JSON_OR_STRING -> jsonOrString(rest);
            case JSON_OR_WORDS -> JsonStringArray.parse(rest)
                    .map(values -> new Arguments(values, true, null))
                    .orElseGet(() -> Arguments.of(whitespaceSplit(rest)));
            case WHITESPACE -> Arguments.of(whitespaceSplit(rest));
            case WORDS -> Arguments.of(QuotedWords.split(rest, escape));
            case KEY_VALUES -> Arguments.of(keyValues(keyword, rest, escape));
            case STRING -> Arguments.of(rest.isEmpty() ? List.of() : List.of(rest));
            case HEALTHCHECK -> healthcheck(rest);
            case SUB_INSTRUCTION -> rest.isEmpty()
                    ? Arguments.NONE
                    : new Arguments(List.of(), false, parse(rest, escape, startLine, endLine));
        };
    }

    private static Arguments jsonOrString(String rest) {
        if (rest.isEmpty()) {
            return Arguments.NONE;
        }
        Optional<List<String>> json = JsonStringArray.parse(rest);
        return json.map(values -> new Arguments(values, true, null)).orElseGet(() -> Arguments.of(List.of(rest)));
    }

    private static List<String> whitespaceSplit(String rest) {
        return rest.isEmpty() ? List.of() : Arrays.asList(WHITESPACE.split(rest, -1));
    }

    /** The first word is the type (CMD, NONE, ...); the rest is a command like RUN's. */
    private static Arguments healthcheck(String rest) {
        int typeEnd = 0;
        while (typeEnd < rest.length() && !GoText.isSpace(rest.charAt(typeEnd))) {
            typeEnd++;
        }
        if (typeEnd == 0) {
            return Arguments.NONE;
        }
        Arguments command = jsonOrString(GoText.trimLeft(rest.substring(typeEnd)));
        List<String> values = new ArrayList<>();
        values.add(rest.substring(0, typeEnd));
        values.addAll(command.values());
        return new Arguments(values, command.json(), null);
    }

    /**
     * ENV/LABEL: if the first word has no {@code =} it is the legacy {@code KEY value...} form
     * (the rest of the line is the value); otherwise every word must be {@code key=value}.
     */
    private static List<String> keyValues(Keyword keyword, String rest, char escape) {
        List<String> words = QuotedWords.split(rest, escape);
        if (words.isEmpty()) {
            return List.of();
        }
        if (!words.get(0).contains("=")) {
            String[] parts = WHITESPACE.split(rest, 2);
            if (parts.length < 2) {
                throw new InvalidSyntax(keyword + " must have two arguments");
            }
            return List.of(parts[0], parts[1], "");
        }
        List<String> triples = new ArrayList<>();
        for (String word : words) {
            int eq = word.indexOf('=');
            if (eq < 0) {
                throw new InvalidSyntax("Syntax error - can't find = in " + GoText.quote(word)
                        + ". Must be of the form: name=value");
            }
            triples.add(word.substring(0, eq));
            triples.add(word.substring(eq + 1));
            triples.add("=");
        }
        return triples;
    }
}
