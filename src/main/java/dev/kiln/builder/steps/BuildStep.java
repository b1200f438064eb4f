package dev.kiln.builder.steps;

import dev.kiln.builder.cache.CacheKey;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.Step;
import dev.kiln.builder.exec.BuildException;
import java.io.IOException;

/**
 * One Dockerfile instruction as the builder runs it, on a {@link StageContext}. Metadata steps
 * change the config only; filesystem steps change the rootfs too, become a layer, and have a
 * cache key. Made by {@link #of}.
 */
public interface BuildStep {

    /** What a step does to the image, which decides how it is snapshotted and cached. */
    enum Kind {
        /** The config only: never a layer. */
        METADATA,
        /** Files from the context, a stage, a URL or a here-document: always a layer, even an empty one. */
        COPY,
        /** A command in the sandbox: a layer unless it changed nothing. */
        RUN,
        /** A directory, created if missing. */
        WORKDIR
    }

    Kind kind();

    default boolean changesFilesystem() {
        return kind() != Kind.METADATA;
    }

    /** Runs the step; a filesystem step needs the context's rootfs materialized first. */
    void apply(StageContext ctx) throws IOException, BuildException;

    /**
     * The layer-cache key of a filesystem step: the stage's key so far and everything its result
     * depends on. Null when it cannot be known yet (a dry run, reading a stage that missed).
     */
    default String cacheKey(StageContext ctx) throws IOException, BuildException {
        return null;
    }

    /**
     * Where the step writes, when what it writes does not depend on the files below but for the
     * destination's own chain of directories (a COPY with no owner names to look up, no archive
     * to unpack over what is there): its layer can then be made without the stage's rootfs.
     * Null when the step needs the whole rootfs.
     */
    default String independentDestination(StageContext ctx) {
        return null;
    }

    /** What the step does to the config when its layer comes from the cache instead (or, in a dry run, is unknown). */
    default void applyConfigOnly(StageContext ctx) {
    }

    /** The step for a parsed instruction; its source text (as written) is part of its cache key. */
    static BuildStep of(Step step) {
        Instruction instruction = step.instruction();
        String text = step.node().original().trim();
        if (instruction instanceof Instruction.Run run) {
            return new RunStep(run, text);
        }
        if (instruction instanceof Instruction.Copy copy) {
            return CopyStep.copy(copy, text);
        }
        if (instruction instanceof Instruction.Add add) {
            return CopyStep.add(add, text);
        }
        if (instruction instanceof Instruction.Workdir workdir) {
            return new WorkdirStep(workdir, text);
        }
        return new MetadataStep(instruction);
    }

    /** A key chained to the stage's key so far, starting with the instruction as written. */
    static CacheKey keyAfter(StageContext ctx, String text) {
        return CacheKey.after(ctx.key()).part("instruction", text);
    }
}
