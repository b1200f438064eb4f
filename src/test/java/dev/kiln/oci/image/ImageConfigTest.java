package dev.kiln.oci.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.oci.Digest;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ImageConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DIFF = "sha256:" + "b".repeat(64);

    // Shaped like a real Docker Hub config, with fields Kiln does not model.
    private static final String SAMPLE = """
            {"architecture":"arm64","variant":"v8","os":"linux","os.version":"","created":"2024-01-02T03:04:05.123456789Z",
             "container":"abc","docker_version":"20.10.23",
             "config":{"Hostname":"","Env":["PATH=/usr/bin","A=1"],"Cmd":["sh"],"Labels":{"z":"1","a":"2"},
               "ExposedPorts":{"8080/tcp":{},"53/udp":{}},"Volumes":{"/data":{}},"WorkingDir":"/w","User":"1000",
               "Entrypoint":null,"OnBuild":null,"StopSignal":"SIGTERM","Shell":["/bin/sh","-c"],"ArgsEscaped":true,
               "Healthcheck":{"Test":["CMD","true"],"Interval":30000000000,"Retries":3}},
             "rootfs":{"type":"layers","diff_ids":["%s"]},
             "history":[{"created":"2024-01-02T03:04:05Z","created_by":"/bin/sh -c #(nop) ADD file","x-extra":7},
                        {"created":"2024-01-02T03:04:06Z","created_by":"CMD [\\"sh\\"]","empty_layer":true,"comment":"c"}]}
            """.formatted(DIFF);

    @Test
    void readsEveryModelledField() {
        ImageConfig c = ImageConfig.parse(SAMPLE.getBytes(StandardCharsets.UTF_8));
        assertEquals("arm64", c.architecture());
        assertEquals("v8", c.variant());
        assertEquals("linux", c.os());
        assertEquals("2024-01-02T03:04:05.123456789Z", c.created());
        assertEquals(List.of("PATH=/usr/bin", "A=1"), c.config().env());
        assertEquals(List.of("sh"), c.config().cmd());
        assertNull(c.config().entrypoint());
        assertEquals(List.of("53/udp", "8080/tcp"), List.copyOf(c.config().exposedPorts()));
        assertEquals("2", c.config().labels().get("a"));
        assertEquals("/w", c.config().workingDir());
        assertEquals("1000", c.config().user());
        assertEquals(true, c.config().argsEscaped());
        assertEquals(30_000_000_000L, c.config().healthcheck().interval());
        assertEquals(3, c.config().healthcheck().retries());
        assertEquals(List.of(Digest.parse(DIFF)), c.diffIds());
        assertEquals(2, c.history().size());
        assertTrue(c.history().get(1).emptyLayer());
        assertEquals("c", c.history().get(1).comment());
    }

    @Test
    void roundTripKeepsUnknownFieldsAndIsByteStable() throws Exception {
        ImageConfig c = ImageConfig.parse(SAMPLE.getBytes(StandardCharsets.UTF_8));
        byte[] once = c.toJson();
        JsonNode tree = JSON.readTree(once);
        assertEquals("20.10.23", tree.get("docker_version").asText());
        assertEquals("abc", tree.get("container").asText());
        assertTrue(tree.has("os.version"));
        assertEquals("", tree.path("config").path("Hostname").asText("missing"));
        assertEquals(7, tree.path("history").path(0).path("x-extra").asInt());
        assertEquals(ImageConfig.parse(once), c, "value survives a round trip");
        assertArrayEquals(once, ImageConfig.parse(once).toJson(), "second round trip gives the same bytes");
        // Labels are written sorted, and modelled fields in a fixed order regardless of input order.
        String text = new String(once, StandardCharsets.UTF_8);
        assertTrue(text.indexOf("\"a\":\"2\"") < text.indexOf("\"z\":\"1\""), text);
        assertTrue(text.startsWith("{\"created\":\"2024-01-02T03:04:05.123456789Z\",\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\",\"config\":{"), text);
    }

    @Test
    void sameContentDifferentInputOrderGivesSameDigest() {
        String a = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Labels\":{\"b\":\"1\",\"a\":\"2\"}},\"x\":1,\"w\":2}";
        String b = "{\"w\":2,\"config\":{\"Labels\":{\"a\":\"2\",\"b\":\"1\"}},\"x\":1,\"architecture\":\"amd64\",\"os\":\"linux\"}";
        assertEquals(Digest.sha256(ImageConfig.parse(a.getBytes()).toJson()), Digest.sha256(ImageConfig.parse(b.getBytes()).toJson()));
    }

    @Test
    void mutationsReturnNewValuesAndLeaveTheOriginalAlone() {
        ImageConfig base = ImageConfig.parse(SAMPLE.getBytes(StandardCharsets.UTF_8));
        byte[] before = base.toJson();
        Instant t = Instant.parse("2025-05-05T05:05:05Z");
        ImageConfig next = base
                .withConfig(base.config().withEnv("A", "2").withEnv("B", "3").withLabel("m", "x").withExposedPort("80")
                        .withWorkingDir("/app").withEntrypoint(List.of("/app/run")))
                .withLayer(Digest.parse("sha256:" + "c".repeat(64)), ImageConfig.History.of(t, "RUN make"))
                .withEmptyLayerHistory(ImageConfig.History.of(t, "ENV X=1"))
                .withCreated(t);
        assertArrayEquals(before, base.toJson(), "original unchanged");
        assertEquals(List.of("PATH=/usr/bin", "A=2", "B=3"), next.config().env());
        assertTrue(next.config().exposedPorts().contains("80/tcp"));
        assertEquals(2, next.diffIds().size());
        assertEquals(4, next.history().size());
        assertTrue(next.history().get(3).emptyLayer());
        assertEquals("2025-05-05T05:05:05Z", next.created());
        assertEquals("20.10.23", next.extra().get("docker_version").asText(), "unknown fields carried through mutations");
    }

    @Test
    void emptyConfigSerialisesMinimally() {
        assertEquals("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
                new String(ImageConfig.empty().toJson(), StandardCharsets.UTF_8));
    }
}
