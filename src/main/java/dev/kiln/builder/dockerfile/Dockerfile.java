package dev.kiln.builder.dockerfile;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A parsed Dockerfile.
 *
 * @param source     the name used in error messages, usually {@code Dockerfile}
 * @param directives parser directives from the header
 * @param nodes      the instructions in file order
 */
public record Dockerfile(String source, Directives directives, List<Node> nodes) {

    public Dockerfile {
        nodes = List.copyOf(nodes);
    }

    /** The whole tree in BuildKit's dump format, one instruction per line. */
    public String toBuildKitString() {
        return nodes.stream().map(Node::toBuildKitString).collect(Collectors.joining("\n", "", "\n"));
    }

    /** An error located at the start of {@code node}. */
    DockerfileParseException errorAt(Node node, String reason) {
        return new DockerfileParseException(source, node.startLine(), 1, reason);
    }
}
