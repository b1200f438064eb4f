package dev.kiln.builder.sandbox;

import dev.kiln.builder.rootfs.RootfsPath;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A USER resolved to numbers through the rootfs's {@code /etc/passwd} and {@code /etc/group}, as
 * Docker does: a name must exist; a number need not (its group is then 0, or the passwd entry's).
 */
public record RunUser(long uid, long gid) {

    public static final RunUser ROOT = new RunUser(0, 0);

    public boolean isRoot() {
        return uid == 0 && gid == 0;
    }

    public static RunUser resolve(RootfsPath rootfs, String user) throws IOException {
        if (user == null || user.isEmpty()) {
            return ROOT;
        }
        int colon = user.indexOf(':');
        String userPart = colon < 0 ? user : user.substring(0, colon);
        String groupPart = colon < 0 ? null : user.substring(colon + 1);
        List<String[]> passwd = read(rootfs, "/etc/passwd");
        long uid;
        Long primaryGid = null;
        if (isNumber(userPart)) {
            uid = Long.parseLong(userPart);
            for (String[] entry : passwd) {
                if (entry.length > 3 && entry[2].equals(userPart) && isNumber(entry[3])) {
                    primaryGid = Long.parseLong(entry[3]);
                    break;
                }
            }
        } else {
            String[] found = null;
            for (String[] entry : passwd) {
                if (entry.length > 3 && entry[0].equals(userPart)) {
                    found = entry;
                    break;
                }
            }
            if (found == null || !isNumber(found[2]) || !isNumber(found[3])) {
                throw new SandboxException("unable to find user " + userPart + ": no matching entries in passwd file");
            }
            uid = Long.parseLong(found[2]);
            primaryGid = Long.parseLong(found[3]);
        }
        long gid;
        if (groupPart == null || groupPart.isEmpty()) {
            gid = primaryGid == null ? 0 : primaryGid;
        } else if (isNumber(groupPart)) {
            gid = Long.parseLong(groupPart);
        } else {
            Long found = null;
            for (String[] entry : read(rootfs, "/etc/group")) {
                if (entry.length > 2 && entry[0].equals(groupPart) && isNumber(entry[2])) {
                    found = Long.parseLong(entry[2]);
                    break;
                }
            }
            if (found == null) {
                throw new SandboxException("unable to find group " + groupPart + ": no matching entries in group file");
            }
            gid = found;
        }
        return new RunUser(uid, gid);
    }

    /**
     * The home directory RUN gets as {@code HOME} for {@code user} (its user part, a name or a
     * uid): the sixth field of its {@code /etc/passwd} entry, or {@code /} without one, as runc
     * sets it for Docker.
     */
    public static String home(RootfsPath rootfs, String user) throws IOException {
        String userPart = user == null || user.isEmpty() ? "0" : user.split(":", 2)[0];
        int field = isNumber(userPart) ? 2 : 0;
        for (String[] entry : read(rootfs, "/etc/passwd")) {
            if (entry.length > 5 && entry[field].equals(userPart)) {
                return entry[5].isEmpty() ? "/" : entry[5];
            }
        }
        return "/";
    }

    private static List<String[]> read(RootfsPath rootfs, String file) throws IOException {
        Path p = rootfs.resolve(file);
        if (!Files.isRegularFile(p)) {
            return List.of();
        }
        return Files.readAllLines(p, StandardCharsets.UTF_8).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#"))
                .map(l -> l.split(":", -1))
                .toList();
    }

    private static boolean isNumber(String s) {
        if (s.isEmpty() || s.length() > 10) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }
}
