package dev.kiln.builder.sandbox;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Run by {@link UnprivilegedSandboxTest} in a separate JVM as an unprivileged user (no JUnit on
 * its class path): each check prints {@code OK name} or {@code FAIL name: detail}.
 *
 * <p>Arguments: work directory (owned by the user), host marker file.
 */
public final class UnprivilegedMain {
    private static Path rootfs;
    private static int failures;

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        Path marker = Path.of(args[1]);
        rootfs = TestRootfs.create(work);
        System.out.println("UID " + ProcessRunner.currentUid());
        check("probe", String.valueOf(Sandboxes.namespacesWork()), "true");
        check("auto", Sandboxes.choose(Sandboxes.Mode.AUTO).name(), "namespaces");
        check("root", run(sh("id")), "uid=0(root) gid=0(root)\n");
        check("user-by-name", run(sh("id").user("app")), "uid=1000(app) gid=1000(app)\n");
        check("user-has-no-caps", run(sh("grep CapEff /proc/self/status").user("app")), "CapEff:\t0000000000000000\n");
        check("user-by-number", run(sh("id").user("1000:1000")), "uid=1000(app) gid=1000(app)\n");
        check("env", run(RunSpec.builder(rootfs, List.of("/bin/env")).env(List.of("A=1"))), "A=1\n");
        check("exit", String.valueOf(sandbox().run(sh("exit 7").build()).exitCode()), "7");
        check("hostname", run(sh("hostname").hostname("unpriv")), "unpriv\n");
        check("pid1", run(sh("echo $$")), "1\n");
        String pids = run(sh("ls /proc | grep -c '^[0-9]*$'")).trim();
        check("few-pids", String.valueOf(Integer.parseInt(pids) <= 4), "true");
        check("workdir", run(sh("pwd").workdir("/a/b")), "/a/b\n");
        check("resolv-hosts", run(sh("test -f /etc/resolv.conf && grep -c localhost /etc/hosts")), "2\n");
        check("resolv-hosts-gone", String.valueOf(Files.exists(rootfs.resolve("etc/hosts"), LinkOption.NOFOLLOW_LINKS)
                || Files.exists(rootfs.resolve("etc/resolv.conf"), LinkOption.NOFOLLOW_LINKS)), "false");
        Path cache = work.resolve("cache");
        run(sh("echo c > /c/f").mount(new RunMount.Cache(cache, "/c", false)));
        check("cache", run(sh("cat /c/f").mount(new RunMount.Cache(cache, "/c", false))), "c\n");
        check("cache-gone", String.valueOf(Files.exists(rootfs.resolve("c"))), "false");
        Path secret = work.resolve("secret");
        Files.writeString(secret, "pw");
        check("secret", run(sh("cat /run/secrets/s; { echo x > /run/secrets/s; } 2>/dev/null || echo ro")
                .mount(new RunMount.Secret(secret, "/run/secrets/s"))), "pwro\n");
        check("secret-gone", String.valueOf(Files.exists(rootfs.resolve("run"))), "false");
        Path ctx = Files.createDirectories(work.resolve("ctx"));
        check("bind-ro", run(sh("touch /ctx/x 2>/dev/null || echo ro").mount(new RunMount.Bind(ctx, "/ctx", true))), "ro\n");
        String canary = "host-canary-" + ProcessHandle.current().pid();
        run(sh("echo x > /" + canary));
        check("canary", Files.exists(rootfs.resolve(canary)) + " " + Files.exists(Path.of("/" + canary)), "true false");
        check("marker-readable-on-host", String.valueOf(Files.isReadable(marker)), "true");
        check("marker", run(sh("cat " + marker + " 2>/dev/null || cat /proc/1/root" + marker
                + " 2>/dev/null || cat /proc/1/root/../../.." + marker + " 2>/dev/null || echo unreachable")), "unreachable\n");
        check("dotdot", run(sh("cd /../../..; pwd; ls")), run(sh("cd /; pwd; ls")));
        String tag = "3" + (System.nanoTime() % 100000 + 100000);
        run(sh("sleep " + tag + " & echo started"));
        Thread.sleep(300);
        check("leftover", String.valueOf(ProcessHandle.allProcesses()
                .anyMatch(p -> p.info().commandLine().orElse("").contains("sleep " + tag))), "false");
        ExecResult r = sandbox().run(sh("sleep " + tag + "1 & sleep " + tag + "1").timeout(Duration.ofMillis(1000)).build());
        Thread.sleep(300);
        check("timeout", r.timedOut() + " " + ProcessHandle.allProcesses()
                .anyMatch(p -> p.info().commandLine().orElse("").contains("sleep " + tag + "1")), "true false");
        System.out.println(failures == 0 ? "ALL OK" : "FAILURES " + failures);
    }

    private static Sandbox sandbox() {
        return new NamespaceSandbox();
    }

    private static RunSpec.Builder sh(String script) {
        return RunSpec.builder(rootfs, List.of("/bin/sh", "-c", script)).env(List.of("PATH=/bin"));
    }

    private static String run(RunSpec.Builder b) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            sandbox().run(b.stdout(out).stderr(err).build());
        } catch (Exception e) {
            return "exception " + e + " " + err.toString(StandardCharsets.UTF_8);
        }
        String e = err.toString(StandardCharsets.UTF_8);
        return out.toString(StandardCharsets.UTF_8) + (e.isEmpty() ? "" : "[stderr] " + e);
    }

    private static void check(String name, String actual, String expected) {
        if (actual.equals(expected)) {
            System.out.println("OK " + name);
        } else {
            failures++;
            System.out.println("FAIL " + name + ": expected [" + expected.replace("\n", "\\n") + "] got ["
                    + actual.replace("\n", "\\n") + "]");
        }
    }
}
