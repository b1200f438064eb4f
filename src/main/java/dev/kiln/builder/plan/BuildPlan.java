package dev.kiln.builder.plan;

import dev.kiln.builder.dockerfile.ArgScope;
import dev.kiln.builder.dockerfile.BuildPlatforms;
import dev.kiln.builder.dockerfile.DockerfileException;
import dev.kiln.builder.dockerfile.DockerfileParser;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.Platform;
import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.dockerfile.Stages;
import dev.kiln.builder.dockerfile.Step;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What a build will do before anything runs: the stages the target needs, in order, the global
 * ARG scope (meta-ARGs, {@code --build-arg}s, the platform ARGs) they start from, the platform
 * they are built for, and the images they pull. A stage's steps and their cache keys follow from
 * its base image and the files it reads; the stage runner computes each key before it runs the
 * step, which is what the dry run prints.
 */
public final class BuildPlan {
    private final String dockerfileName;
    private final Stages stages;
    private final ArgScope global;
    private final Platform targetPlatform;
    private final List<Stage> needed;

    private BuildPlan(String dockerfileName, Stages stages, ArgScope global, Platform targetPlatform, List<Stage> needed) {
        this.dockerfileName = dockerfileName;
        this.stages = stages;
        this.global = global;
        this.targetPlatform = targetPlatform;
        this.needed = List.copyOf(needed);
    }

    /**
     * @param platform {@code os/arch[/variant]} to build for; null for this machine's
     * @throws DockerfileException when the Dockerfile does not parse or the target is unknown
     */
    public static BuildPlan of(String dockerfileText, String dockerfileName, Map<String, String> buildArgs, String target,
                               String platform) throws DockerfileException {
        Stages stages = Stages.of(DockerfileParser.parse(dockerfileText, dockerfileName));
        Platform host = Platform.parse(hostPlatform());
        Platform targetPlatform = Platform.parse(platform != null ? platform : hostPlatform());
        ArgScope global = ArgScope.global(stages.metaArgs(), buildArgs, new BuildPlatforms(host, targetPlatform),
                stages.expander());
        return new BuildPlan(dockerfileName, stages, global, targetPlatform, stages.dependencies(target, global));
    }

    public String dockerfileName() {
        return dockerfileName;
    }

    /** The stages the target needs, each after the stages it depends on; the last one is the image. */
    public List<Stage> stages() {
        return needed;
    }

    /** The scope every stage's own ARG scope starts from. */
    public ArgScope global() {
        return global;
    }

    public Platform targetPlatform() {
        return targetPlatform;
    }

    /** The image name in {@code stage}'s FROM, ARGs expanded (a stage name, {@code scratch} or an image). */
    public String baseName(Stage stage) {
        return global.expand(stage.from().image());
    }

    /** The earlier stage {@code stage} starts from, if its FROM names one. */
    public Optional<Stage> baseStage(Stage stage) {
        return stages.baseStage(stage, global);
    }

    /**
     * The needed stages {@code stage} must wait for: its FROM's and those its own steps read from.
     * A stage whose base image has ONBUILD triggers may need more ({@link #stagesNamedBy}).
     */
    public List<Stage> dependencies(Stage stage) {
        Set<Stage> deps = new LinkedHashSet<>(stages.directDependencies(stage, global));
        deps.retainAll(needed);
        return List.copyOf(deps);
    }

    /** The needed stages that {@code steps} (a base image's ONBUILD triggers) read from. */
    public List<Stage> stagesNamedBy(List<Step> steps) {
        Set<Stage> deps = new LinkedHashSet<>(stages.stagesNamedBy(steps));
        deps.retainAll(needed);
        return List.copyOf(deps);
    }

    /** Whether {@code stage} needs {@code other}, directly or through the stages it needs. */
    public boolean dependsOn(Stage stage, Stage other) {
        for (Stage dep : dependencies(stage)) {
            if (dep.equals(other) || dependsOn(dep, other)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code from} (a COPY --from or a bind mount's from=) names a stage rather than an image. */
    public boolean isStage(String from) {
        return from.matches("[0-9]+") || stages.byName(from).isPresent();
    }

    /** The images that the needed stages start from or copy from, after ARG expansion: what {@code kiln warm} pulls. */
    public List<String> images() {
        Set<String> images = new LinkedHashSet<>();
        for (Stage stage : needed) {
            String image = baseName(stage);
            if (baseStage(stage).isEmpty() && !image.equalsIgnoreCase("scratch")) {
                images.add(image);
            }
            for (Step step : stage.steps()) {
                if (step.instruction() instanceof Instruction.Copy copy && copy.from() != null) {
                    String from = global.expand(copy.from());
                    if (!isStage(from)) {
                        images.add(from);
                    }
                }
            }
        }
        return List.copyOf(images);
    }

    /** This machine's platform as an image index names it. */
    public static String hostPlatform() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> "linux/amd64";
            case "aarch64", "arm64" -> "linux/arm64";
            default -> "linux/" + arch;
        };
    }
}
