package dev.kiln.builder.sandbox;

import dev.kiln.builder.dockerfile.Mount;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MountResolverTest {
    @TempDir
    Path tmp;

    private MountResolver resolver(Map<String, MountResolver.SecretSource> secrets) throws Exception {
        Path context = Files.createDirectories(tmp.resolve("context"));
        Files.writeString(context.resolve("go.mod"), "module x\n");
        Path stage = Files.createDirectories(tmp.resolve("stage/out"));
        Files.writeString(stage.resolve("bin"), "binary");
        return new MountResolver(tmp.resolve("caches"), secrets,
                from -> from == null ? context : from.equals("builder") ? tmp.resolve("stage") : null);
    }

    @Test
    void bindSourcesStayInsideTheirRoot() throws Exception {
        try (MountResolver r = resolver(Map.of())) {
            RunMount.Bind b = (RunMount.Bind) r.resolve(List.of(Mount.parse("target=/src"))).get(0);
            assertEquals(tmp.resolve("context").toRealPath(), b.source());
            assertTrue(b.readOnly());
            RunMount.Bind up = (RunMount.Bind) r.resolve(List.of(Mount.parse("target=/x,source=../../out/bin,from=builder,rw"))).get(0);
            assertEquals(tmp.resolve("stage/out/bin").toRealPath(), up.source(), "'..' stops at the stage root");
            assertFalse(up.readOnly());
            assertThrows(SandboxException.class, () -> r.resolve(List.of(Mount.parse("target=/x,source=../context/go.mod"))));
            assertThrows(SandboxException.class, () -> r.resolve(List.of(Mount.parse("target=/x,from=nowhere"))));
            assertThrows(SandboxException.class, () -> r.resolve(List.of(Mount.parse("type=ssh"))));
        }
    }

    @Test
    void cachesArePerId() throws Exception {
        try (MountResolver r = resolver(Map.of())) {
            List<RunMount> m = r.resolve(List.of(Mount.parse("type=cache,target=/root/.cache"),
                    Mount.parse("type=cache,target=/other,id=/root/.cache"),
                    Mount.parse("type=cache,target=/go,id=gomod,mode=0700,sharing=locked")));
            RunMount.Cache a = (RunMount.Cache) m.get(0);
            RunMount.Cache b = (RunMount.Cache) m.get(1);
            RunMount.Cache c = (RunMount.Cache) m.get(2);
            assertEquals(a.directory(), b.directory(), "the id defaults to the target");
            assertNotEquals(a.directory(), c.directory());
            assertTrue(c.directory().startsWith(tmp.resolve("caches")));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(c.directory())));
        }
    }

    @Test
    void secretsFromFilesAndValues() throws Exception {
        Path file = tmp.resolve("npmrc");
        Files.writeString(file, "token");
        Path copy;
        try (MountResolver r = resolver(Map.of("npm", MountResolver.SecretSource.file(file),
                "api", MountResolver.SecretSource.value("k3y")))) {
            List<RunMount> m = r.resolve(List.of(Mount.parse("type=secret,id=npm"),
                    Mount.parse("type=secret,id=api,target=/etc/api-key,mode=0440"),
                    Mount.parse("type=secret,id=absent"),
                    Mount.parse("type=secret,id=api,env=API_KEY")));
            assertEquals(2, m.size(), "absent and env-only secrets are not mounted");
            RunMount.Secret npm = (RunMount.Secret) m.get(0);
            assertEquals("/run/secrets/npm", npm.target());
            assertEquals("token", Files.readString(npm.file()));
            assertEquals("r--------", PosixFilePermissions.toString(Files.getPosixFilePermissions(npm.file())));
            RunMount.Secret api = (RunMount.Secret) m.get(1);
            assertEquals("/etc/api-key", api.target());
            assertEquals("k3y", Files.readString(api.file()));
            assertEquals(List.of("API_KEY=k3y"), r.secretEnvironment());
            assertThrows(SandboxException.class, () -> r.resolve(List.of(Mount.parse("type=secret,id=absent,required"))));
            copy = npm.file();
        }
        assertFalse(Files.exists(copy), "secret copies are deleted on close");
        assertTrue(Files.exists(file));
    }

    @Test
    void dockerfileMountsEndToEnd() throws Exception {
        Assumptions.assumeTrue(Sandboxes.namespacesWork(), "namespaces do not work here");
        Path rootfs = TestRootfs.create(tmp);
        String script = "cat /src/go.mod /run/secrets/npm; echo; echo hit >> /root/.cache/log; wc -l < /root/.cache/log; "
                + "echo t > /scratch/t && cat /scratch/t";
        List<String> outputs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path secret = tmp.resolve("npmrc");
            Files.writeString(secret, "token");
            try (MountResolver r = resolver(Map.of("npm", MountResolver.SecretSource.file(secret)))) {
                List<RunMount> mounts = r.resolve(List.of(Mount.parse("target=/src"),
                        Mount.parse("type=secret,id=npm"), Mount.parse("type=cache,target=/root/.cache"),
                        Mount.parse("type=tmpfs,target=/scratch,size=1m")));
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ExecResult result = Sandboxes.choose(Sandboxes.Mode.AUTO).run(RunSpec.builder(rootfs,
                        List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin")).mounts(mounts).stdout(out).stderr(out).build());
                assertEquals(0, result.exitCode(), out.toString(StandardCharsets.UTF_8));
                outputs.add(out.toString(StandardCharsets.UTF_8));
            }
        }
        assertEquals(List.of("module x\ntoken\n1\nt\n", "module x\ntoken\n2\nt\n"), outputs);
        try (var files = Files.list(rootfs)) {
            assertEquals(List.of("bin", "etc"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "nothing of the mounts is left in the rootfs");
        }
        assertInstanceOf(NamespaceSandbox.class, Sandboxes.choose(Sandboxes.Mode.AUTO));
    }
}
