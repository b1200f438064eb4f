package dev.kiln.builder.dockerfile;

/**
 * Parser directives from the top of the file.
 *
 * @param syntax     {@code # syntax=} value, or null
 * @param escapeChar {@code \} unless {@code # escape=`}
 * @param check      {@code # check=} value (lint configuration), or null
 */
public record Directives(String syntax, char escapeChar, String check) {

    public static final Directives DEFAULT = new Directives(null, '\\', null);
}
