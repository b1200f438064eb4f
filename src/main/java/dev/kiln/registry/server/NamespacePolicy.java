package dev.kiln.registry.server;

import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.spec.ErrorCode;
import dev.kiln.registry.spec.RegistryException;
import java.util.List;
import java.util.stream.Collectors;

/** Which names are Kiln's own repositories; every other name belongs to an upstream and is read-only. */
public record NamespacePolicy(List<String> localNamespaces) {

    public NamespacePolicy {
        localNamespaces = List.copyOf(localNamespaces);
    }

    public boolean isLocal(RepositoryName name) {
        return localNamespaces.contains(name.firstComponent());
    }

    public void requireWritable(RepositoryName name, String action) {
        if (!isLocal(name)) {
            throw new RegistryException(ErrorCode.DENIED, "cannot " + action + " " + name
                    + ": names outside the local namespaces are reserved for mirrored upstreams; push to "
                    + localNamespaces.stream().map(ns -> ns + "/…").collect(Collectors.joining(", ")) + " instead");
        }
    }
}
