package dev.kiln.builder.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.testkit.TextServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** COPY and ADD write files from the context, another stage, or a here-document into the stage's rootfs. */
class CopyStepTest {

    @Test
    void copiesContextFilesBelowTheWorkdirWithModeAndIgnoresExcludedOnes(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ARG MODE=640
                COPY --chmod=$MODE conf/ etc/
                """, DockerIgnore.of(List.of("conf/secret")), StageRoots.NONE);
        Files.createDirectories(f.context.resolve("conf"));
        Files.writeString(f.context.resolve("conf/app.conf"), "a=1\n");
        Files.writeString(f.context.resolve("conf/secret"), "no\n");
        f.ctx.container(f.ctx.container().withWorkingDir("/srv"));
        f.apply(2);
        Path copied = f.rootfs.resolve("srv/etc/app.conf");
        assertEquals("a=1\n", Files.readString(copied));
        assertEquals(0640, (int) Files.getAttribute(copied, "unix:mode") & 07777);
        assertTrue(Files.notExists(f.rootfs.resolve("srv/etc/secret")), ".dockerignore'd files stay out");
        assertEquals(BuildStep.Kind.COPY, f.step(1).kind());
    }

    @Test
    void theCacheKeyChangesWithTheContentItReads(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                COPY app.txt /app/
                """);
        Files.writeString(f.context.resolve("app.txt"), "one");
        String first = f.step(0).cacheKey(f.ctx);
        assertEquals(first, f.step(0).cacheKey(f.ctx), "the same content, the same key");
        Files.writeString(f.context.resolve("app.txt"), "two");
        assertNotEquals(first, f.step(0).cacheKey(f.ctx));
        f.ctx.key("another parent");
        Files.writeString(f.context.resolve("app.txt"), "one");
        assertNotEquals(first, f.step(0).cacheKey(f.ctx), "keys chain to the stage's key so far");
    }

    @Test
    void inlineSourcesBecomeFilesNamedAfterTheirDelimiter(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ENV WHO=world
                COPY <<greeting.txt <<'raw.txt' /out/
                hello $WHO
                greeting.txt
                keep $WHO
                raw.txt
                """);
        f.apply(2);
        assertEquals("hello world\n", Files.readString(f.rootfs.resolve("out/greeting.txt")));
        assertEquals("keep $WHO\n", Files.readString(f.rootfs.resolve("out/raw.txt")));
    }

    @Test
    void addUnpacksALocalArchiveWhereCopyKeepsIt(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ADD files.tar.gz /add/
                COPY files.tar.gz /copy/
                """);
        Path src = Files.createDirectories(dir.resolve("src"));
        Files.writeString(src.resolve("inside.txt"), "packed\n");
        Process tar = new ProcessBuilder("tar", "-czf", f.context.resolve("files.tar.gz").toString(), "-C", src.toString(),
                "inside.txt").inheritIO().start();
        assertTrue(tar.waitFor(60, TimeUnit.SECONDS) && tar.exitValue() == 0);
        f.apply(2);
        assertEquals("packed\n", Files.readString(f.rootfs.resolve("add/inside.txt")));
        assertTrue(Files.isRegularFile(f.rootfs.resolve("copy/files.tar.gz")));
        assertTrue(Files.notExists(f.rootfs.resolve("copy/inside.txt")));
    }

    @Test
    void copyFromReadsTheOtherStagesFilesAndHasNoKeyWhileThatStageIsUnknown(@TempDir Path dir) throws Exception {
        Path other = Files.createDirectories(dir.resolve("other/bin"));
        Files.writeString(other.resolve("tool"), "#!/bin/sh\n");
        boolean[] incomplete = {false};
        StageRoots roots = new StageRoots() {
            @Override
            public Path rootfs(String from) throws BuildException {
                if (!from.equals("builder")) {
                    throw new BuildException("unknown " + from);
                }
                return dir.resolve("other");
            }

            @Override
            public boolean incomplete(String from) {
                return incomplete[0];
            }
        };
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                COPY --from=builder /bin/tool /usr/local/bin/
                """, DockerIgnore.of(List.of()), roots);
        assertTrue(f.step(0).cacheKey(f.ctx) != null);
        incomplete[0] = true;
        assertNull(f.step(0).cacheKey(f.ctx), "a dry run cannot know what a stage that missed the cache holds");
        f.apply(1);
        assertEquals("#!/bin/sh\n", Files.readString(f.rootfs.resolve("usr/local/bin/tool")));
    }

    @Test
    void addFromAGitRepositoryOverSshIsRefusedWithAClearMessage(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ADD git@example.invalid:team/repo.git /src
                """);
        BuildException e = assertThrows(BuildException.class, () -> f.apply(1));
        assertTrue(e.getMessage().contains("git over ssh is not supported"), e.getMessage());
    }

    @Test
    void checksumNeedsAnHttpOrGitSource(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 local.txt /x
                """);
        BuildException e = assertThrows(BuildException.class, () -> f.apply(1));
        assertEquals("checksum requires HTTP(S) or Git sources", e.getMessage());
    }

    @Test
    void addOfAnHttpUrlWritesTheDownloadedFileNamedAfterTheUrl(@TempDir Path dir) throws Exception {
        try (TextServer server = new TextServer(InetAddress.getLoopbackAddress(), "served\n")) {
            StepFixture f = new StepFixture(dir, "FROM scratch\nADD " + server.url() + "notes.txt /srv/\n");
            f.apply(1);
            assertEquals("served\n", Files.readString(f.rootfs.resolve("srv/notes.txt")));
            assertTrue(server.hits() >= 1, "the file came from the server");
        }
    }

    @Test
    void onlyACopyThatNeedsNothingBelowWritesWithoutTheRootfs(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                COPY a.txt /dst/
                COPY --chown=10:20 a.txt /numeric/
                COPY --chown=app a.txt /named/
                ADD files.tar.gz /unpacked/
                ADD --chown=0 https://127.0.0.1:9/a.txt /downloaded/
                """);
        assertEquals("/dst/", f.step(0).independentDestination(f.ctx));
        assertEquals("/numeric/", f.step(1).independentDestination(f.ctx));
        assertNull(f.step(2).independentDestination(f.ctx), "a user name is looked up in the rootfs's /etc/passwd");
        assertNull(f.step(3).independentDestination(f.ctx), "an archive unpacks over what is there");
        assertEquals("/downloaded/", f.step(4).independentDestination(f.ctx), "a download is never unpacked");
    }
}
