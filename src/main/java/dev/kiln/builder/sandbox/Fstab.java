package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A list of mounts for one {@code busybox mount -a -T FILE}: the whole batch in one process
 * instead of a process per mount, which is most of what a RUN's set-up costs.
 *
 * <p>Every target is written as {@code parent/./name}: {@code mount -a} skips an entry whose
 * target it finds mounted already, by its spelling in {@code /proc/mounts}, which never holds a
 * {@code /./}; so a remount is never skipped, nor a bind over a mount point.
 */
final class Fstab {
    private final StringBuilder lines = new StringBuilder();

    Fstab bind(Path source, Path target) {
        return line(source.toString(), target, "none", "bind");
    }

    /** A recursive bind, as a RUN's {@code --mount=type=bind} and {@code cache} are. */
    Fstab rbind(Path source, Path target) {
        return line(source.toString(), target, "none", "rbind");
    }

    /** A bind mount's read-only remount; the kernel cannot bind read-only in one call. */
    Fstab readOnly(Path target) {
        return line("none", target, "none", "remount,bind,ro");
    }

    Fstab mount(String type, Path target, String options) {
        return line(type, target, type, options);
    }

    boolean isEmpty() {
        return lines.length() == 0;
    }

    void write(Path file) throws IOException {
        Files.writeString(file, lines, StandardCharsets.UTF_8);
    }

    private Fstab line(String source, Path target, String type, String options) {
        String dir = target.getParent() == null ? target.toString()
                : target.getParent() + "/./" + target.getFileName();
        lines.append(escape(source)).append(' ').append(escape(dir)).append(' ').append(type).append(' ')
                .append(escape(options)).append(" 0 0\n");
        return this;
    }

    /** getmntent's escapes: space, tab, newline and backslash as octal. */
    static String escape(String field) {
        StringBuilder s = new StringBuilder(field.length());
        for (char c : field.toCharArray()) {
            switch (c) {
                case ' ' -> s.append("\\040");
                case '\t' -> s.append("\\011");
                case '\n' -> s.append("\\012");
                case '\\' -> s.append("\\134");
                default -> s.append(c);
            }
        }
        return s.toString();
    }
}
