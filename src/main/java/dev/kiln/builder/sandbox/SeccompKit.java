package dev.kiln.builder.sandbox;

import dev.kiln.builder.rootfs.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What loads the seccomp filter of a RUN: bubblewrap's {@code bwrap --seccomp FD}, the last exec
 * before the command. By then the RUN's root is the image, where the host's libraries are not, so
 * bwrap travels with its loader and libraries (and a static busybox, which drops to a non-root
 * USER after the filter is in place) in a directory made once per process, that the sandbox binds
 * read-only into the RUN's {@code /dev}. The filter program lies beside them.
 *
 * <p>Debian 12's util-linux {@code setpriv} has no seccomp option and busybox none at all; Java
 * cannot load a filter without native code.
 */
final class SeccompKit {
    /** Where the kit appears inside a RUN: the RUN's {@code /dev} is a tmpfs of its own, so nothing lands in the image. */
    static final String INSIDE = "/dev/.kiln-seccomp";
    static final String FILTER = "seccomp.bpf";

    static final String MISSING = "RUN refused: the seccomp filter needs bubblewrap's bwrap, which is not installed";

    private static final Map<String, SeccompKit> KITS = new ConcurrentHashMap<>();

    final Path dir;
    private final String loader;

    private SeccompKit(Path dir, String loader) {
        this.dir = dir;
        this.loader = loader;
    }

    /**
     * The kit for this process, made on first use from the {@code bwrap} found in {@code searchPath}
     * (Kiln's tools and the host's standard path when null), or a refusal naming the package.
     */
    static SeccompKit require(String searchPath, String busybox) throws SandboxException {
        String key = searchPath + "\0" + busybox;
        SeccompKit kit = KITS.get(key);
        if (kit != null && Files.isRegularFile(kit.dir.resolve(FILTER))) {
            return kit;
        }
        synchronized (KITS) {
            kit = KITS.get(key);
            if (kit == null || !Files.isRegularFile(kit.dir.resolve(FILTER))) {
                kit = make(searchPath, busybox);
                KITS.put(key, kit);
            }
            return kit;
        }
    }

    /** The argv that runs bwrap inside the RUN: it loads the filter from fd 3 and execs what follows. */
    List<String> bwrapCommand() {
        List<String> argv = new ArrayList<>();
        if (loader != null) {
            argv.addAll(List.of(INSIDE + "/" + loader, "--library-path", INSIDE));
        }
        // --dev-bind / /: bwrap always makes a mount namespace; this one is the RUN's view as it is.
        // bwrap forks: the command is pid 1 only of a pid namespace of bwrap's, whose /proc bwrap
        // mounts, read-only and masked as the sandbox's own would be.
        argv.addAll(List.of(INSIDE + "/bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--as-pid-1", "--proc", "/proc"));
        for (String p : SetupScript.PROC_READ_ONLY) {
            argv.addAll(List.of("--ro-bind-try", "/proc/" + p, "/proc/" + p));
        }
        for (String p : SetupScript.PROC_MASKED) {
            if (java.nio.file.Files.exists(Path.of("/proc", p), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                argv.addAll(List.of("--ro-bind", "/dev/null", "/proc/" + p));
            }
        }
        argv.addAll(List.of("--seccomp", "3", "--"));
        return argv;
    }

    /** The static busybox inside the RUN. */
    static String busyboxInside() {
        return INSIDE + "/busybox";
    }

    private static SeccompKit make(String searchPath, String busybox) throws SandboxException {
        String path = searchPath != null ? searchPath : ProcessRunner.toolPath();
        Located bwrap = locate(path);
        if (bwrap == null) {
            throw new SandboxException(MISSING + " (looked in " + path + "); install the package bubblewrap, or turn "
                    + "the filter off explicitly with --seccomp=false / kiln.builds.seccomp=false");
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")),
                    RunSetup.SCRATCH_PREFIX + ProcessHandle.current().pid() + "-seccomp-");
            List<Path> files = new ArrayList<>(libraries(bwrap));
            if (bwrap.loader != null) {
                files.add(bwrap.loader);
            }
            for (Path f : files) {
                install(f, dir.resolve(f.getFileName().toString()));
            }
            install(bwrap.elf, dir.resolve("bwrap"));
            install(Path.of(busybox), dir.resolve("busybox"));
            Path filter = dir.resolve(FILTER + ".tmp");
            Files.write(filter, SeccompFilter.program());
            Files.setPosixFilePermissions(filter, PosixFilePermissions.fromString("r--r--r--"));
            Files.move(filter, dir.resolve(FILTER), StandardCopyOption.ATOMIC_MOVE);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path made = dir;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> Trees.deleteQuietly(made)));
            return new SeccompKit(dir, bwrap.loader == null ? null : bwrap.loader.getFileName().toString());
        } catch (IOException e) {
            if (dir != null) {
                Trees.deleteQuietly(dir);
            }
            throw new SandboxException("RUN refused: could not prepare bwrap for the seccomp filter: " + e.getMessage(), e);
        }
    }

    private static void install(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("r-xr-xr-x"));
    }

    /** bwrap's ELF file and the loader that runs it, with the directory its libraries come from when not the host's. */
    private record Located(Path elf, Path loader, Path libraryPath) {
    }

    /**
     * The first {@code bwrap} on {@code path}. Kiln's self-contained tools ({@code bin/bwrap} a
     * script, the ELF in {@code libexec/}, loader and libraries in {@code lib/}) are recognised.
     */
    private static Located locate(String path) {
        for (String d : path.split(":")) {
            Path candidate = Path.of(d, "bwrap");
            if (!Files.isExecutable(candidate)) {
                continue;
            }
            Path elf = Elf.is(candidate) ? candidate : Path.of(d).resolveSibling("libexec").resolve("bwrap");
            if (!Elf.is(elf)) {
                continue;
            }
            String interp = Elf.interpreter(elf);
            if (interp == null) {
                return new Located(elf, null, null); // a static bwrap needs nothing else
            }
            Path own = Path.of(d).resolveSibling("lib");
            Path ownLoader = own.resolve(Path.of(interp).getFileName());
            if (Files.isExecutable(ownLoader)) {
                return new Located(elf, ownLoader, own);
            }
            Path loader = Path.of(interp);
            if (Files.isExecutable(loader)) {
                return new Located(elf, loader, null);
            }
        }
        return null;
    }

    private static final Pattern LIBRARY = Pattern.compile("=>\\s*(/\\S+)");

    /** The shared libraries bwrap loads, as its own loader lists them. */
    private static List<Path> libraries(Located bwrap) throws IOException {
        if (bwrap.loader == null) {
            return List.of();
        }
        List<String> command = new ArrayList<>(List.of(bwrap.loader.toString()));
        if (bwrap.libraryPath != null) {
            command.addAll(List.of("--library-path", bwrap.libraryPath.toString()));
        }
        command.addAll(List.of("--list", bwrap.elf.toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("listing bwrap's libraries failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        List<Path> libs = new ArrayList<>();
        Matcher m = LIBRARY.matcher(out);
        while (m.find()) {
            libs.add(Path.of(m.group(1)));
        }
        return libs;
    }
}
