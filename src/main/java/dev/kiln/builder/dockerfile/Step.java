package dev.kiln.builder.dockerfile;

/** An instruction together with the node it came from, for line numbers and messages. */
public record Step(Node node, Instruction instruction) {
}
