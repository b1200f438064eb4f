package dev.kiln.builder.context;

import java.util.List;
import java.util.Locale;

/**
 * kaniko's {@code --git} flag: {@code branch=NAME,single-branch=BOOL,recurse-submodules=BOOL,
 * insecure-skip-tls=BOOL} plus {@code depth=N} (0: full history). Pairs may be comma-joined or given
 * in several {@code --git} flags. {@code credentialsForContextHost}: whether {@code GIT_USERNAME}/{@code GIT_TOKEN}
 * may go to the context's own host when {@code GIT_CREDENTIAL_HOSTS} lists none: true on the command line
 * (whoever wrote it chose the host), false in {@link #DEFAULT}, which the gateway uses for submitted contexts.
 */
public record GitOptions(String branch, boolean singleBranch, boolean recurseSubmodules, int depth, boolean insecureSkipTls,
                         boolean credentialsForContextHost) {
    public static final GitOptions DEFAULT = new GitOptions(null, false, false, 0, false, false);

    public static GitOptions parse(List<String> flags) throws ContextException {
        String branch = null;
        boolean singleBranch = false;
        boolean recurse = false;
        int depth = 0;
        boolean insecure = false;
        for (String flag : flags) {
            for (String pair : flag.split(",")) {
                if (pair.isBlank()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new ContextException("--git " + pair + ": expected KEY=VALUE");
                }
                String key = pair.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                String value = pair.substring(eq + 1).trim();
                switch (key) {
                    case "branch" -> branch = value.isEmpty() ? null : value;
                    case "single-branch" -> singleBranch = bool(key, value);
                    case "recurse-submodules" -> recurse = bool(key, value);
                    case "insecure-skip-tls" -> insecure = bool(key, value);
                    case "depth" -> {
                        try {
                            depth = Integer.parseInt(value);
                        } catch (NumberFormatException e) {
                            depth = -1;
                        }
                        if (depth < 0) {
                            throw new ContextException("--git depth=" + value + ": expected a whole number >= 0");
                        }
                    }
                    default -> throw new ContextException("--git " + key + ": unknown key (branch, single-branch, "
                            + "recurse-submodules, depth, insecure-skip-tls)");
                }
            }
        }
        return new GitOptions(branch, singleBranch, recurse, depth, insecure, true);
    }

    private static boolean bool(String key, String value) throws ContextException {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no", "" -> false;
            default -> throw new ContextException("--git " + key + "=" + value + ": expected true or false");
        };
    }
}
