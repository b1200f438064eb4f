package dev.kiln.mirror.support;

import dev.kiln.testkit.ExecResult;
import dev.kiln.testkit.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The real skopeo, with a permissive signature policy of its own so the host's policy.json does not matter. */
public final class Skopeo {
    private Skopeo() {
    }

    /** {@code skopeo copy ARGS}; plain-HTTP registries need the caller's --src/--dest-tls-verify=false. */
    public static ExecResult copy(String... args) {
        List<String> command = new ArrayList<>(List.of("skopeo", "--insecure-policy", "copy", "--retry-times", "0"));
        command.addAll(List.of(args));
        return Tools.run(command, Map.of(), 180);
    }

    /** Pushes a layout image to a plain-HTTP registry; extra options (e.g. --format v2s2, --all, --dest-creds) first. */
    public static void push(String source, String destination, String... options) {
        List<String> args = new ArrayList<>(List.of(options));
        args.addAll(List.of("--dest-tls-verify=false", source, "docker://" + destination));
        copy(args.toArray(String[]::new)).requireSuccess();
    }

    /** sha256 of the top manifest a {@code dir:} copy wrote. */
    public static String manifestDigest(Path dirCopy) throws IOException {
        return OciLayout.sha256(Files.readAllBytes(dirCopy.resolve("manifest.json")));
    }
}
