package dev.kiln.app.cli;

import dev.kiln.builder.sandbox.InPlaceSandbox;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Kiln as kaniko's executor. The rule: the process runs with {@code KILN_EXECUTOR_CONTAINER=1} in its
 * environment (the executor image sets it, and so does every in-place Job the gateway generates).
 * Only then do kaniko's defaults apply: RUN in place, the context {@code /workspace/}, the docker
 * config from {@code <kaniko-dir>/.docker}, {@code /cache} as the cache dir when it is there. Anywhere
 * else Kiln's own defaults hold, so a developer's {@code kiln build} never touches their machine's {@code /}.
 *
 * @param active    whether this is the executor container
 * @param kanikoDir kaniko's working directory: {@code --kaniko-dir}, else {@code KANIKO_DIR}, else {@code /kaniko}
 * @param explicitKanikoDir whether {@code kanikoDir} was asked for rather than defaulted
 */
record ExecutorMode(boolean active, Path kanikoDir, boolean explicitKanikoDir) {
    static final String KANIKO_DIR_ENV = "KANIKO_DIR";
    static final Path DEFAULT_KANIKO_DIR = Path.of("/kaniko");
    static final Path KANIKO_CACHE_DIR = Path.of("/cache");

    /** kaniko's precedence: a {@code --kaniko-dir} other than the default beats {@code KANIKO_DIR}. */
    static ExecutorMode of(Map<String, String> env, String kanikoDirFlag) {
        boolean active = "1".equals(env.get(InPlaceSandbox.MARKER));
        if (kanikoDirFlag != null && !kanikoDirFlag.isBlank() && !Path.of(kanikoDirFlag).equals(DEFAULT_KANIKO_DIR)) {
            return new ExecutorMode(active, Path.of(kanikoDirFlag), true);
        }
        String fromEnv = env.get(KANIKO_DIR_ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return new ExecutorMode(active, Path.of(fromEnv), true);
        }
        return new ExecutorMode(active, DEFAULT_KANIKO_DIR, kanikoDirFlag != null);
    }

    /** kaniko's default context is {@code /workspace/}; Kiln's elsewhere is the current directory. */
    String defaultContext() {
        return active ? "/workspace/" : ".";
    }

    /** kaniko always builds in place; Kiln elsewhere picks an isolating sandbox. */
    String defaultSandbox() {
        return active ? "in-place" : "auto";
    }

    /** {@code /cache}, kaniko's default {@code --cache-dir}, when a volume (or the warmer) put it there. */
    Path defaultCacheDir() {
        return active && Files.isDirectory(KANIKO_CACHE_DIR) ? KANIKO_CACHE_DIR : null;
    }

    /**
     * The environment credentials are read with. An explicit {@code DOCKER_CONFIG} always wins. In the
     * executor container the docker config is kaniko's {@code <kaniko-dir>/.docker} (where the classic Pod
     * spec mounts its ConfigMap), then Kiln's {@code <kiln home>/.docker}: the first that holds a config.json.
     */
    Map<String, String> credentialEnvironment(Map<String, String> env, Path kilnHome) {
        String explicit = env.get("DOCKER_CONFIG");
        if (!active || (explicit != null && !explicit.isEmpty())) {
            return env;
        }
        Path chosen = kanikoDir.resolve(".docker");
        for (Path dir : List.of(kanikoDir.resolve(".docker"), kilnHome.resolve(".docker"))) {
            if (Files.isRegularFile(dir.resolve("config.json"))) {
                chosen = dir;
                break;
            }
        }
        Map<String, String> withConfig = new HashMap<>(env);
        withConfig.put("DOCKER_CONFIG", chosen.toString());
        return withConfig;
    }
}
