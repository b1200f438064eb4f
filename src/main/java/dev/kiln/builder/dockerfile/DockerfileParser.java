package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;

/**
 * Parses Dockerfile text into {@link Node}s with BuildKit's line rules: a header of parser
 * directives, comments, line continuations (comment and blank lines inside a continuation are
 * skipped), and heredoc bodies following RUN/COPY/ADD lines.
 */
public final class DockerfileParser {

    private static final String DEFAULT_SOURCE = "Dockerfile";

    private final String source;
    private final List<String> lines;
    private final DirectiveReader directives = new DirectiveReader();
    private int next;

    private DockerfileParser(String source, String content) {
        this.source = source;
        this.lines = physicalLines(content.startsWith("\uFEFF") ? content.substring(1) : content);
    }

    public static Dockerfile parse(String content) {
        return parse(content, DEFAULT_SOURCE);
    }

    /** @param source the file name to use in error messages */
    public static Dockerfile parse(String content, String source) {
        return new DockerfileParser(source, content).parse();
    }

    private Dockerfile parse() {
        List<Node> nodes = new ArrayList<>();
        while (next < lines.size()) {
            int startLine = next + 1;
            String first = GoText.trimLeft(withoutNewline(lines.get(next++)));
            offerDirective(first, startLine);
            if (isComment(first)) {
                continue;
            }
            String body = continuationBody(first);
            if (body == null && first.isEmpty()) {
                continue;
            }
            String logical = body == null ? first : body + continuation();
            int endLine = next;
            Node node;
            try {
                node = NodeParser.parse(logical, directives.escapeChar(), startLine, endLine);
            } catch (InvalidSyntax e) {
                throw error(startLine, e.getMessage());
            }
            nodes.add(withHeredocBodies(node, logical));
        }
        if (nodes.isEmpty()) {
            throw error(Math.max(lines.size(), 1), "file with no instructions");
        }
        return new Dockerfile(source, directives.directives(), nodes);
    }

    /**
     * Joins the lines after one ending in the escape character. Continuation lines keep their
     * indentation; comment lines and blank lines inside a continuation are skipped.
     */
    private String continuation() {
        StringBuilder joined = new StringBuilder();
        while (next < lines.size()) {
            int lineNumber = next + 1;
            String line = withoutNewline(lines.get(next++));
            offerDirective(line, lineNumber);
            if (isComment(line) || GoText.trimLeft(line).isEmpty()) {
                continue;
            }
            String body = continuationBody(line);
            if (body == null) {
                return joined.append(line).toString();
            }
            joined.append(body);
        }
        return joined.toString();
    }

    /**
     * The line without its trailing escape character (and the blanks after it), or null when
     * the line does not continue. An escape preceded by another escape is a literal character,
     * so {@code a\\} ends the instruction while a lone {@code \} continues it.
     */
    private String continuationBody(String line) {
        char escape = directives.escapeChar();
        int end = line.length();
        while (end > 0 && (line.charAt(end - 1) == ' ' || line.charAt(end - 1) == '\t')) {
            end--;
        }
        if (end == 0 || line.charAt(end - 1) != escape) {
            return null;
        }
        if (end >= 2 && line.charAt(end - 2) == escape) {
            return null;
        }
        return line.substring(0, end - 1);
    }

    private Node withHeredocBodies(Node node, String logical) {
        Node target = node.trigger() != null ? node.trigger() : node;
        if (!target.keyword().acceptsHeredocs() || target.json() || !logical.contains("<<")) {
            return node;
        }
        List<Heredoc> markers;
        try {
            markers = HeredocMarkers.inLine(logical);
        } catch (InvalidSyntax e) {
            throw error(node.startLine(), e.getMessage());
        }
        if (markers.isEmpty()) {
            return node;
        }
        List<Heredoc> docs = new ArrayList<>();
        for (Heredoc marker : markers) {
            docs.add(marker.withContent(heredocBody(marker, node.startLine())));
        }
        return node.withHeredocs(docs, next);
    }

    private String heredocBody(Heredoc marker, int startLine) {
        StringBuilder content = new StringBuilder();
        while (next < lines.size()) {
            String raw = lines.get(next++);
            String candidate = withoutNewline(raw);
            if (marker.chomp()) {
                candidate = candidate.replaceFirst("^\t+", "");
            }
            if (candidate.equals(marker.name())) {
                return content.toString();
            }
            content.append(raw);
        }
        throw error(startLine, "unterminated heredoc");
    }

    private void offerDirective(String line, int lineNumber) {
        try {
            directives.offer(line);
        } catch (InvalidSyntax e) {
            throw error(lineNumber, e.getMessage());
        }
    }

    private DockerfileParseException error(int line, String reason) {
        return new DockerfileParseException(source, line, 1, reason);
    }

    private static boolean isComment(String line) {
        return GoText.trimLeft(line).startsWith("#");
    }

    private static String withoutNewline(String raw) {
        int end = raw.length();
        while (end > 0 && (raw.charAt(end - 1) == '\n' || raw.charAt(end - 1) == '\r')) {
            end--;
        }
        return raw.substring(0, end);
    }

    /** Lines with their terminators kept, since heredoc bodies must be reproduced byte for byte. */
    private static List<String> physicalLines(String content) {
        List<String> result = new ArrayList<>();
        int start = 0;
        while (start < content.length()) {
            int nl = content.indexOf('\n', start);
            int end = nl < 0 ? content.length() : nl + 1;
            result.add(content.substring(start, end));
            start = end;
        }
        return result;
    }
}
