package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One pass of BuildKit's shell-word lexer over a string. It produces both the concatenated
 * result (single-word expansion) and the whitespace-split words, because the Dockerfile needs
 * both and they must come from the same scan to agree on quoting.
 */
final class ShellLexer {

    /**
     * Lexer switches. The raw variants keep quotes/escapes in the output; the parser uses them
     * to find heredoc markers without losing the information whether the delimiter was quoted.
     */
    record Options(boolean rawQuotes, boolean rawEscapes, boolean skipUnsetEnv, boolean skipProcessQuotes) {
        static final Options STANDARD = new Options(false, false, false, false);
    }

    record Result(String word, List<String> words) {
    }

    private static final int EOF = -1;

    private final int[] input;
    private final Map<String, String> env;
    private final int escape;
    private final Options options;
    private int pos;
    private boolean rawEscapes;

    private ShellLexer(String source, Map<String, String> env, int escape, Options options) {
        this.input = source.codePoints().toArray();
        this.env = env;
        this.escape = escape;
        this.options = options;
        this.rawEscapes = options.rawEscapes();
    }

    static Result process(String source, Map<String, String> env, int escape, Options options) {
        try {
            return new ShellLexer(source, env, escape, options).processUntil(EOF, false);
        } catch (ShellExpansionException e) {
            throw new ShellExpansionException("failed to process \"" + source + "\": " + e.getMessage());
        }
    }

    private int peek() {
        return pos < input.length ? input[pos] : EOF;
    }

    private int next() {
        return pos < input.length ? input[pos++] : EOF;
    }

    private Result processUntil(int stop, boolean keepEscapes) {
        boolean saved = rawEscapes;
        rawEscapes = saved || keepEscapes;
        try {
            StringBuilder result = new StringBuilder();
            Words words = new Words();
            while (peek() != EOF) {
                int ch = peek();
                if (stop != EOF && ch == stop) {
                    next();
                    return new Result(result.toString(), words.finish());
                }
                if (ch == '$') {
                    String value = dollar();
                    result.append(value);
                    words.addExpanded(value);
                } else if (ch == '\'' && !options.skipProcessQuotes()) {
                    String quoted = singleQuoted();
                    result.append(quoted);
                    words.addRaw(quoted);
                } else if (ch == '"' && !options.skipProcessQuotes()) {
                    String quoted = doubleQuoted();
                    result.append(quoted);
                    words.addRaw(quoted);
                } else {
                    next();
                    if (ch == escape) {
                        if (rawEscapes) {
                            words.addRawChar(ch);
                            result.appendCodePoint(ch);
                        }
                        int escaped = next();
                        if (escaped == EOF) {
                            break; // a trailing escape is dropped, like a line continuation
                        }
                        words.addRawChar(escaped);
                        result.appendCodePoint(escaped);
                    } else {
                        words.addChar(ch);
                        result.appendCodePoint(ch);
                    }
                }
            }
            if (stop != EOF) {
                throw new ShellExpansionException(
                        "unexpected end of statement while looking for matching " + Character.toString(stop));
            }
            return new Result(result.toString(), words.finish());
        } finally {
            rawEscapes = saved;
        }
    }

    private String singleQuoted() {
        StringBuilder result = new StringBuilder();
        int open = next();
        if (options.rawQuotes()) {
            result.appendCodePoint(open);
        }
        while (true) {
            int ch = next();
            if (ch == EOF) {
                throw new ShellExpansionException(
                        "unexpected end of statement while looking for matching single-quote");
            }
            if (ch == '\'') {
                if (options.rawQuotes()) {
                    result.appendCodePoint(ch);
                }
                return result.toString();
            }
            result.appendCodePoint(ch);
        }
    }

    private String doubleQuoted() {
        StringBuilder result = new StringBuilder();
        int open = next();
        if (options.rawQuotes()) {
            result.appendCodePoint(open);
        }
        while (true) {
            int ch = peek();
            if (ch == EOF) {
                throw new ShellExpansionException(
                        "unexpected end of statement while looking for matching double-quote");
            }
            if (ch == '"') {
                next();
                if (options.rawQuotes()) {
                    result.appendCodePoint(ch);
                }
                return result.toString();
            }
            if (ch == '$') {
                result.append(dollar());
                continue;
            }
            next();
            // Like sh, only ", $ and the escape char itself can be escaped inside double quotes.
            int after = peek();
            if (ch == escape && (after == '"' || after == '$' || after == escape)) {
                if (rawEscapes) {
                    result.appendCodePoint(ch);
                }
                result.appendCodePoint(next());
            } else if (!(ch == escape && after == EOF)) {
                result.appendCodePoint(ch);
            }
        }
    }

