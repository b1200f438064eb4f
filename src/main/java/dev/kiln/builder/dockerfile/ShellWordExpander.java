package dev.kiln.builder.dockerfile;

import java.util.List;
import java.util.Map;

/**
 * Variable expansion for Dockerfile words with BuildKit's shell-lexer semantics:
 * {@code $a ${a} ${a:-w} ${a-w} ${a:+w} ${a+w} ${a:?msg} ${a?msg} ${a#p} ${a##p} ${a%p} ${a%%p}
 * ${a/p/r} ${a//p/r}}, single and double quotes, and a configurable escape character.
 *
 * <p>Which entry point an instruction uses follows BuildKit's dispatcher:
 * <ul>
 *   <li>{@link #expand} (one word in, one word out) for ENV and LABEL keys and values, ARG
 *       defaults, FROM image and {@code --platform}, ADD/COPY sources, destination,
 *       {@code --chown}, {@code --chmod}, {@code --checksum}, WORKDIR, USER, VOLUME entries,
 *       STOPSIGNAL and RUN {@code --mount} option values. These arguments were already split by
 *       the parser, so a value containing spaces must stay one argument.</li>
 *   <li>{@link #expandWords} only for EXPOSE: BuildKit re-splits each EXPOSE argument after
 *       expansion, so {@code ENV PORTS="80 443"} then {@code EXPOSE $PORTS} exposes two ports.</li>
 *   <li>RUN, CMD, ENTRYPOINT, HEALTHCHECK and SHELL are not expanded: the container's shell
 *       does that at run time.</li>
 * </ul>
 */
public final class ShellWordExpander {

    private final char escapeChar;

    public ShellWordExpander(char escapeChar) {
        if (escapeChar != '\\' && escapeChar != '`') {
            throw new IllegalArgumentException("escape character must be \\ or `, not " + escapeChar);
        }
        this.escapeChar = escapeChar;
    }

    public char escapeChar() {
        return escapeChar;
    }

    /** Expands one word; quotes are removed and whitespace from variables is kept. */
    public String expand(String word, Map<String, String> env) {
        return ShellLexer.process(word, env, escapeChar, ShellLexer.Options.STANDARD).word();
    }

    /** Expands a line and splits it into words; unquoted whitespace from variables separates words. */
    public List<String> expandWords(String line, Map<String, String> env) {
        return List.copyOf(ShellLexer.process(line, env, escapeChar, ShellLexer.Options.STANDARD).words());
    }

    /**
     * Expands an unquoted heredoc body (e.g. {@code COPY <<EOF}): variables are substituted but
     * quote characters are file content, not syntax.
     */
    public String expandHeredoc(String content, Map<String, String> env) {
        ShellLexer.Options literalQuotes = new ShellLexer.Options(false, false, false, true);
        return ShellLexer.process(content, env, escapeChar, literalQuotes).word();
    }
}
