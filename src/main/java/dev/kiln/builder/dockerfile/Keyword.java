package dev.kiln.builder.dockerfile;

import java.util.Locale;
import java.util.Optional;

/** The Dockerfile instructions and how the parser splits each one's arguments. */
public enum Keyword {
    ADD(ArgumentStyle.JSON_OR_WORDS),
    ARG(ArgumentStyle.WORDS),
    CMD(ArgumentStyle.JSON_OR_STRING),
    COPY(ArgumentStyle.JSON_OR_WORDS),
    ENTRYPOINT(ArgumentStyle.JSON_OR_STRING),
    ENV(ArgumentStyle.KEY_VALUES),
    EXPOSE(ArgumentStyle.WHITESPACE),
    FROM(ArgumentStyle.WHITESPACE),
    HEALTHCHECK(ArgumentStyle.HEALTHCHECK),
    LABEL(ArgumentStyle.KEY_VALUES),
    MAINTAINER(ArgumentStyle.STRING),
    ONBUILD(ArgumentStyle.SUB_INSTRUCTION),
    RUN(ArgumentStyle.JSON_OR_STRING),
    SHELL(ArgumentStyle.JSON_OR_STRING),
    STOPSIGNAL(ArgumentStyle.STRING),
    USER(ArgumentStyle.STRING),
    VOLUME(ArgumentStyle.JSON_OR_WORDS),
    WORKDIR(ArgumentStyle.STRING);

    enum ArgumentStyle {
        /** Exec form if the text is a JSON string array, else the whole text as one argument. */
        JSON_OR_STRING,
        /** Exec form if the text is a JSON string array, else split on whitespace. */
        JSON_OR_WORDS,
        /** Split on whitespace, quotes have no meaning. */
        WHITESPACE,
        /** Split on unquoted whitespace, quotes and escapes kept for later expansion. */
        WORDS,
        /** {@code k v} or {@code k=v k2=v2}, stored as (key, value, separator) triples. */
        KEY_VALUES,
        /** The whole text as one argument. */
        STRING,
        /** A type word followed by JSON_OR_STRING. */
        HEALTHCHECK,
        /** Another instruction. */
        SUB_INSTRUCTION
    }

    private final ArgumentStyle style;

    Keyword(ArgumentStyle style) {
        this.style = style;
    }

    ArgumentStyle style() {
        return style;
    }

    /** Instructions whose arguments may open heredocs. */
    boolean acceptsHeredocs() {
        return this == RUN || this == COPY || this == ADD;
    }

    /** Case-insensitive lookup, as Dockerfile instructions are. */
    public static Optional<Keyword> lookup(String word) {
        String upper = word.toUpperCase(Locale.ROOT);
        for (Keyword k : values()) {
            if (k.name().equals(upper)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }
}
