package dev.kiln.builder.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.kiln.oci.image.ImageConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The metadata instructions change the config (or the ARG scope) of a stage, and never its files. */
class MetadataStepTest {

    @Test
    void eachInstructionSetsItsPartOfTheConfigWithVariablesExpanded(@TempDir Path dir) throws Exception {
        StepFixture f = new StepFixture(dir, """
                FROM scratch
                ARG PORT=8080
                ENV APP=/opt/app MODE=prod
                LABEL org.example.port=$PORT "with space"="a b"
                USER app:$PORT
                EXPOSE $PORT 53/UDP
                VOLUME ["$APP/data"]
                STOPSIGNAL SIGTERM
                HEALTHCHECK --interval=5s --retries=2 CMD ["probe", "$PORT"]
                SHELL ["/bin/bash", "-c"]
                CMD echo $MODE
                MAINTAINER someone
                ONBUILD RUN make
                """);
        f.apply(f.stage.steps().size());
        ImageConfig.Container c = f.ctx.container();
        assertEquals(List.of("APP=/opt/app", "MODE=prod"), c.env());
        assertEquals("8080", c.labels().get("org.example.port"));
        assertEquals("a b", c.labels().get("with space"));
        assertEquals("app:8080", c.user());
        assertEquals(List.of("53/udp", "8080/tcp"), List.copyOf(c.exposedPorts()));
        assertEquals(List.of("/opt/app/data"), List.copyOf(c.volumes()));
        assertEquals("SIGTERM", c.stopSignal());
        assertEquals(List.of("CMD", "probe", "$PORT"), c.healthcheck().test(), "exec form is not expanded, as in Docker");
        assertEquals(5_000_000_000L, c.healthcheck().interval());
        assertEquals(2, c.healthcheck().retries());
        assertEquals(List.of("/bin/bash", "-c"), c.shell());
        assertEquals(List.of("/bin/bash", "-c", "echo $MODE"), c.cmd(), "shell-form CMD runs in the SHELL in effect");
        assertEquals("someone", f.ctx.config().author());
        assertEquals(List.of("RUN make"), c.onBuild());
        assertEquals("8080", f.ctx.scope().variables().get("PORT"));
        try (Stream<Path> files = Files.list(f.rootfs)) {
            assertEquals(0, files.count(), "metadata steps never touch the rootfs");
        }
        for (int i = 0; i < f.stage.steps().size(); i++) {
            assertFalse(f.step(i).changesFilesystem());
            assertNull(f.step(i).cacheKey(f.ctx), "metadata steps have no layer to cache");
        }
    }

    @Test
    void entrypointDropsTheBaseImagesCmdButNotOneTheStageSet(@TempDir Path dir) throws Exception {
        StepFixture base = new StepFixture(dir.resolve("a"), """
                FROM scratch
                ENTRYPOINT ["/app"]
                """);
        base.ctx.container(base.ctx.container().withCmd(List.of("from-base")));
        base.apply(1);
        assertEquals(List.of("/app"), base.ctx.container().entrypoint());
        assertNull(base.ctx.container().cmd());

        StepFixture own = new StepFixture(dir.resolve("b"), """
                FROM scratch
                CMD ["--serve"]
                ENTRYPOINT ["/app"]
                """);
        own.apply(2);
        assertEquals(List.of("--serve"), own.ctx.container().cmd());
    }
}