    private String dollar() {
        next();
        if (peek() != '{') {
            String name = name();
            if (name.isEmpty()) {
                return "$";
            }
            String value = env.get(name);
            if (value == null && options.skipUnsetEnv()) {
                return "$" + name;
            }
            return value == null ? "" : value;
        }
        next();
        int first = peek();
        if (first == EOF) {
            throw missingBrace();
        }
        if (first == '{' || first == '}' || first == ':') {
            throw new ShellExpansionException("syntax error: bad substitution");
        }
        String name = name();
        int op = next();
        return switch (op) {
            case '}' -> {
                String value = env.get(name);
                if (value == null && options.skipUnsetEnv()) {
                    yield "${" + name + "}";
                }
                yield value == null ? "" : value;
            }
            case ':' -> modifier(name, next(), true);
            case '-', '+', '?', '#', '%' -> modifier(name, op, false);
            case '/' -> substitution(name);
            default -> throw unsupported(op == EOF ? "" : Character.toString(op));
        };
    }

    private String modifier(String name, int op, boolean nullIsUnset) {
        String spelled = (nullIsUnset ? ":" : "") + (op == EOF ? "" : Character.toString(op));
        boolean pattern = op == '#' || op == '%';
        if (nullIsUnset && op != '-' && op != '+' && op != '?') {
            throw unsupported(spelled);
        }
        String word = wordUntil('}', pattern, missingBrace());
        String value = env.get(name);
        boolean set = value != null;
        if (!set && options.skipUnsetEnv()) {
            return "${" + name + spelled + word + "}";
        }
        boolean absent = !set || (nullIsUnset && value.isEmpty());
        return switch (op) {
            case '-' -> absent ? word : value;
            case '+' -> absent ? "" : word;
            case '?' -> {
                if (!set) {
                    throw new ShellExpansionException(name + ": " + (word.isEmpty() ? "is not allowed to be unset" : word));
                }
                if (absent) {
                    throw new ShellExpansionException(name + ": " + (word.isEmpty() ? "is not allowed to be empty" : word));
                }
                yield value;
            }
            default -> {
                boolean longest = !word.isEmpty() && word.codePointAt(0) == op;
                String glob = longest ? word.substring(Character.charCount(op)) : word;
                ShellPattern p = ShellPattern.compile(glob);
                String subject = set ? value : "";
                yield op == '#' ? p.removePrefix(subject, longest) : p.removeSuffix(subject, longest);
            }
        };
    }

    private String substitution(String name) {
        boolean all = peek() == '/';
        if (all) {
            next();
        }
        String glob = wordUntil('/', true, new ShellExpansionException("syntax error: missing '/' in ${}"));
        String replacement = wordUntil('}', true, new ShellExpansionException("syntax error: missing '}' in ${}"));
        String value = env.get(name);
        if (value == null && options.skipUnsetEnv()) {
            return "${" + name + (all ? "//" : "/") + glob + "/" + replacement + "}";
        }
        return ShellPattern.compile(glob).replace(value == null ? "" : value, replacement, all);
    }

    /** Nested words report a missing terminator rather than whatever failed at end of input. */
    private String wordUntil(int stop, boolean keepEscapes, ShellExpansionException atEnd) {
        try {
            return processUntil(stop, keepEscapes).word();
        } catch (ShellExpansionException e) {
            if (peek() == EOF) {
                throw atEnd;
            }
            throw e;
        }
    }

    private String name() {
        StringBuilder name = new StringBuilder();
        while (peek() != EOF) {
            int ch = peek();
            if (name.length() == 0 && Character.isDigit(ch)) {
                while (peek() != EOF && Character.isDigit(peek())) {
                    name.appendCodePoint(next());
                }
                return name.toString();
            }
            if (name.length() == 0 && isSpecialParameter(ch)) {
                next();
                return Character.toString(ch);
            }
            if (!Character.isLetter(ch) && !Character.isDigit(ch) && ch != '_') {
                break;
            }
            name.appendCodePoint(next());
        }
        return name.toString();
    }

    /** POSIX special parameters; never set in a Dockerfile, but they are names, not syntax errors. */
    private static boolean isSpecialParameter(int ch) {
        return ch == '@' || ch == '*' || ch == '#' || ch == '?' || ch == '-' || ch == '$' || ch == '!' || ch == '0';
    }

    private static ShellExpansionException missingBrace() {
        return new ShellExpansionException("syntax error: missing '}'");
    }

    private static ShellExpansionException unsupported(String modifier) {
        return new ShellExpansionException("unsupported modifier (" + modifier + ") in substitution");
    }

    /**
     * Word splitting state: expanded variable text splits on whitespace, while quoted or
     * escaped text is glued into the current word.
     */
    private static final class Words {
        private final List<String> words = new ArrayList<>();
        private final StringBuilder word = new StringBuilder();

        void addChar(int ch) {
            if (!GoText.isSpace(ch)) {
                word.appendCodePoint(ch);
            } else if (word.length() > 0) {
                words.add(word.toString());
                word.setLength(0);
            }
        }

        void addRawChar(int ch) {
            word.appendCodePoint(ch);
        }

        void addExpanded(String text) {
            text.codePoints().forEach(this::addChar);
        }

        void addRaw(String text) {
            word.append(text);
        }

        List<String> finish() {
            if (word.length() > 0) {
                words.add(word.toString());
                word.setLength(0);
            }
            return words;
        }
    }
}
