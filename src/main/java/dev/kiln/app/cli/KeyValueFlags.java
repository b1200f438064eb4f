package dev.kiln.app.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Docker's {@code KEY=VALUE} flags ({@code --build-arg}, {@code --label}), in the order given. */
final class KeyValueFlags {
    private KeyValueFlags() {
    }

    /** {@code --build-arg}: a bare {@code KEY} takes its value from the environment, and is left out when unset there. */
    static Map<String, String> buildArgs(List<String> flags, Map<String, String> env) {
        Map<String, String> args = new LinkedHashMap<>();
        for (String flag : flags) {
            int eq = flag.indexOf('=');
            if (eq < 0) {
                String value = env.get(flag);
                if (value != null) {
                    args.put(flag, value);
                }
            } else {
                args.put(flag.substring(0, eq), flag.substring(eq + 1));
            }
        }
        return args;
    }

    /** {@code --label}: a bare {@code KEY} is an empty label. */
    static Map<String, String> labels(List<String> flags) {
        Map<String, String> labels = new LinkedHashMap<>();
        for (String flag : flags) {
            int eq = flag.indexOf('=');
            labels.put(eq < 0 ? flag : flag.substring(0, eq), eq < 0 ? "" : flag.substring(eq + 1));
        }
        return labels;
    }
}
