package dev.kiln.builder.gateway;

import java.util.Locale;

/** Where a gateway build is: waiting, running, or ended one of three ways. */
public enum BuildState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public boolean ended() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }

    /** The lower-case name used on the wire and in records. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a wire name; null when it names no state. */
    public static BuildState ofWireName(String name) {
        for (BuildState state : values()) {
            if (state.wireName().equals(name)) {
                return state;
            }
        }
        return null;
    }
}
