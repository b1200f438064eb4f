package dev.kiln.builder.dockerfile;

/**
 * A here-document attached to RUN, COPY or ADD.
 *
 * @param name           the delimiter word with quotes removed (also the inline file name for COPY/ADD)
 * @param content        the raw lines between the marker line and the delimiter, line endings included
 * @param expand         false when any part of the delimiter was quoted ({@code <<"EOF"}, {@code <<'EOF'}),
 *                       which disables variable expansion of the content
 * @param chomp          {@code <<-EOF}: leading tabs are stripped from content lines and the delimiter
 * @param fileDescriptor the digits before {@code <<}, 0 when absent
 */
public record Heredoc(String name, String content, boolean expand, boolean chomp, int fileDescriptor) {

    /** The content as the command or file should see it: leading tabs removed for {@code <<-}. */
    public String text() {
        return chomp ? content.replaceAll("(?dm)^\t+", "") : content;
    }

    Heredoc withContent(String newContent) {
        return new Heredoc(name, newContent, expand, chomp, fileDescriptor);
    }
}
