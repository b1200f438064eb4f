package dev.kiln.builder.dockerfile;

/**
 * An ENV or LABEL pair, unexpanded: quotes are still in the text and are removed by
 * {@link ShellWordExpander#expand} when the instruction is applied.
 */
public record KeyValue(String key, String value) {
}
