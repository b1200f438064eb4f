package dev.kiln.builder.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One gateway build as it is kept on disk and shown over HTTP: immutable, every change makes a new
 * record. {@code pushed} holds {@code name@digest} for each destination the image reached;
 * {@code report} what the build reused and uploaded, once it succeeded; {@code owner} the user who
 * submitted it (null without users), kept on disk but never shown: only the owner and admins see the build.
 */
public record BuildRecord(
        String id,
        BuildState state,
        BuildSpec spec,
        Instant createdAt,
        Instant startedAt,
        Instant finishedAt,
        List<Step> steps,
        String digest,
        List<String> pushed,
        String error,
        BuildReport report,
        String owner) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A finished step: {@code number} of {@code total} in its stage, FROM being 1. */
    /** @param cached the step's layer came from the layer cache: it did not run */
    public record Step(String stage, int number, int total, String instruction, long durationMillis, boolean cached) {
    }

    public BuildRecord {
        steps = List.copyOf(steps);
        pushed = List.copyOf(pushed);
    }

    public static BuildRecord queued(String id, BuildSpec spec, Instant now) {
        return queued(id, spec, now, null);
    }

    public static BuildRecord queued(String id, BuildSpec spec, Instant now, String owner) {
        return new BuildRecord(id, BuildState.QUEUED, spec, now, null, null, List.of(), null, List.of(), null, null, owner);
    }

    public BuildRecord running(Instant now) {
        return new BuildRecord(id, BuildState.RUNNING, spec, createdAt, now, null, steps, digest, pushed, error, report, owner);
    }

    public BuildRecord withStep(Step step) {
        List<Step> more = new ArrayList<>(steps);
        more.add(step);
        return new BuildRecord(id, state, spec, createdAt, startedAt, finishedAt, more, digest, pushed, error, report, owner);
    }

    public BuildRecord succeeded(Instant now, String imageDigest, List<String> pushedReferences, BuildReport buildReport) {
        return new BuildRecord(id, BuildState.SUCCEEDED, spec, createdAt, startedAt, now, steps, imageDigest,
                pushedReferences, null, buildReport, owner);
    }

    public BuildRecord ended(BuildState end, Instant now, String why) {
        return new BuildRecord(id, end, spec, createdAt, startedAt, now, steps, digest, pushed, why, report, owner);
    }

    public ObjectNode toJson() {
        ObjectNode node = JSON.createObjectNode();
        node.put("id", id);
        node.put("state", state.wireName());
        ObjectNode s = node.putObject("spec");
        s.put("context", spec.context() == null ? "upload" : spec.context());
        s.put("dockerfile", spec.dockerfile());
        s.set("buildArgs", JSON.valueToTree(spec.buildArgs()));
        s.put("target", spec.target());
        s.set("labels", JSON.valueToTree(spec.labels()));
        s.set("destinations", JSON.valueToTree(spec.destinations()));
        s.put("cache", spec.cache());
        s.put("platform", spec.platform());
        node.put("createdAt", text(createdAt));
        node.put("startedAt", text(startedAt));
        node.put("finishedAt", text(finishedAt));
        ArrayNode stepNodes = node.putArray("steps");
        for (Step step : steps) {
            stepNodes.addObject().put("stage", step.stage()).put("number", step.number()).put("total", step.total())
                    .put("instruction", step.instruction()).put("durationMillis", step.durationMillis())
                    .put("cached", step.cached());
        }
        node.put("digest", digest);
        node.set("pushed", JSON.valueToTree(pushed));
        node.put("error", error);
        node.set("report", report == null ? null : report.toJson());
        return node;
    }

    public byte[] toBytes() {
        try {
            ObjectNode stored = toJson();
            stored.put("owner", owner);
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(stored);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise build record " + id, e);
        }
    }

    public static BuildRecord parse(byte[] json) throws IOException {
        JsonNode n = JSON.readTree(json);
        JsonNode s = n.path("spec");
        String context = textOrNull(s.get("context"));
        BuildSpec spec = new BuildSpec("upload".equals(context) ? null : context, textOrNull(s.get("dockerfile")),
                stringMap(s.get("buildArgs")), textOrNull(s.get("target")), stringMap(s.get("labels")),
                stringList(s.get("destinations")), s.path("cache").asBoolean(false), textOrNull(s.get("platform")));
        BuildState state = BuildState.ofWireName(n.path("state").asText());
        if (state == null || textOrNull(n.get("id")) == null) {
            throw new IOException("not a build record: no id or state");
        }
        List<Step> steps = new ArrayList<>();
        for (JsonNode st : n.path("steps")) {
            steps.add(new Step(st.path("stage").asText(), st.path("number").asInt(), st.path("total").asInt(),
                    st.path("instruction").asText(), st.path("durationMillis").asLong(), st.path("cached").asBoolean(false)));
        }
        return new BuildRecord(n.get("id").asText(), state, spec, instant(n.get("createdAt")), instant(n.get("startedAt")),
                instant(n.get("finishedAt")), steps, textOrNull(n.get("digest")), stringList(n.get("pushed")),
                textOrNull(n.get("error")), BuildReport.parse(n.get("report")), textOrNull(n.get("owner")));
    }

    private static String text(Instant instant) {
        return instant == null ? null : instant.toString();
    }

    private static Instant instant(JsonNode node) {
        String text = textOrNull(node);
        return text == null ? null : Instant.parse(text);
    }

    private static String textOrNull(JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    private static Map<String, String> stringMap(JsonNode node) {
        Map<String, String> map = new LinkedHashMap<>();
        if (node != null && node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                map.put(e.getKey(), e.getValue().asText());
            }
        }
        return map;
    }

    private static List<String> stringList(JsonNode node) {
        List<String> list = new ArrayList<>();
        if (node != null && node.isArray()) {
            node.forEach(v -> list.add(v.asText()));
        }
        return list;
    }
}
