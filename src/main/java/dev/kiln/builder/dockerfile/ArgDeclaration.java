package dev.kiln.builder.dockerfile;

/**
 * One name of an ARG instruction.
 *
 * @param name         the variable name
 * @param defaultValue the unexpanded default after {@code =}, or null for {@code ARG NAME}
 */
public record ArgDeclaration(String name, String defaultValue) {

    public boolean hasDefault() {
        return defaultValue != null;
    }
}
