package dev.kiln.builder.rootfs;

import dev.kiln.oci.layer.LayerPaths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Paths of a root filesystem that an in-place build leaves alone (kaniko's ignore list): Kiln
 * itself, the kernel's filesystems, the build dir and whatever the container has mounted. They are
 * neither deleted, nor overwritten by a layer, nor part of a snapshot. Paths are rootfs-relative
 * and clean ({@code kiln}, {@code etc/resolv.conf}); an ignored path covers everything below it.
 */
public final class IgnoredPaths {
    public static final IgnoredPaths NONE = new IgnoredPaths(Set.of());

    private final Set<String> paths;

    private IgnoredPaths(Set<String> paths) {
        this.paths = paths;
    }

    /** @param paths absolute or rootfs-relative; {@code /} and empty names are refused, since they would cover everything */
    public static IgnoredPaths of(Collection<String> paths) {
        Set<String> clean = new TreeSet<>();
        for (String path : paths) {
            String c = LayerPaths.clean(path);
            if (c.isEmpty()) {
                throw new IllegalArgumentException("cannot ignore the whole root filesystem ('" + path + "')");
            }
            clean.add(c);
        }
        return new IgnoredPaths(Set.copyOf(clean));
    }

    /** The clean paths, sorted. */
    public Set<String> paths() {
        return new TreeSet<>(paths);
    }

    public boolean isEmpty() {
        return paths.isEmpty();
    }

    public IgnoredPaths plus(Collection<String> more) {
        List<String> all = new ArrayList<>(paths);
        all.addAll(more);
        return of(all);
    }

    /** True when {@code path} (clean) is an ignored path or below one. */
    public boolean covers(String path) {
        for (String p = path; !p.isEmpty(); p = LayerPaths.parent(p)) {
            if (paths.contains(p)) {
                return true;
            }
        }
        return false;
    }

    /** True when some ignored path lies strictly below {@code path} (clean; {@code ""} is the root). */
    public boolean hasIgnoredBelow(String path) {
        for (String p : paths) {
            if (LayerPaths.isUnder(p, path)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The mount points listed in {@code /proc/self/mountinfo} (the fifth field, with the kernel's
     * octal escapes undone), but not {@code /} itself: in a container these are volumes, secrets,
     * {@code /etc/resolv.conf} and friends, which belong to the container and not to the image.
     */
    public static List<String> mountPoints(String mountinfo) {
        List<String> points = new ArrayList<>();
        for (String line : mountinfo.split("\n")) {
            String[] fields = line.trim().split(" ");
            if (fields.length < 5) {
                continue;
            }
            String point = unescape(fields[4]);
            if (!point.equals("/") && point.startsWith("/")) {
                points.add(point);
            }
        }
        return points;
    }

    /** mountinfo writes space, tab, newline and backslash as {@code \ooo}. */
    private static String unescape(String field) {
        StringBuilder out = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && isOctal(field, i + 1)) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return paths().toString();
    }
}
