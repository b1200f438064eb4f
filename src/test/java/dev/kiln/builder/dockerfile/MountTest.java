package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MountTest {

    private static String error(String spec) {
        return assertThrows(DockerfileException.class, () -> Mount.parse(spec)).getMessage();
    }

    @Test
    void bindIsTheDefaultTypeAndReadOnly() {
        Mount m = Mount.parse("target=/src,from=build,source=/out");
        assertEquals(Mount.Type.BIND, m.type());
        assertEquals("/src", m.target());
        assertEquals("build", m.from());
        assertEquals("/out", m.source());
        assertTrue(m.readOnly());
        assertNull(m.sharing());
    }

    @Test
    void cacheDefaultsToSharedAndWritable() {
        Mount m = Mount.parse("type=cache,dst=/root/.cache,id=pip,mode=0755,uid=1000,gid=1000");
        assertEquals(Mount.Type.CACHE, m.type());
        assertEquals("/root/.cache", m.target());
        assertEquals(Mount.Sharing.SHARED, m.sharing());
        assertFalse(m.readOnly());
        assertEquals(0755, m.mode());
        assertEquals(1000L, m.uid());
        assertEquals(1000L, m.gid());
    }

    @Test
    void targetAliasesAndReadWriteFlags() {
        assertEquals("/a", Mount.parse("destination=/a").target());
        assertFalse(Mount.parse("target=/a,rw").readOnly());
        assertFalse(Mount.parse("target=/a,readwrite=true").readOnly());
        assertTrue(Mount.parse("type=cache,target=/a,ro").readOnly());
        assertTrue(Mount.parse("type=cache,target=/a,readonly=1").readOnly());
    }

    @Test
    void cacheSharingModes() {
        assertEquals(Mount.Sharing.LOCKED, Mount.parse("type=cache,target=/a,sharing=locked").sharing());
        assertEquals("unsupported sharing value \"global\"", error("type=cache,target=/a,sharing=global"));
        assertEquals("invalid cache sharing set for bind mount", error("target=/a,sharing=private"));
    }

    @Test
    void secretsAndSsh() {
        Mount secret = Mount.parse("type=secret,id=npmrc,env=NPM_TOKEN,required");
        assertEquals(Mount.Type.SECRET, secret.type());
        assertEquals("npmrc", secret.id());
        assertEquals("NPM_TOKEN", secret.env());
        assertTrue(secret.required());
        assertTrue(secret.readOnly());
        assertTrue(Mount.parse("type=ssh,required=true").required());
    }

    @Test
    void secretRules() {
        assertEquals("secret mount should not have a from", error("type=secret,id=a,from=x"));
        assertEquals("both source and id can't be set", error("type=secret,id=a,source=b"));
        assertTrue(error("type=secret").startsWith("invalid secret mount"));
        assertEquals("env can only be set on secret mounts, not cache", error("type=cache,target=/a,env=X"));
    }

    @Test
    void optionsValidPerType() {
        assertEquals("unexpected key 'required' for mount type 'bind'", error("target=/a,required"));
        assertEquals("mode not allowed for \"bind\" type mounts", error("target=/a,mode=0644"));
        assertEquals("uid not allowed for \"tmpfs\" type mounts", error("type=tmpfs,target=/a,uid=1"));
        assertEquals("unexpected key 'size' for mount type 'cache'", error("type=cache,target=/a,size=1m"));
        assertEquals(64L << 20, Mount.parse("type=tmpfs,target=/t,size=64m").sizeBytes());
    }

    @Test
    void malformedOptions() {
        assertEquals("unsupported mount type \"nfs\"", error("type=nfs,target=/a"));
        assertEquals("unexpected key 'colour' in 'colour=red'", error("target=/a,colour=red"));
        assertEquals("invalid field 'shared' must be a key=value pair", error("target=/a,shared"));
        assertEquals("invalid value 9 for mode", error("type=cache,target=/a,mode=9"));
        assertEquals("invalid value for ro: maybe", error("target=/a,ro=maybe"));
        assertEquals("bind mount requires a target", error("source=/x"));
    }

    @Test
    void csvQuotingAllowsCommasInValues() {
        assertEquals("/a,b", Mount.parse("\"target=/a,b\",type=cache").target());
        assertTrue(error("target=/a\"b").contains("bare \""));
    }

    @Test
    void fromCannotUseVariables() {
        assertEquals("'from' doesn't support variable expansion, define alias stage instead", error("target=/a,from=$IMG"));
    }

    @Test
    void variablesAreResolvedLater() {
        Mount raw = Mount.parse("type=cache,target=$HOME/.cache,uid=$UID");
        assertTrue(raw.hasVariables());
        assertNull(raw.uid());
        Map<String, String> env = Map.of("HOME", "/home/app", "UID", "1001");
        Mount resolved = raw.resolve(word -> new ShellWordExpander('\\').expand(word, env));
        assertEquals("/home/app/.cache", resolved.target());
        assertEquals(1001L, resolved.uid());
        assertThrows(DockerfileException.class,
                () -> raw.resolve(word -> new ShellWordExpander('\\').expand(word, Map.of("UID", "x"))));
    }
}
