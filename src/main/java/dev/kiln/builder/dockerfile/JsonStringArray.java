package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Detects the exec form. BuildKit decodes one JSON value from the start of the text and
 * ignores anything after it; text that is not valid JSON is shell form (so
 * {@code CMD ['a']} or an unterminated array silently becomes a shell command), but a valid
 * array holding anything other than strings is an error.
 */
final class JsonStringArray {

    /** Stands for any decoded value that is not a string; only its type matters. */
    private static final Object NON_STRING = new Object();

    private final String text;
    private int pos;

    private JsonStringArray(String text) {
        this.text = text;
    }

    /** The strings of the array, or empty when the text is not JSON (shell form). */
    static Optional<List<String>> parse(String rest) {
        String trimmed = GoText.trimLeft(rest);
        if (!trimmed.startsWith("[")) {
            return Optional.empty();
        }
        JsonStringArray reader = new JsonStringArray(trimmed);
        List<Object> values;
        try {
            values = reader.array();
        } catch (NotJson e) {
            return Optional.empty();
        }
        List<String> strings = new ArrayList<>(values.size());
        for (Object v : values) {
            if (!(v instanceof String s)) {
                throw new InvalidSyntax("when using JSON array syntax, arrays must be comprised of strings only");
            }
            strings.add(s);
        }
        return Optional.of(strings);
    }

    private static final class NotJson extends Exception {
        NotJson() {
            super(null, null, false, false);
        }
    }

    private char peek() throws NotJson {
        if (pos >= text.length()) {
            throw new NotJson();
        }
        return text.charAt(pos);
    }

    private void skipSpace() {
        while (pos < text.length() && " \t\n\r".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
    }

    private void expect(char c) throws NotJson {
        if (peek() != c) {
            throw new NotJson();
        }
        pos++;
    }

    private Object value() throws NotJson {
        skipSpace();
        char c = peek();
        return switch (c) {
            case '[' -> array();
            case '{' -> object();
            case '"' -> string();
            case 't' -> literal("true");
            case 'f' -> literal("false");
            case 'n' -> literal("null");
            default -> number();
        };
    }

    private List<Object> array() throws NotJson {
        expect('[');
        List<Object> values = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            pos++;
            return values;
        }
        while (true) {
            values.add(value());
            skipSpace();
            char c = peek();
            pos++;
            if (c == ']') {
                return values;
            }
            if (c != ',') {
                throw new NotJson();
            }
        }
    }

    private Object object() throws NotJson {
        expect('{');
        skipSpace();
        if (peek() == '}') {
            pos++;
            return NON_STRING;
        }
        while (true) {
            skipSpace();
            string();
            skipSpace();
            expect(':');
            value();
            skipSpace();
            char c = peek();
            pos++;
            if (c == '}') {
                return NON_STRING;
            }
            if (c != ',') {
                throw new NotJson();
            }
        }
    }

    private Object literal(String word) throws NotJson {
        if (!text.startsWith(word, pos)) {
            throw new NotJson();
        }
        pos += word.length();
        return NON_STRING;
    }

    private Object number() throws NotJson {
        if (pos < text.length() && text.charAt(pos) == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else {
            digits();
        }
        if (pos < text.length() && text.charAt(pos) == '.') {
            pos++;
            digits();
        }
        if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
            pos++;
            if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
                pos++;
            }
            digits();
        }
        return NON_STRING;
    }

    private void digits() throws NotJson {
        int start = pos;
        while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
            pos++;
        }
        if (pos == start) {
            throw new NotJson();
        }
    }

    private String string() throws NotJson {
        expect('"');
        StringBuilder out = new StringBuilder();
        while (true) {
            char c = peek();
            pos++;
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw new NotJson();
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char e = peek();
            pos++;
            switch (e) {
                case '"', '\\', '/' -> out.append(e);
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'n' -> out.append('\n');
                case 'r' -> out.append('\r');
                case 't' -> out.append('\t');
                case 'u' -> out.appendCodePoint(unicodeEscape());
                default -> throw new NotJson();
            }
        }
    }

    /** Like Go, a surrogate that is not part of a valid escaped pair decodes to U+FFFD. */
    private int unicodeEscape() throws NotJson {
        char unit = hex4();
        if (!Character.isSurrogate(unit)) {
            return unit;
        }
        if (Character.isHighSurrogate(unit) && text.startsWith("\\u", pos)) {
            int save = pos;
            pos += 2;
            char low = hex4();
            if (Character.isLowSurrogate(low)) {
                return Character.toCodePoint(unit, low);
            }
            pos = save;
        }
        return 0xFFFD;
    }

    private char hex4() throws NotJson {
        if (pos + 4 > text.length()) {
            throw new NotJson();
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            char c = text.charAt(pos + i);
            int d = c < 0x80 ? Character.digit(c, 16) : -1;
            if (d < 0) {
                throw new NotJson();
            }
            v = v * 16 + d;
        }
        pos += 4;
        return (char) v;
    }
}
