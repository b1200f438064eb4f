package dev.kiln.oci.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An image configuration (OCI {@code config.v1+json}, Docker {@code container.image.v1+json}) as an
 * immutable value: every {@code with…} returns a new one. Fields Kiln does not model are kept in
 * {@code extra} maps and written back, so a base image's config survives a rebuild. {@link #toJson()}
 * writes fields in a fixed order and maps sorted by key (as Go does), so equal values have equal bytes
 * and equal digests. Absent lists are null; present-but-empty lists stay {@code []}.
 */
public record ImageConfig(
        String created,
        String author,
        String architecture,
        String os,
        String variant,
        Container config,
        List<Digest> diffIds,
        List<History> history,
        SortedMap<String, JsonNode> extra) {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final List<String> TOP = List.of("created", "author", "architecture", "os", "variant", "config", "rootfs", "history");

    public ImageConfig {
        config = config == null ? Container.EMPTY : config;
        diffIds = diffIds == null ? List.of() : List.copyOf(diffIds);
        history = history == null ? List.of() : List.copyOf(history);
        extra = frozen(extra);
    }

    /** An empty config for {@code linux/amd64}, as {@code FROM scratch} starts. */
    public static ImageConfig empty() {
        return new ImageConfig(null, null, "amd64", "linux", null, Container.EMPTY, List.of(), List.of(), null);
    }

    // ---- with… -------------------------------------------------------------------------------

    public ImageConfig withCreated(Instant instant) {
        return withCreated(instant == null ? null : DateTimeFormatter.ISO_INSTANT.format(instant));
    }

    public ImageConfig withCreated(String rfc3339) {
        return new ImageConfig(rfc3339, author, architecture, os, variant, config, diffIds, history, extra);
    }

    public ImageConfig withAuthor(String value) {
        return new ImageConfig(created, value, architecture, os, variant, config, diffIds, history, extra);
    }

    public ImageConfig withPlatform(String newOs, String newArchitecture, String newVariant) {
        return new ImageConfig(created, author, newArchitecture, newOs, newVariant, config, diffIds, history, extra);
    }

    public ImageConfig withConfig(Container value) {
        return new ImageConfig(created, author, architecture, os, variant, value, diffIds, history, extra);
    }

    public ImageConfig withDiffIds(List<Digest> value) {
        return new ImageConfig(created, author, architecture, os, variant, config, value, history, extra);
    }

    public ImageConfig withHistory(List<History> value) {
        return new ImageConfig(created, author, architecture, os, variant, config, diffIds, value, extra);
    }

    /** Appends a layer and the history entry that made it. */
    public ImageConfig withLayer(Digest diffId, History entry) {
        return withDiffIds(append(diffIds, diffId)).withHistory(append(history, entry.withEmptyLayer(false)));
    }

    /** Appends a history entry for a step that changed only metadata. */
    public ImageConfig withEmptyLayerHistory(History entry) {
        return withHistory(append(history, entry.withEmptyLayer(true)));
    }

    public ImageConfig withExtra(String field, JsonNode value) {
        if (TOP.contains(field)) {
            throw new IllegalArgumentException(field + " is a modelled field; use its with… method");
        }
        return new ImageConfig(created, author, architecture, os, variant, config, diffIds, history, put(extra, field, value));
    }

    // ---- JSON --------------------------------------------------------------------------------

    public static ImageConfig parse(byte[] json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("image config is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("image config must be a JSON object");
        }
        List<Digest> diffIds = new ArrayList<>();
        for (JsonNode id : root.path("rootfs").path("diff_ids")) {
            diffIds.add(Digest.parse(id.asText()));
        }
        List<History> history = new ArrayList<>();
        for (JsonNode h : root.path("history")) {
            history.add(History.fromJson(h));
        }
        return new ImageConfig(text(root, "created"), text(root, "author"), text(root, "architecture"), text(root, "os"),
                text(root, "variant"), Container.fromJson(root.get("config")), diffIds, history, rest(root, TOP));
    }

    public byte[] toJson() {
        try {
            return JSON.writeValueAsBytes(toNode());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public ObjectNode toNode() {
        ObjectNode root = NODES.objectNode();
        putText(root, "created", created);
        putText(root, "author", author);
        putText(root, "architecture", architecture);
        putText(root, "os", os);
        putText(root, "variant", variant);
        root.set("config", config.toNode());
        ObjectNode rootfs = root.putObject("rootfs");
        rootfs.put("type", "layers");
        ArrayNode ids = rootfs.putArray("diff_ids");
        diffIds.forEach(d -> ids.add(d.toString()));
        if (!history.isEmpty()) {
            ArrayNode h = root.putArray("history");
            history.forEach(e -> h.add(e.toNode()));
        }
        extra.forEach((k, v) -> root.set(k, v.deepCopy()));
        return root;
    }

    /** The {@code config} object: how a container of this image runs. */
    public record Container(
            String user,
            SortedSet<String> exposedPorts,
            List<String> env,
            List<String> entrypoint,
            List<String> cmd,
            SortedSet<String> volumes,
            String workingDir,
            SortedMap<String, String> labels,
            String stopSignal,
            Healthcheck healthcheck,
            List<String> shell,
            List<String> onBuild,
            Boolean argsEscaped,
            SortedMap<String, JsonNode> extra) {

        public static final Container EMPTY = new Container(null, null, null, null, null, null, null, null, null, null,
                null, null, null, null);
        private static final List<String> KNOWN = List.of("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes",
                "WorkingDir", "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild", "ArgsEscaped");

        public Container {
            exposedPorts = exposedPorts == null ? null : Collections.unmodifiableSortedSet(new TreeSet<>(exposedPorts));
            volumes = volumes == null ? null : Collections.unmodifiableSortedSet(new TreeSet<>(volumes));
            labels = labels == null ? null : Collections.unmodifiableSortedMap(new TreeMap<>(labels));
            env = env == null ? null : List.copyOf(env);
            entrypoint = entrypoint == null ? null : List.copyOf(entrypoint);
            cmd = cmd == null ? null : List.copyOf(cmd);
            shell = shell == null ? null : List.copyOf(shell);
            onBuild = onBuild == null ? null : List.copyOf(onBuild);
            extra = frozen(extra);
        }

        public Container withUser(String v) {
            return new Container(v, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withExposedPorts(SortedSet<String> v) {
            return new Container(user, v, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        /** Adds a port such as {@code 80/tcp}; a bare number means tcp. */
        public Container withExposedPort(String port) {
            TreeSet<String> ports = exposedPorts == null ? new TreeSet<>() : new TreeSet<>(exposedPorts);
            ports.add(port.contains("/") ? port : port + "/tcp");
            return withExposedPorts(ports);
        }

        public Container withEnv(List<String> v) {
            return new Container(user, exposedPorts, v, entrypoint, cmd, volumes, workingDir, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        /** Sets {@code name=value}, replacing an earlier value in place or appending. */
        public Container withEnv(String name, String value) {
            List<String> list = env == null ? new ArrayList<>() : new ArrayList<>(env);
            String entry = name + "=" + value;
            for (int i = 0; i < list.size(); i++) {
                String e = list.get(i);
                if (e.equals(name) || e.startsWith(name + "=")) {
                    list.set(i, entry);
                    return withEnv(list);
                }
            }
            list.add(entry);
            return withEnv(list);
        }

        public Container withEntrypoint(List<String> v) {
            return new Container(user, exposedPorts, env, v, cmd, volumes, workingDir, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withCmd(List<String> v) {
            return new Container(user, exposedPorts, env, entrypoint, v, volumes, workingDir, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withVolumes(SortedSet<String> v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, v, workingDir, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withVolume(String path) {
            TreeSet<String> set = volumes == null ? new TreeSet<>() : new TreeSet<>(volumes);
            set.add(path);
            return withVolumes(set);
        }

        public Container withWorkingDir(String v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, v, labels, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withLabels(SortedMap<String, String> v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, v, stopSignal, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withLabel(String key, String value) {
            TreeMap<String, String> map = labels == null ? new TreeMap<>() : new TreeMap<>(labels);
            map.put(key, value);
            return withLabels(map);
        }

        public Container withStopSignal(String v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, v, healthcheck, shell, onBuild, argsEscaped, extra);
        }

        public Container withHealthcheck(Healthcheck v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, v, shell, onBuild, argsEscaped, extra);
        }

        public Container withShell(List<String> v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, healthcheck, v, onBuild, argsEscaped, extra);
        }

        public Container withOnBuild(List<String> v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, healthcheck, shell, v, argsEscaped, extra);
        }

        public Container withArgsEscaped(Boolean v) {
            return new Container(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, healthcheck, shell, onBuild, v, extra);
        }

        static Container fromJson(JsonNode node) {
            if (node == null || !node.isObject()) {
                return EMPTY;
            }
            Map<String, String> labels = null;
            if (node.path("Labels").isObject()) {
                labels = new TreeMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = node.get("Labels").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    labels.put(e.getKey(), e.getValue().asText());
                }
            }
            return new Container(text(node, "User"), keys(node.get("ExposedPorts")), strings(node.get("Env")),
                    strings(node.get("Entrypoint")), strings(node.get("Cmd")), keys(node.get("Volumes")), text(node, "WorkingDir"),
                    labels == null ? null : new TreeMap<>(labels), text(node, "StopSignal"), Healthcheck.fromJson(node.get("Healthcheck")),
                    strings(node.get("Shell")), strings(node.get("OnBuild")),
                    node.path("ArgsEscaped").isBoolean() ? node.get("ArgsEscaped").booleanValue() : null, rest(node, KNOWN));
        }

        ObjectNode toNode() {
            ObjectNode o = NODES.objectNode();
            putText(o, "User", user);
            putKeys(o, "ExposedPorts", exposedPorts);
            putStrings(o, "Env", env);
            putStrings(o, "Entrypoint", entrypoint);
            putStrings(o, "Cmd", cmd);
            putKeys(o, "Volumes", volumes);
            putText(o, "WorkingDir", workingDir);
            if (labels != null) {
                ObjectNode l = o.putObject("Labels");
                labels.forEach(l::put);
            }
            putText(o, "StopSignal", stopSignal);
            if (healthcheck != null) {
                o.set("Healthcheck", healthcheck.toNode());
            }
            putStrings(o, "Shell", shell);
            putStrings(o, "OnBuild", onBuild);
            if (argsEscaped != null) {
                o.put("ArgsEscaped", argsEscaped);
            }
            extra.forEach((k, v) -> o.set(k, v.deepCopy()));
            return o;
        }
    }

    /** {@code HEALTHCHECK}: durations in nanoseconds, 0 meaning "inherit"; test {@code ["NONE"]} disables it. */
    public record Healthcheck(List<String> test, long interval, long timeout, long startPeriod, long startInterval, int retries) {
        public Healthcheck {
            test = test == null ? null : List.copyOf(test);
        }

        static Healthcheck fromJson(JsonNode node) {
            if (node == null || !node.isObject()) {
                return null;
            }
            return new Healthcheck(strings(node.get("Test")), node.path("Interval").asLong(), node.path("Timeout").asLong(),
                    node.path("StartPeriod").asLong(), node.path("StartInterval").asLong(), node.path("Retries").asInt());
        }

        ObjectNode toNode() {
            ObjectNode o = NODES.objectNode();
            putStrings(o, "Test", test);
            putNonZero(o, "Interval", interval);
            putNonZero(o, "Timeout", timeout);
            putNonZero(o, "StartPeriod", startPeriod);
            putNonZero(o, "StartInterval", startInterval);
            putNonZero(o, "Retries", retries);
            return o;
        }
    }

    /** One {@code history} entry; {@code emptyLayer} marks steps that produced no layer. */
    public record History(String created, String author, String createdBy, String comment, boolean emptyLayer,
                          SortedMap<String, JsonNode> extra) {
        private static final List<String> KNOWN = List.of("created", "author", "created_by", "comment", "empty_layer");

        public History {
            extra = frozen(extra);
        }

        public static History of(Instant created, String createdBy) {
            return new History(created == null ? null : DateTimeFormatter.ISO_INSTANT.format(created), null, createdBy, null, false, null);
        }

        public History withEmptyLayer(boolean value) {
            return new History(created, author, createdBy, comment, value, extra);
        }

        public History withComment(String value) {
            return new History(created, author, createdBy, value, emptyLayer, extra);
        }

        static History fromJson(JsonNode node) {
            return new History(text(node, "created"), text(node, "author"), text(node, "created_by"), text(node, "comment"),
                    node.path("empty_layer").asBoolean(false), rest(node, KNOWN));
        }

        ObjectNode toNode() {
            ObjectNode o = NODES.objectNode();
            putText(o, "created", created);
            putText(o, "author", author);
            putText(o, "created_by", createdBy);
            putText(o, "comment", comment);
            if (emptyLayer) {
                o.put("empty_layer", true);
            }
            extra.forEach((k, v) -> o.set(k, v.deepCopy()));
            return o;
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static <T> List<T> append(List<T> list, T item) {
        List<T> copy = new ArrayList<>(list);
        copy.add(item);
        return copy;
    }

    private static SortedMap<String, JsonNode> frozen(Map<String, JsonNode> map) {
        TreeMap<String, JsonNode> copy = new TreeMap<>();
        if (map != null) {
            map.forEach((k, v) -> copy.put(k, v == null ? NODES.nullNode() : v.deepCopy()));
        }
        return Collections.unmodifiableSortedMap(copy);
    }

    private static SortedMap<String, JsonNode> put(Map<String, JsonNode> map, String key, JsonNode value) {
        TreeMap<String, JsonNode> copy = new TreeMap<>(map);
        if (value == null) {
            copy.remove(key);
        } else {
            copy.put(key, value);
        }
        return copy;
    }

    private static SortedMap<String, JsonNode> rest(JsonNode node, List<String> known) {
        TreeMap<String, JsonNode> extra = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!known.contains(e.getKey())) {
                extra.put(e.getKey(), e.getValue());
            }
        }
        return extra;
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static List<String> strings(JsonNode node) {
        if (node == null || !node.isArray()) {
            return null;
        }
        List<String> list = new ArrayList<>();
        node.forEach(n -> list.add(n.asText()));
        return list;
    }

    private static SortedSet<String> keys(JsonNode node) {
        if (node == null || !node.isObject()) {
            return null;
        }
        TreeSet<String> set = new TreeSet<>();
        node.fieldNames().forEachRemaining(set::add);
        return set;
    }

    private static void putText(ObjectNode o, String field, String value) {
        if (value != null) {
            o.put(field, value);
        }
    }

    private static void putStrings(ObjectNode o, String field, List<String> values) {
        if (values != null) {
            ArrayNode a = o.putArray(field);
            values.forEach(a::add);
        }
    }

    private static void putKeys(ObjectNode o, String field, SortedSet<String> keys) {
        if (keys != null) {
            ObjectNode m = o.putObject(field);
            keys.forEach(k -> m.putObject(k));
        }
    }

    private static void putNonZero(ObjectNode o, String field, long value) {
        if (value != 0) {
            o.put(field, value);
        }
    }
}
