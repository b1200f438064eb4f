package dev.kiln.builder.exec;

import dev.kiln.builder.sandbox.MountResolver.SecretSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * BuildKit's {@code --secret} syntax: {@code id=ID,src=FILE} ({@code source=} too),
 * {@code id=ID,env=VAR}, {@code type=file|env}; with neither {@code src} nor {@code env}, the
 * environment variable named ID if it is set, else the file named ID. Files are read when a RUN
 * mounts them; environment values now.
 */
public final class SecretFlags {
    private SecretFlags() {
    }

    public static Map<String, SecretSource> parse(List<String> flags, Map<String, String> env) throws BuildException {
        Map<String, SecretSource> secrets = new LinkedHashMap<>();
        for (String flag : flags) {
            String id = null;
            String type = null;
            String src = null;
            String var = null;
            for (String field : flag.split(",")) {
                int eq = field.indexOf('=');
                if (eq <= 0) {
                    throw new BuildException("--secret " + flag + ": expected KEY=VALUE fields (id=, src=, env=, type=)");
                }
                String key = field.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                String value = field.substring(eq + 1).trim();
                switch (key) {
                    case "id" -> id = value;
                    case "type" -> type = value;
                    case "src", "source" -> src = value;
                    case "env" -> var = value;
                    default -> throw new BuildException("--secret " + flag + ": unknown field " + key
                            + " (id, src, env, type)");
                }
            }
            if (type != null && !type.equals("file") && !type.equals("env")) {
                throw new BuildException("--secret " + flag + ": type must be file or env, not " + type);
            }
            if ("env".equals(type) && var == null) {
                var = src != null ? src : id;
                src = null;
            }
            if (id == null || id.isEmpty()) {
                id = var != null ? var : src != null ? Path.of(src).getFileName().toString() : null;
            }
            if (id == null || id.isEmpty()) {
                throw new BuildException("--secret " + flag + ": no id");
            }
            if (src == null && var == null) {
                if (env.containsKey(id) && !"file".equals(type)) {
                    var = id;
                } else {
                    src = id;
                }
            }
            if (var != null) {
                String value = env.get(var);
                if (value == null) {
                    throw new BuildException("--secret id=" + id + ": environment variable " + var + " is not set");
                }
                secrets.put(id, SecretSource.value(value));
            } else {
                Path file = Path.of(src).toAbsolutePath();
                if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                    throw new BuildException("--secret id=" + id + ": file " + src + " does not exist or is not readable");
                }
                secrets.put(id, SecretSource.file(file));
            }
        }
        return secrets;
    }
}
