package dev.kiln.builder.steps;

import dev.kiln.builder.dockerfile.ArgScope;
import dev.kiln.builder.dockerfile.BuildPlatforms;
import dev.kiln.builder.dockerfile.DockerIgnore;
import dev.kiln.builder.dockerfile.DockerfileParser;
import dev.kiln.builder.dockerfile.Platform;
import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.dockerfile.Stages;
import dev.kiln.builder.dockerfile.Step;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.oci.image.ImageConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A stage over a temp rootfs for step tests: the Dockerfile's steps parsed as a build parses them,
 * a session whose context is a temp dir, and the events the steps sent.
 */
final class StepFixture {
    final Path context;
    final Path rootfs;
    final List<BuildEvent> events = new ArrayList<>();
    final Stage stage;
    final StageContext ctx;

    /** @param dockerfile a whole one-stage Dockerfile; {@link #step} takes its steps in order */
    StepFixture(Path dir, String dockerfile, DockerIgnore ignore, StageRoots stages) throws IOException {
        this(dir, dockerfile, ignore, stages, b -> b);
    }

    /** @param session what the test sets on the build's session (sandbox policy, network) */
    StepFixture(Path dir, String dockerfile, java.util.function.UnaryOperator<BuildSession.Builder> session)
            throws IOException {
        this(dir, dockerfile, DockerIgnore.of(List.of()), StageRoots.NONE, session);
    }

    private StepFixture(Path dir, String dockerfile, DockerIgnore ignore, StageRoots stages,
                        java.util.function.UnaryOperator<BuildSession.Builder> customize) throws IOException {
        context = Files.createDirectories(dir.resolve("context"));
        rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Stages parsed = Stages.of(DockerfileParser.parse(dockerfile, "Dockerfile"));
        stage = parsed.stages().get(parsed.stages().size() - 1);
        BuildSession session = customize.apply(BuildSession.builder(Files.createDirectories(dir.resolve("build")), context)
                .ignore(ignore)
                .events(events::add))
                .build();
        session.stages(stages);
        Platform linux = Platform.parse("linux/amd64");
        ArgScope global = ArgScope.global(parsed.metaArgs(), Map.of(), new BuildPlatforms(linux, linux), parsed.expander());
        ctx = new StageContext(session, stage, rootfs, ImageConfig.empty());
        ctx.scope(global.stage(Map.of()));
        ctx.key("base");
    }

    StepFixture(Path dir, String dockerfile) throws IOException {
        this(dir, dockerfile, DockerIgnore.of(List.of()), StageRoots.NONE);
    }

    /** The stage's {@code index}-th step (0: the first after FROM). */
    BuildStep step(int index) {
        Step step = stage.steps().get(index);
        return BuildStep.of(step);
    }

    /** Applies the steps {@code 0..count-1} in order. */
    StepFixture apply(int count) throws Exception {
        for (int i = 0; i < count; i++) {
            step(i).apply(ctx);
        }
        return this;
    }

    String log() {
        StringBuilder sb = new StringBuilder();
        for (BuildEvent e : events) {
            if (e instanceof BuildEvent.Message m) {
                sb.append(m.text()).append('\n');
            }
        }
        return sb.toString();
    }
}
