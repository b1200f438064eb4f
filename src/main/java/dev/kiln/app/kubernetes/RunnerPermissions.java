package dev.kiln.app.kubernetes;

import java.util.List;

/**
 * Every (API group, resource, verb) the Kubernetes build runner asks the API server for. The Role
 * in {@code kubernetes/base} grants exactly these, and the tests hold both the Role and the
 * runner's recorded requests to this one list.
 */
public final class RunnerPermissions {

    /** One RBAC rule line: {@code apiGroup} is "" for the core group. */
    public record Permission(String apiGroup, String resource, String verb) {
        @Override
        public String toString() {
            return (apiGroup.isEmpty() ? "" : apiGroup + "/") + resource + ":" + verb;
        }
    }

    /** The registry Secret is read only by name, to say early when it is missing. */
    public static final Permission READ_REGISTRY_SECRET = new Permission("", "secrets", "get");

    public static final List<Permission> USED = List.of(
            new Permission("batch", "jobs", "create"),      // one Job per build
            new Permission("batch", "jobs", "get"),         // is a Job the watch does not show really gone?
            new Permission("batch", "jobs", "list"),        // the Job informer
            new Permission("batch", "jobs", "watch"),
            new Permission("batch", "jobs", "delete"),      // cancel, orphans
            new Permission("", "pods", "list"),             // the pod informer; following a log waits for the pod with these too
            new Permission("", "pods", "watch"),
            new Permission("", "pods/log", "get"),          // the build's log
            READ_REGISTRY_SECRET);

    private RunnerPermissions() {
    }
}
