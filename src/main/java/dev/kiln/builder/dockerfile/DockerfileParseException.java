package dev.kiln.builder.dockerfile;

/**
 * A Dockerfile error tied to a position. The message is one line,
 * {@code <source>:<line>:<column>: <reason>}, so it can be shown to users as is.
 */
public final class DockerfileParseException extends DockerfileException {

    private final String source;
    private final int line;
    private final int column;
    private final String reason;

    public DockerfileParseException(String source, int line, int column, String reason) {
        super(source + ":" + line + ":" + column + ": " + reason);
        this.source = source;
        this.line = line;
        this.column = column;
        this.reason = reason;
    }

    public String source() {
        return source;
    }

    /** 1-based line number. */
    public int line() {
        return line;
    }

    /** 1-based column number. */
    public int column() {
        return column;
    }

    /** The message without the position prefix. */
    public String reason() {
        return reason;
    }
}
