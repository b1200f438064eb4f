package dev.kiln.app.cli;

import java.net.MalformedURLException;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The registry client speaks HTTP through {@code java.net.URL}, and the JDK finds the handler of a
 * URL's protocol, once per process, by asking every jar of the class path for a
 * {@code URLStreamHandlerProvider}: on the short runs' class path of 230 jars, opening them all took
 * 0.11-0.13 s of one thread before a build's first request. The commands that talk to registries
 * have that done on a thread of its own while picocli reads their flags, so that the first request
 * finds the jars open and the handler known.
 */
final class UrlHandlerWarmUp {
    private static final Set<String> REGISTRY_COMMANDS = Set.of("build", "warm");

    private UrlHandlerWarmUp() {
    }

    /** The started warm-up thread when {@code args} name a command that talks to registries. */
    static Optional<Thread> startFor(String[] args) {
        if (args.length == 0 || !REGISTRY_COMMANDS.contains(args[0])) {
            return Optional.empty();
        }
        Thread thread = new Thread(UrlHandlerWarmUp::resolveHandlers, "kiln-url-handlers");
        thread.setDaemon(true);
        thread.start();
        return Optional.of(thread);
    }

    private static void resolveHandlers() {
        for (String protocol : List.of("http", "https")) {
            try {
                URI.create(protocol + "://localhost/").toURL();
            } catch (MalformedURLException | IllegalArgumentException e) {
                // nothing is lost: the first request resolves the handler itself
            }
        }
    }
}
