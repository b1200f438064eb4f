package dev.kiln.builder.stage;

import dev.kiln.builder.cache.CacheKey;
import dev.kiln.builder.dockerfile.Dockerfile;
import dev.kiln.builder.dockerfile.DockerfileException;
import dev.kiln.builder.dockerfile.DockerfileParser;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.InstructionParser;
import dev.kiln.builder.dockerfile.Node;
import dev.kiln.builder.dockerfile.Platform;
import dev.kiln.builder.dockerfile.Stage;
import dev.kiln.builder.dockerfile.Step;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.plan.BuildPlan;
import dev.kiln.builder.steps.BuildSession;
import dev.kiln.builder.steps.StageContext;
import dev.kiln.oci.Descriptor;
import dev.kiln.oci.MediaTypes;
import dev.kiln.oci.image.ImageConfig;
import dev.kiln.registry.client.PulledImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * FROM: a stage starts from an earlier stage (its config, layers and key), from {@code scratch}
 * (no layers, the default PATH), or from a pulled image whose layers wait to be unpacked until a
 * step needs the files. A base image's ONBUILD triggers become the stage's first steps.
 */
final class FromStep {
    private final BuildPlan plan;
    private final ImagePulls pulls;
    private final String layerFormat;

    /** @param layerFormat how this build writes layers: part of every key, so a zstd build never reuses gzip layers */
    FromStep(BuildPlan plan, ImagePulls pulls, String layerFormat) {
        this.plan = plan;
        this.pulls = pulls;
        this.layerFormat = layerFormat;
    }

    /** The stage's context as its FROM leaves it, and its steps: the base's ONBUILD triggers, then its own. */
    Started start(BuildSession session, Stage stage, Path rootfs, Map<Integer, StageContext> built) throws BuildException {
        var base = plan.baseStage(stage);
        String image = plan.baseName(stage);
        StageContext s;
        if (base.isPresent()) {
            StageContext from = built.get(base.get().index());
            s = new StageContext(session, stage, rootfs, from.config());
            s.parent(from);
            s.layers().addAll(from.layers());
            s.shell(from.shell());
            s.source(from.source());
            s.key(from.key());
            s.complete(from.complete());
        } else if (image.equalsIgnoreCase("scratch")) {
            Platform target = plan.targetPlatform();
            ImageConfig empty = ImageConfig.empty().withPlatform(target.os(), target.architecture(), target.variant());
            // BuildKit (and buildah) give a scratch stage the default PATH, so a later RUN or the image's user finds binaries
            s = new StageContext(session, stage, rootfs,
                    empty.withConfig(empty.config().withEnv(List.of(StageContext.DEFAULT_PATH))));
            s.key(CacheKey.after("scratch " + target).part("layers", layerFormat).value());
        } else {
            PulledImage pulled = pulls.pull(image, plan.dockerfileName() + ":" + stage.fromNode().startLine() + ": ");
            s = new StageContext(session, stage, rootfs, pulled.config());
            for (PulledImage.Blob layer : pulled.layers()) {
                s.pending().add(layer);
                s.layers().add(new PulledImage.Blob(ociLayer(layer.descriptor()), layer.file()));
            }
            s.source(pulled.source());
            s.key(CacheKey.after(pulled.manifestDigest().toString()).part("layers", layerFormat).value());
            List<String> shell = s.container().shell();
            if (shell != null && !shell.isEmpty()) {
                s.shell(new Instruction.Shell(shell));
            }
        }
        List<Step> triggers = triggers(s, stage);
        List<Step> steps = new ArrayList<>(triggers);
        steps.addAll(stage.steps());
        s.scope(plan.global().stage(envMap(s.container().env())));
        return new Started(s, steps, triggers);
    }

    /** @param triggers the steps that came from the base image's ONBUILD (logged and keyed as such) */
    record Started(StageContext context, List<Step> steps, List<Step> triggers) {
    }

    private List<Step> triggers(StageContext s, Stage stage) throws BuildException {
        List<String> onBuild = s.container().onBuild();
        if (onBuild == null || onBuild.isEmpty()) {
            return List.of();
        }
        String name = plan.dockerfileName();
        List<Step> steps = new ArrayList<>();
        for (String expression : onBuild) {
            try {
                Dockerfile trigger = DockerfileParser.parse(expression, name);
                for (Node node : trigger.nodes()) {
                    steps.add(new Step(node, InstructionParser.parseTrigger(node, name)));
                }
            } catch (DockerfileException e) {
                throw new BuildException(name + ":" + stage.fromNode().startLine() + ": ONBUILD trigger "
                        + expression + ": " + e.getMessage(), e);
            }
        }
        s.container(s.container().withOnBuild(null));
        return steps;
    }

    /** Docker layer media types become their OCI equivalents in the OCI manifest we write. */
    private static Descriptor ociLayer(Descriptor d) {
        String mt = switch (d.mediaType()) {
            case MediaTypes.DOCKER_LAYER_GZIP -> MediaTypes.OCI_LAYER_GZIP;
            case "application/vnd.docker.image.rootfs.diff.tar" -> MediaTypes.OCI_LAYER;
            default -> d.mediaType();
        };
        return new Descriptor(mt, d.parsedDigest(), d.size());
    }

    private static Map<String, String> envMap(List<String> env) {
        Map<String, String> map = new LinkedHashMap<>();
        if (env != null) {
            for (String e : env) {
                int eq = e.indexOf('=');
                if (eq > 0) {
                    map.put(e.substring(0, eq), e.substring(eq + 1));
                }
            }
        }
        return map;
    }
}
