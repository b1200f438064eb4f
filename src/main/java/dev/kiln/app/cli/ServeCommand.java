package dev.kiln.app.cli;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Start the gateway: the OCI registry on /v2/, health on /q/health, metrics on /q/metrics.")
public class ServeCommand implements Callable<Integer> {
    @Option(names = "--port", description = "HTTP port (kiln.port, KILN_PORT; default 5000)")
    Integer port;

    @Option(names = "--store", description = "Store directory (kiln.store, KILN_STORE; default ./cache-store)")
    String store;

    @Option(names = "--local-namespace", paramLabel = "NS",
            description = "Local namespace, repeatable (kiln.local-namespace, KILN_LOCAL_NAMESPACE; default cache, builds, local)")
    List<String> localNamespaces;

    @Option(names = "--htpasswd", paramLabel = "FILE",
            description = "bcrypt htpasswd file; when set, pushes and deletes need Basic auth (kiln.htpasswd, KILN_HTPASSWD)")
    String htpasswd;

    @Option(names = "--anonymous-pull", arity = "1", paramLabel = "true|false",
            description = "Allow pulls without credentials when --htpasswd is set (kiln.anonymous-pull, KILN_ANONYMOUS_PULL; default true)")
    Boolean anonymousPull;

    @Override
    public Integer call() {
        // Options given on the command line win over configuration and environment, as system properties do.
        if (port != null) {
            System.setProperty("kiln.port", port.toString());
        }
        if (store != null) {
            System.setProperty("kiln.store", store);
        }
        if (localNamespaces != null && !localNamespaces.isEmpty()) {
            System.setProperty("kiln.local-namespace", String.join(",", localNamespaces));
        }
        if (htpasswd != null) {
            System.setProperty("kiln.htpasswd", htpasswd);
        }
        if (anonymousPull != null) {
            System.setProperty("kiln.anonymous-pull", anonymousPull.toString());
        }
        Quarkus.run(Server.class, (code, failure) -> {
            if (failure != null) {
                System.err.println("kiln: " + failure.getMessage());
            }
            System.exit(code);
        });
        return 0;
    }

    public static class Server implements QuarkusApplication {
        @Override
        public int run(String... args) {
            Quarkus.waitForExit();
            return 0;
        }
    }
}
