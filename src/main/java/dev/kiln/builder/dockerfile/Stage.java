package dev.kiln.builder.dockerfile;

import java.util.List;

/**
 * One build stage: a FROM and the instructions up to the next FROM.
 *
 * @param index    0-based position, usable in {@code COPY --from=<index>}
 * @param from     the FROM instruction (stage name lower-cased, null when unnamed)
 * @param fromNode the FROM node, for line numbers
 * @param steps    the stage's instructions after FROM
 */
public record Stage(int index, Instruction.From from, Node fromNode, List<Step> steps) {

    public Stage {
        steps = List.copyOf(steps);
    }

    /** The lower-cased {@code AS} name, or null. */
    public String name() {
        return from.stageName();
    }

    /** The name, or the index for unnamed stages, as used in messages. */
    public String displayName() {
        return name() != null ? name() : Integer.toString(index);
    }
}
