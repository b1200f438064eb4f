package dev.kiln.cloud;

import java.time.Instant;

/** A user and password for a registry, valid until {@code expires}. */
public record RegistryLogin(String username, String password, Instant expires) {
    @Override
    public String toString() {
        return "RegistryLogin[" + username + ", until " + expires + "]";
    }

    /** Still good for a while: a build started now should not see it expire mid-push. */
    boolean freshAt(Instant now) {
        return expires.isAfter(now.plusSeconds(300));
    }
}
