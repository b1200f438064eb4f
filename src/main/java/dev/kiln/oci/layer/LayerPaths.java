package dev.kiln.oci.layer;

import java.util.ArrayList;
import java.util.List;

/**
 * Layer entry names as rootfs-relative paths: {@code a/b/c}, never a leading {@code /} or
 * {@code ./}, never a trailing {@code /}; the root itself is the empty string.
 */
public final class LayerPaths {
    private LayerPaths() {
    }

    /**
     * Cleans a name lexically the way Docker does ({@code filepath.Clean} relative to the root):
     * empty and {@code .} components vanish, {@code ..} removes the previous component, and a
     * leading {@code /} is ignored, so {@code /etc/x} means {@code etc/x} inside the rootfs.
     *
     * @throws IllegalArgumentException when {@code ..} would climb above the root, because such an
     *     entry can only be an attempt to write outside the rootfs
     */
    public static String clean(String name) {
        List<String> out = new ArrayList<>();
        for (String part : name.split("/", -1)) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (out.isEmpty()) {
                    throw new IllegalArgumentException("path '" + name + "' climbs above the root");
                }
                out.remove(out.size() - 1);
            } else {
                out.add(part);
            }
        }
        return String.join("/", out);
    }

    /** True when the name contains a {@code ..} component, which a writer never needs. */
    public static boolean hasDotDot(String name) {
        for (String part : name.split("/", -1)) {
            if (part.equals("..")) {
                return true;
            }
        }
        return false;
    }

    /** The parent of a clean path; {@code ""} for a top-level name. */
    public static String parent(String clean) {
        int slash = clean.lastIndexOf('/');
        return slash < 0 ? "" : clean.substring(0, slash);
    }

    public static String baseName(String clean) {
        return clean.substring(clean.lastIndexOf('/') + 1);
    }

    public static String child(String parent, String name) {
        return parent.isEmpty() ? name : parent + "/" + name;
    }

    /** True when {@code path} is strictly below {@code ancestor} (both clean). */
    public static boolean isUnder(String path, String ancestor) {
        if (ancestor.isEmpty()) {
            return !path.isEmpty();
        }
        return path.length() > ancestor.length() && path.startsWith(ancestor)
                && path.charAt(ancestor.length()) == '/';
    }

    /**
     * Tar order: a depth-first walk, so every directory precedes its contents, names within a
     * directory by their characters, except that a directory's opaque marker comes first, so that
     * extractors which apply entries strictly in order see it before the directory's new content.
     */
    public static int compare(String a, String b) {
        // allocation-free: sorting a large change set calls this a few hundred thousand times
        int i = 0;
        int j = 0;
        while (true) {
            if (i >= a.length() || j >= b.length()) {
                return Integer.compare(a.length() - i, b.length() - j);
            }
            int ea = a.indexOf('/', i);
            int eb = b.indexOf('/', j);
            ea = ea < 0 ? a.length() : ea;
            eb = eb < 0 ? b.length() : eb;
            int la = ea - i;
            int lb = eb - j;
            if (la != lb || !a.regionMatches(i, b, j, la)) {
                if (isOpaque(a, i, la)) {
                    return -1;
                }
                if (isOpaque(b, j, lb)) {
                    return 1;
                }
                for (int k = 0; k < Math.min(la, lb); k++) {
                    char ca = a.charAt(i + k);
                    char cb = b.charAt(j + k);
                    if (ca != cb) {
                        return ca - cb;
                    }
                }
                return la - lb;
            }
            i = ea + 1;
            j = eb + 1;
        }
    }

    private static boolean isOpaque(String s, int offset, int length) {
        return length == Whiteouts.OPAQUE.length() && s.startsWith(Whiteouts.OPAQUE, offset);
    }
}
