package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BuildSpecTest {

    private static BuildSpec withContext(String context) {
        return new BuildSpec(context, null, null, null, null, List.of(), false, null);
    }

    @Test
    void aContextTheGatewayCannotFetchIsRefusedAtSubmitNamingTheAcceptedSchemes() {
        for (String context : List.of("git+ssh://git@git.invalid/repo.git", "ssh://git@git.invalid/repo.git",
                "git@git.invalid:repo.git", "git+file:///srv/repo", "dir:///etc", "/etc", "ftp://files.invalid/c.tgz")) {
            BuildRequestException e = assertThrows(BuildRequestException.class, () -> withContext(context).validated(), context);
            assertEquals(400, e.status(), context);
            assertEquals("invalid-request", e.slug(), context);
            for (String scheme : BuildSpec.URL_SCHEMES) {
                assertTrue(e.getMessage().contains(scheme), "names " + scheme + ": " + e.getMessage());
            }
            assertTrue(e.getMessage().endsWith(context), e.getMessage());
        }
    }

    @Test
    void theSchemesTheGatewayFetchesAreAccepted() {
        for (String context : List.of("git://git.invalid/repo.git#main", "git+https://git.invalid/repo.git",
                "git+http://git.invalid/repo.git", "https://files.invalid/c.tar.gz", "http://files.invalid/c.tar.gz",
                "s3://bucket/c.tar.gz")) {
            assertDoesNotThrow(() -> withContext(context).validated(), context);
        }
        assertTrue(BuildSpec.URL_SCHEMES.stream().noneMatch(s -> s.contains("ssh")));
    }
}
