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
    void s3ContextsOnlyFromTheBucketsTheOperatorAllowsThatUser() {
        CredentialScope s3 = new CredentialScope(Map.of(), Map.of(),
                Map.of("alice", List.of("team-contexts"), "*", List.of("shared/public/**")), List.of());
        assertTrue(s3.mayFetchS3("alice", "s3://team-contexts/app/ctx.tar.gz"));
        assertTrue(s3.mayFetchS3("alice", "s3://team-contexts/ctx.tar.gz?region=eu-west-1"));
        assertFalse(s3.mayFetchS3("bob", "s3://team-contexts/app/ctx.tar.gz"), "another user's bucket");
        assertFalse(s3.mayFetchS3("alice", "s3://team-contexts-evil/ctx.tar.gz"), "a bucket name is not a prefix");
        assertTrue(s3.mayFetchS3("bob", "s3://shared/public/ctx.tar.gz"));
        assertFalse(s3.mayFetchS3("bob", "s3://shared/private/ctx.tar.gz"), "a bucket/key glob limits the keys");
        assertFalse(s3.mayFetchS3(null, "s3://team-contexts/ctx.tar.gz"));
        BuildRequestException e = assertThrows(BuildRequestException.class,
                () -> s3.checkContext("bob", "s3://team-contexts/app/ctx.tar.gz"));
        assertEquals(403, e.status());
        assertEquals("context-not-allowed", e.slug());
        assertTrue(e.getMessage().contains("kiln.builds.s3-allow"), e.getMessage());
        s3.checkContext("bob", "https://files.invalid/ctx.tar.gz");
        s3.checkContext("bob", null);
        // the default: no S3 context for anyone, admins included
        assertThrows(BuildRequestException.class, () -> scope.checkContext("alice", "s3://any/ctx.tar.gz"));
        assertThrows(BuildRequestException.class, () -> CredentialScope.GATEWAY_ONLY.checkContext(null, "s3://any/c.tgz"));
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
