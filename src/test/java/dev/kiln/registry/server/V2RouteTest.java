package dev.kiln.registry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.registry.server.V2Route.Kind;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import org.junit.jupiter.api.Test;

class V2RouteTest {
    @Test
    void endpointsAreRecognisedByTheirSuffix() {
        assertEquals(Kind.BASE, V2Route.parse("/v2/").kind());
        assertEquals(Kind.CATALOG, V2Route.parse("/v2/_catalog").kind());
        V2Route tags = V2Route.parse("/v2/local/a/b/tags/list");
        assertEquals(Kind.TAGS, tags.kind());
        assertEquals("local/a/b", tags.name().value());
        V2Route manifest = V2Route.parse("/v2/local/blobs/manifests/latest");
        assertEquals(Kind.MANIFEST, manifest.kind());
        assertEquals("local/blobs", manifest.name().value());
        assertEquals("latest", manifest.argument());
        assertEquals(Kind.UPLOADS, V2Route.parse("/v2/local/x/blobs/uploads/").kind());
        assertEquals(Kind.UPLOADS, V2Route.parse("/v2/local/x/blobs/uploads").kind());
        V2Route upload = V2Route.parse("/v2/local/x/blobs/uploads/abc");
        assertEquals(Kind.UPLOAD, upload.kind());
        assertEquals("abc", upload.argument());
        assertEquals("sha256:ab", V2Route.parse("/v2/local/x/blobs/sha256%3Aab").argument());
        assertEquals(Kind.REFERRERS, V2Route.parse("/v2/local/x/referrers/sha256:ab").kind());
    }

    @Test
    void unknownPathsAreNotRoutes() {
        assertNull(V2Route.parse("/v2/local/x"));
        assertNull(V2Route.parse("/v3/"));
    }

    @Test
    void badNamesAreNameInvalid() {
        for (String path : new String[] {"/v2/Local/x/tags/list", "/v2/local/../x/tags/list", "/v2/local//x/tags/list"}) {
            RegistryException e = assertThrows(RegistryException.class, () -> V2Route.parse(path), path);
            assertEquals(ErrorCode.NAME_INVALID, e.code());
        }
    }
}
