package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.List;

/**
 * A .dockerignore file. Patterns apply in order and the last one that matches a path decides:
 * a plain pattern excludes, a {@code !pattern} re-includes. A pattern matching a directory also
 * matches everything below it.
 */
public final class DockerIgnore {

    private final List<IgnorePattern> patterns;

    private DockerIgnore(List<IgnorePattern> patterns) {
        this.patterns = List.copyOf(patterns);
    }

    /**
     * Reads a .dockerignore: {@code #} at the start of a line is a comment, blank lines are
     * skipped, surrounding spaces are trimmed, and patterns are cleaned and made relative
     * ({@code /a/./b/} and {@code ./a/b} both become {@code a/b}).
     */
    public static DockerIgnore parse(String content) {
        String text = content.startsWith("\uFEFF") ? content.substring(1) : content;
        List<String> lines = new ArrayList<>();
        for (String line : text.split("\r?\n", -1)) {
            if (!line.startsWith("#")) {
                lines.add(line);
            }
        }
        return of(lines);
    }

    /**
     * Patterns as given on a command line or read from a file, comments already removed.
     *
     * @throws DockerfileException for a lone {@code !}
     */
    public static DockerIgnore of(List<String> lines) {
        List<IgnorePattern> patterns = new ArrayList<>();
        for (String line : lines) {
            String p = GoText.trim(line);
            if (p.isEmpty()) {
                continue;
            }
            boolean exception = p.startsWith("!");
            if (exception) {
                p = GoText.trim(p.substring(1));
                if (p.isEmpty()) {
                    throw new DockerfileException("illegal exclusion pattern: \"!\"");
                }
            }
            p = CleanPath.clean(p);
            if (p.length() > 1 && p.startsWith("/")) {
                p = p.substring(1);
            }
            patterns.add(new IgnorePattern(p, exception));
        }
        return new DockerIgnore(patterns);
    }

    /** The cleaned patterns, exceptions prefixed with {@code !}. */
    public List<String> patterns() {
        return patterns.stream().map(p -> (p.exception() ? "!" : "") + p.pattern()).toList();
    }

    /**
     * Whether a context path is left out of the build context.
     *
     * @param relativePath path relative to the context root, {@code /}-separated
     * @param isDirectory  accepted so walkers can pass what they know; it does not change the
     *                     answer because Docker cleans a trailing {@code /} off patterns, so
     *                     {@code foo/} also matches a file named {@code foo}
     */
    public boolean excluded(String relativePath, boolean isDirectory) {
        String path = normalize(relativePath);
        if (path.equals(".")) {
            return false;
        }
        boolean excluded = false;
        for (IgnorePattern p : patterns) {
            // Only a pattern that could change the current verdict needs evaluating.
            if (p.exception() == excluded && matchesSelfOrParent(p, path)) {
                excluded = !p.exception();
            }
        }
        return excluded;
    }

    /**
     * Whether a walker must descend into {@code directory}: it is not excluded, or it is but a
     * {@code !} pattern after the last exclusion covering it may re-include something below it.
     * A false answer means nothing under the directory can be in the context.
     */
    public boolean mustWalk(String directory) {
        String dir = normalize(directory);
        if (!excluded(dir, true)) {
            return true;
        }
        int lastExclusion = -1;
        for (int i = 0; i < patterns.size(); i++) {
            IgnorePattern p = patterns.get(i);
            if (!p.exception() && matchesSelfOrParent(p, dir)) {
                lastExclusion = i;
            }
        }
        for (IgnorePattern p : patterns.subList(lastExclusion + 1, patterns.size())) {
            if (p.exception() && p.mayMatchBelow(dir)) {
                return true;
            }
        }
        return false;
    }

    private static boolean matchesSelfOrParent(IgnorePattern p, String path) {
        if (p.matches(path)) {
            return true;
        }
        for (int slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
            if (p.matches(path.substring(0, slash))) {
                return true;
            }
        }
        return false;
    }

    private static String normalize(String path) {
        String clean = CleanPath.clean(path);
        while (clean.startsWith("/")) {
            clean = clean.substring(1);
        }
        return clean.isEmpty() ? "." : clean;
    }
}
