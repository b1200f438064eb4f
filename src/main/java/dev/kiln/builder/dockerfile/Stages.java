package dev.kiln.builder.dockerfile;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * A Dockerfile split into build stages, plus the stage graph: which stages a target needs.
 *
 * @param dockerfile the parsed file
 * @param metaArgs   ARG instructions before the first FROM
 * @param stages     the stages in file order
 */
public record Stages(Dockerfile dockerfile, List<Instruction.Arg> metaArgs, List<Stage> stages) {

    public Stages {
        metaArgs = List.copyOf(metaArgs);
        stages = List.copyOf(stages);
    }

    /** Validates every instruction and groups them into stages. */
    public static Stages of(Dockerfile dockerfile) {
        List<Instruction.Arg> metaArgs = new ArrayList<>();
        List<Stage> stages = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Node fromNode = null;
        Instruction.From from = null;
        List<Step> steps = new ArrayList<>();
        for (Node node : dockerfile.nodes()) {
            Instruction instruction = InstructionParser.parse(node, dockerfile.source());
            Optional<String> unsupported = Unsupported.reason(instruction);
            if (unsupported.isPresent()) {
                throw dockerfile.errorAt(node, unsupported.get());
            }
            if (instruction instanceof Instruction.From f) {
                if (from != null) {
                    stages.add(new Stage(stages.size(), from, fromNode, steps));
                }
                if (f.stageName() != null && !names.add(f.stageName())) {
                    throw dockerfile.errorAt(node, "duplicate stage name " + GoText.quote(f.stageName()));
                }
                from = f;
                fromNode = node;
                steps = new ArrayList<>();
            } else if (from != null) {
                steps.add(new Step(node, instruction));
            } else if (instruction instanceof Instruction.Arg a) {
                metaArgs.add(a);
            } else {
                throw dockerfile.errorAt(node, "no build stage in current context");
            }
        }
        if (from == null) {
            throw new DockerfileException(dockerfile.source() + ": no build stage in Dockerfile (missing FROM)");
        }
        stages.add(new Stage(stages.size(), from, fromNode, steps));
        return new Stages(dockerfile, metaArgs, stages);
    }

    /** The expander matching the file's escape directive. */
    public ShellWordExpander expander() {
        return new ShellWordExpander(dockerfile.directives().escapeChar());
    }

    /** A stage by its (case-insensitive) name. */
    public Optional<Stage> byName(String name) {
        String wanted = name.toLowerCase(Locale.ROOT);
        return stages.stream().filter(s -> wanted.equals(s.name())).findFirst();
    }

    /**
     * The stage to build: the named one, or the last stage when {@code target} is null or empty.
     *
     * @throws DockerfileException naming the target when no stage has that name
     */
    public Stage target(String target) {
        if (target == null || target.isEmpty()) {
            return stages.get(stages.size() - 1);
        }
        return byName(target).orElseThrow(() -> new DockerfileException(
                "target stage " + GoText.quote(target) + " could not be found"));
    }

    /**
     * The earlier stage a FROM builds on, if its image (expanded in the global scope) names one.
     * A later stage of that name does not count: FROM then means an image.
     */
    public Optional<Stage> baseStage(Stage stage, ArgScope global) {
        String image = expandFrom(stage, global).toLowerCase(Locale.ROOT);
        return stages.subList(0, stage.index()).stream().filter(s -> image.equals(s.name())).findFirst();
    }

    /**
     * The stages {@code target} needs, itself included, in file order: bases via FROM and sources
     * via {@code COPY --from} and {@code RUN --mount from=}, by name or index, transitively.
     * Stages not listed can be skipped.
     *
     * @throws DockerfileParseException on a dependency cycle or a stage index out of range
     */
    public List<Stage> dependencies(String target, ArgScope global) {
        TreeMap<Integer, Stage> needed = new TreeMap<>();
        visit(target(target), global, new LinkedHashSet<>(), needed);
        return List.copyOf(needed.values());
    }

    private void visit(Stage stage, ArgScope global, Set<Integer> path, TreeMap<Integer, Stage> needed) {
        if (!path.add(stage.index())) {
            throw dockerfile.errorAt(stage.fromNode(), "circular dependency detected on stage: " + stage.displayName());
        }
        if (!needed.containsKey(stage.index())) {
            for (Stage dependency : directDependencies(stage, global)) {
                visit(dependency, global, path, needed);
            }
            needed.put(stage.index(), stage);
        }
        path.remove(stage.index());
    }

    /** The stages {@code stage} reads directly: its FROM's, and those its steps name in {@code --from} or {@code from=}. */
    public List<Stage> directDependencies(Stage stage, ArgScope global) {
        List<Stage> deps = new ArrayList<>();
        baseStage(stage, global).ifPresent(deps::add);
        deps.addAll(stagesNamedBy(stage.steps()));
        return deps;
    }

    /**
     * The stages {@code steps} read through {@code COPY --from} and {@code RUN --mount from=}: also
     * asked of a base image's ONBUILD triggers, which are only known once the image is pulled.
     */
    public List<Stage> stagesNamedBy(List<Step> steps) {
        List<Stage> deps = new ArrayList<>();
        for (Step step : steps) {
            if (step.instruction() instanceof Instruction.Copy copy && copy.from() != null) {
                reference(copy.from(), step.node()).ifPresent(deps::add);
            } else if (step.instruction() instanceof Instruction.Run run) {
                for (Mount mount : run.mounts()) {
                    if (mount.from() != null) {
                        reference(mount.from(), step.node()).ifPresent(deps::add);
                    }
                }
            }
        }
        return deps;
    }

    /**
     * A {@code --from} value: a stage name, else a stage index, else (empty) an image reference.
     * BuildKit does not expand variables here, so neither do we.
     */
    private Optional<Stage> reference(String from, Node node) {
        Optional<Stage> named = byName(from);
        if (named.isPresent() || !from.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return named;
        }
        int index;
        try {
            index = Integer.parseInt(from);
        } catch (NumberFormatException e) {
            index = -1;
        }
        if (index < 0 || index >= stages.size()) {
            throw dockerfile.errorAt(node, "invalid stage index " + from + ": the Dockerfile has "
                    + stages.size() + " stage(s)");
        }
        return Optional.of(stages.get(index));
    }

    private String expandFrom(Stage stage, ArgScope global) {
        try {
            return global.expand(stage.from().image());
        } catch (ShellExpansionException e) {
            throw dockerfile.errorAt(stage.fromNode(), e.getMessage());
        }
    }
}
