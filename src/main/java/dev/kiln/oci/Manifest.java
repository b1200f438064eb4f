package dev.kiln.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What Kiln needs to know of a manifest or index: its type and the descriptors it points to. The
 * bytes themselves are never re-serialised; digests are always taken over what was received.
 */
public record Manifest(
        String mediaType,
        Descriptor config,
        List<Descriptor> layers,
        List<Descriptor> manifests,
        Descriptor subject,
        String artifactType,
        Map<String, String> annotations) {

    static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true);

    public boolean isIndex() {
        return MediaTypes.isIndex(mediaType);
    }

    /** Every blob an image manifest needs in its repository: config first, then layers. */
    public Stream<Descriptor> blobReferences() {
        return isIndex() ? Stream.empty() : Stream.concat(Stream.of(config), layers.stream());
    }

    /** The artifact type the referrers API reports: the explicit one, else the config's media type. */
    public String effectiveArtifactType() {
        if (artifactType != null) {
            return artifactType;
        }
        return config == null ? null : config.mediaType();
    }

    /**
     * Parses and validates a manifest. {@code contentType} is the type it was pushed with; when absent
     * the document's own {@code mediaType} decides.
     */
    public static Manifest parse(byte[] bytes, String contentType) {
        if (bytes.length >= 3 && (bytes[0] & 0xff) == 0xef && (bytes[1] & 0xff) == 0xbb && (bytes[2] & 0xff) == 0xbf) {
            // Jackson skips it, but Go clients (containerd, docker) refuse the bytes the digest is computed over
            throw new InvalidManifestException("manifest starts with a UTF-8 byte order mark, which clients refuse: send the JSON without it");
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new InvalidManifestException("manifest is not valid JSON: " + firstLine(e));
        }
        if (root == null || !root.isObject()) {
            throw new InvalidManifestException("manifest must be a JSON object");
        }
        String declared = text(root, "mediaType");
        String type = MediaTypes.essence(contentType);
        if (type == null || type.isEmpty() || type.equals("application/octet-stream")) {
            type = declared;
        }
        if (type == null) {
            throw new InvalidManifestException("manifest has no media type: send Content-Type or a mediaType field");
        }
        if (!MediaTypes.isManifest(type)) {
            throw new InvalidManifestException("unsupported manifest media type " + type
                    + "; supported: " + String.join(", ", MediaTypes.MANIFESTS));
        }
        if (declared != null && !declared.equals(type)) {
            throw new InvalidManifestException("mediaType field " + declared + " does not match Content-Type " + type);
        }
        JsonNode schemaVersion = root.get("schemaVersion");
        if (schemaVersion == null || !schemaVersion.isInt() || schemaVersion.intValue() != 2) {
            throw new InvalidManifestException("schemaVersion must be 2");
        }
        try {
            Descriptor subject = descriptor(root.get("subject"), "subject");
            Map<String, String> annotations = root.has("annotations")
                    ? JSON.convertValue(root.get("annotations"), JSON.getTypeFactory().constructMapType(Map.class, String.class, String.class))
                    : null;
            String artifactType = text(root, "artifactType");
            if (MediaTypes.isIndex(type)) {
                return new Manifest(type, null, List.of(), descriptors(root, "manifests", true), subject, artifactType, annotations);
            }
            if (root.has("manifests")) {
                throw new InvalidManifestException("an image manifest cannot also list manifests: push an index for that");
            }
            Descriptor config = descriptor(root.get("config"), "config");
            if (config == null) {
                throw new InvalidManifestException("image manifest has no config descriptor");
            }
            return new Manifest(type, config, descriptors(root, "layers", true), List.of(), subject, artifactType, annotations);
        } catch (IllegalArgumentException e) {
            if (e instanceof InvalidManifestException) {
                throw e;
            }
            throw new InvalidManifestException("malformed manifest: " + firstLine(e), e);
        }
    }

    private static List<Descriptor> descriptors(JsonNode root, String field, boolean required) {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            if (required) {
                throw new InvalidManifestException("manifest has no " + field + " array");
            }
            return List.of();
        }
        if (!node.isArray()) {
            throw new InvalidManifestException(field + " must be an array");
        }
        List<Descriptor> result = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            Descriptor d = descriptor(node.get(i), field + "[" + i + "]");
            if (d == null) {
                throw new InvalidManifestException(field + "[" + i + "] is null, not a descriptor");
            }
            result.add(d);
        }
        return List.copyOf(result);
    }

    private static Descriptor descriptor(JsonNode node, String where) {
        if (node == null || node.isNull()) {
            return null;
        }
        Descriptor d = plainDescriptor(node);
        if (d == null) {
            try {
                d = JSON.treeToValue(node, Descriptor.class);
            } catch (JsonProcessingException e) {
                throw new InvalidManifestException(where + " is not a valid descriptor: " + firstLine(e));
            }
        }
        if (d.mediaType() == null || d.mediaType().isEmpty()) {
            throw new InvalidManifestException(where + " has no mediaType");
        }
        if (d.size() < 0) {
            throw new InvalidManifestException(where + " has a negative size");
        }
        try {
            Digest.parse(d.digest());
        } catch (InvalidDigestException e) {
            throw new InvalidManifestException(where + ": " + e.getMessage());
        }
        return d;
    }

    /**
     * A descriptor whose every known field has its plain JSON type, read straight from the tree, as
     * Jackson would bind it; null for anything else, which Jackson then binds (or refuses) with its
     * coercions. Binding the first record costs a fresh process about 60 ms of CPU (Jackson
     * introspects the record), more than the rest of a cached build's manifest handling.
     */
    static Descriptor plainDescriptor(JsonNode node) {
        if (!node.isObject()) {
            return null;
        }
        for (var field : node.properties()) {
            JsonNode value = field.getValue();
            boolean plain = switch (field.getKey()) {
                case "mediaType", "digest", "artifactType" -> value.isTextual() || value.isNull();
                case "size" -> value.isIntegralNumber() && value.canConvertToLong() || value.isNull();
                case "annotations" -> value.isNull() || value.isObject() && allText(value);
                case "urls" -> value.isNull() || value.isArray() && allText(value);
                case "platform" -> value.isNull() || value.isObject() && plainPlatform(value);
                default -> true;
            };
            if (!plain) {
                return null;
            }
        }
        Map<String, String> annotations = null;
        if (node.path("annotations").isObject()) {
            annotations = new java.util.LinkedHashMap<>();
            for (var entry : node.get("annotations").properties()) {
                annotations.put(entry.getKey(), entry.getValue().textValue());
            }
        }
        JsonNode platform = node.path("platform");
        return new Descriptor(text(node, "mediaType"), text(node, "digest"), node.path("size").asLong(0),
                text(node, "artifactType"), annotations, texts(node.get("urls")),
                platform.isObject() ? new Descriptor.Platform(text(platform, "architecture"), text(platform, "os"),
                        text(platform, "variant"), text(platform, "os.version"), texts(platform.get("os.features"))) : null);
    }

    private static boolean plainPlatform(JsonNode platform) {
        for (var field : platform.properties()) {
            JsonNode value = field.getValue();
            boolean plain = switch (field.getKey()) {
                case "architecture", "os", "variant", "os.version" -> value.isTextual() || value.isNull();
                case "os.features" -> value.isNull() || value.isArray() && allText(value);
                default -> true;
            };
            if (!plain) {
                return false;
            }
        }
        return true;
    }

    private static boolean allText(JsonNode container) {
        for (JsonNode value : container) {
            if (!value.isTextual()) {
                return false;
            }
        }
        return true;
    }

    private static List<String> texts(JsonNode array) {
        if (array == null || !array.isArray()) {
            return null;
        }
        List<String> result = new ArrayList<>();
        array.forEach(value -> result.add(value.textValue()));
        return result;
    }

    private static String text(JsonNode root, String field) {
        JsonNode node = root.get(field);
        return node == null || !node.isTextual() ? null : node.textValue();
    }

    private static String firstLine(Exception e) {
        String message = String.valueOf(e.getMessage());
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
