package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.oci.image.ImageReference;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CredentialScopeTest {
    private final CredentialScope scope = new CredentialScope(
            Map.of("alice", List.of("registry.example/team/*"), "*", List.of("registry.example/public/**")),
            Map.of("alice", List.of("registry.example/private/**")), List.of("kiln:5000"));

    private static ImageReference ref(String text) {
        return ImageReference.parse(text);
    }

    @Test
    void globsMatchPerUserAndForEveryone() {
        assertTrue(scope.mayPush("alice", ref("registry.example/team/app:1")));
        assertFalse(scope.mayPush("alice", ref("registry.example/team/app/nested:1")), "* stays within one component");
        assertFalse(scope.mayPush("bob", ref("registry.example/team/app:1")));
        assertTrue(scope.mayPush("bob", ref("registry.example/public/a/b:1")));
        assertTrue(scope.mayPush(null, ref("registry.example/public/a:1")));
        assertFalse(scope.mayPush("alice", ref("registry.example.evil/team/app:1")), "dots are literal");
        assertTrue(scope.mayPull("alice", ref("registry.example/private/base:1")));
        assertFalse(scope.mayPull("bob", ref("registry.example/private/base:1")));
    }

    @Test
    void destinationsOutsideTheGatewayNeedAnAllowance() {
        scope.checkDestinations("bob", List.of("127.0.0.1:5000/local/app:1", "kiln:5000/builds/x:1"), List.of("127.0.0.1:5000"));
        BuildRequestException e = assertThrows(BuildRequestException.class,
                () -> scope.checkDestinations("bob", List.of("registry.example/team/app:1"), List.of("127.0.0.1:5000")));
        assertEquals(403, e.status());
        assertThrows(BuildRequestException.class, () -> CredentialScope.GATEWAY_ONLY.checkDestinations("alice",
                List.of("registry.example/public/app:1"), List.of()));
    }
}
