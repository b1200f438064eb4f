package dev.kiln.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ManifestTest {
    static final String D1 = "sha256:" + "1".repeat(64);
    static final String D2 = "sha256:" + "2".repeat(64);

    static byte[] image(String mediaTypeField, String extra) {
        return ("{\"schemaVersion\":2," + (mediaTypeField == null ? "" : "\"mediaType\":\"" + mediaTypeField + "\",")
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + D1 + "\",\"size\":10},"
                + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" + D2 + "\",\"size\":20}]"
                + extra + "}").getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void ociManifestWithoutMediaTypeFieldTakesTheContentType() {
        Manifest m = Manifest.parse(image(null, ""), MediaTypes.OCI_MANIFEST);
        assertEquals(MediaTypes.OCI_MANIFEST, m.mediaType());
        assertEquals(D1, m.config().digest());
        assertEquals(2, m.blobReferences().count());
        assertEquals("application/vnd.oci.image.config.v1+json", m.effectiveArtifactType());
    }

    @Test
    void contentTypeParametersAreIgnored() {
        Manifest m = Manifest.parse(image(MediaTypes.OCI_MANIFEST, ""), MediaTypes.OCI_MANIFEST + "; charset=utf-8");
        assertEquals(MediaTypes.OCI_MANIFEST, m.mediaType());
    }

    @Test
    void mediaTypeFieldMustAgreeWithContentType() {
        assertThrows(InvalidManifestException.class, () -> Manifest.parse(image(MediaTypes.DOCKER_MANIFEST, ""), MediaTypes.OCI_MANIFEST));
    }

    @Test
    void missingMediaTypeEverywhereIsAnError() {
        assertThrows(InvalidManifestException.class, () -> Manifest.parse(image(null, ""), null));
    }

    @Test
    void subjectAndArtifactTypeAreRead() {
        Manifest m = Manifest.parse(image(MediaTypes.OCI_MANIFEST,
                ",\"artifactType\":\"application/x-sbom\",\"subject\":{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
                        + "\",\"digest\":\"" + D1 + "\",\"size\":5},\"annotations\":{\"a\":\"b\"}"), null);
        assertEquals(D1, m.subject().digest());
        assertEquals("application/x-sbom", m.effectiveArtifactType());
        assertEquals("b", m.annotations().get("a"));
    }

    @Test
    void indexListsItsManifests() {
        byte[] index = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[{\"mediaType\":\""
                + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + D1 + "\",\"size\":1,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}")
                .getBytes(StandardCharsets.UTF_8);
        Manifest m = Manifest.parse(index, null);
        assertTrue(m.isIndex());
        assertEquals("arm64", m.manifests().get(0).platform().architecture());
        assertEquals(0, m.blobReferences().count());
        assertNull(m.config());
    }

    @Test
    void brokenInputsAreInvalidManifests() {
        for (String broken : new String[] {"{", "[]", "null", "{\"schemaVersion\":1,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\"}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"layers\":[]}",
                "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.example+json\"}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha256:zz\",\"size\":1}]}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":{}}"}) {
            assertThrows(InvalidManifestException.class, () -> Manifest.parse(broken.getBytes(StandardCharsets.UTF_8), null), broken);
        }
    }

    @Test
    void aPlainDescriptorIsReadFromTheTreeExactlyAsJacksonBindsItAndAnyOtherIsLeftToJackson() throws Exception {
        String digest = "\"digest\":\"" + D1 + "\"";
        String[] plain = {
            "{\"mediaType\":\"m\"," + digest + ",\"size\":10}",
            "{\"mediaType\":\"m\"," + digest + "}",
            "{\"mediaType\":\"m\"," + digest + ",\"size\":null,\"artifactType\":null,\"unknown\":{\"x\":[1]}}",
            "{\"mediaType\":\"m\"," + digest + ",\"size\":9007199254740993,\"artifactType\":\"a/b\","
                    + "\"annotations\":{\"b\":\"2\",\"a\":\"1\"},\"urls\":[\"u1\",\"u2\"],"
                    + "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\",\"os.version\":\"10\","
                    + "\"os.features\":[\"f\"],\"extra\":1}}",
            "{\"mediaType\":\"m\"," + digest + ",\"annotations\":{},\"urls\":[],\"platform\":{}}",
        };
        for (String json : plain) {
            var node = Manifest.JSON.readTree(json);
            Descriptor read = Manifest.plainDescriptor(node);
            assertEquals(Manifest.JSON.treeToValue(node, Descriptor.class), read, json);
            assertEquals(Manifest.JSON.writeValueAsString(Manifest.JSON.treeToValue(node, Descriptor.class)),
                    Manifest.JSON.writeValueAsString(read), "the same order of annotations: " + json);
        }
        String[] coerced = {
            "{\"mediaType\":\"m\"," + digest + ",\"size\":\"20\"}",
            "{\"mediaType\":\"m\"," + digest + ",\"size\":20.0}",
            "{\"mediaType\":7," + digest + ",\"size\":1}",
            "{\"mediaType\":\"m\"," + digest + ",\"annotations\":{\"a\":1}}",
            "{\"mediaType\":\"m\"," + digest + ",\"urls\":\"u\"}",
            "{\"mediaType\":\"m\"," + digest + ",\"platform\":{\"os.features\":\"f\"}}",
            "{\"mediaType\":\"m\"," + digest + ",\"size\":true}",
            "[]",
        };
        for (String json : coerced) {
            assertNull(Manifest.plainDescriptor(Manifest.JSON.readTree(json)), json);
        }
        // what Jackson coerces still parses, and what it refuses is still an invalid manifest
        String withConfig = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"layers\":[],\"config\":";
        assertEquals(20, Manifest.parse((withConfig + coerced[0] + "}").getBytes(StandardCharsets.UTF_8), null).config().size());
        assertThrows(InvalidManifestException.class,
                () -> Manifest.parse((withConfig + coerced[4] + "}").getBytes(StandardCharsets.UTF_8), null));
    }
}
