package dev.kiln.builder.steps;

import dev.kiln.builder.cache.CacheKey;
import dev.kiln.builder.dockerfile.HeredocRun;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.Mount;
import dev.kiln.builder.exec.BuildEvent;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.exec.ContextCopier;
import dev.kiln.builder.rootfs.RootfsPath;
import dev.kiln.builder.sandbox.ExecResult;
import dev.kiln.builder.sandbox.MountResolver;
import dev.kiln.builder.sandbox.RunMount;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.builder.sandbox.RunUser;
import dev.kiln.builder.sandbox.Sandbox;
import dev.kiln.builder.sandbox.SandboxPolicy;
import dev.kiln.oci.image.ImageConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * RUN: the command in the sandbox on the stage's rootfs, with the stage's env, user, workdir and
 * shell, its {@code --mount}s and {@code --network}; its output goes to the build log.
 */
final class RunStep implements BuildStep {
    private final Instruction.Run run;
    private final String text;

    RunStep(Instruction.Run run, String text) {
        this.run = run;
        this.text = text;
    }

    @Override
    public Kind kind() {
        return Kind.RUN;
    }

    @Override
    public void apply(StageContext s) throws IOException, BuildException {
        BuildSession session = s.session();
        Sandbox sandbox = session.sandbox();
        List<String> env = environment(s);
        try (MountResolver resolver = new MountResolver(session.runCacheRoot(), session.secrets(),
                from -> from == null ? session.context() : stageRootfs(session, from))) {
            List<RunMount> runMounts = resolver.resolve(mounts(s));
            for (RunMount m : runMounts) {
                if (m instanceof RunMount.Secret secret) {
                    session.event(BuildEvent.Message.debug("RUN gets a secret at " + secret.target()));
                }
            }
            env.addAll(resolver.secretEnvironment());
            ImageConfig.Container c = s.container();
            RunSpec spec = RunSpec.builder(s.rootfs(), RunSpec.argv(s.shell(), HeredocRun.command(run)))
                    .mounts(runMounts)
                    .env(env)
                    .user(c.user())
                    .workdir(c.workingDir())
                    .network(network(session.allowNetwork(), session.sandboxPolicy()))
                    .policy(session.sandboxPolicy())
                    .stdout(line -> session.info(s.outputPrefix() + line))
                    .stderr(line -> session.info(s.outputPrefix() + line))
                    .cancellation(session.cancellation())
                    .build();
            ExecResult result;
            try {
                result = s.snapshotter() == null ? sandbox.run(spec) : s.snapshotter().run(sandbox, spec);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BuildException("interrupted");
            }
            session.throwIfCancelled();
            if (!result.succeeded()) {
                throw new BuildException("the command returned a non-zero code: " + result.exitCode()
                        + (result.timedOut() ? " (timed out)" : ""));
            }
        }
    }

    /** The command, the variables, user, directory, network and mounts it sees, and the content it bind-mounts. */
    @Override
    public String cacheKey(StageContext s) throws IOException, BuildException {
        ImageConfig.Container c = s.container();
        BuildSession session = s.session();
        CacheKey key = BuildStep.keyAfter(s, text)
                .part("argv", RunSpec.argv(s.shell(), HeredocRun.command(run)))
                .part("env", s.scope().variables())
                .part("user", c.user())
                .part("workdir", c.workingDir())
                .part("network", run.network());
        for (Mount mount : mounts(s)) {
            // secrets and cache mounts are left out: their content is not part of the result
            key.part("mount", mount.type() + " " + mount.target() + " " + mount.id() + " " + mount.readOnly());
            if (mount.type() == Mount.Type.BIND) {
                if (mount.from() != null && session.stages().incomplete(mount.from())) {
                    return null;
                }
                Path root = mount.from() == null ? session.context() : session.stages().rootfs(mount.from());
                String source = mount.source() == null || mount.source().isEmpty() ? "/" : mount.source();
                key.part("bind " + mount.from(), new ContextCopier(root, false, null, RootfsPath.of(s.rootfs()))
                        .digest(List.of(source)));
            }
        }
        return key.value();
    }

    private List<Mount> mounts(StageContext s) {
        List<Mount> mounts = new ArrayList<>();
        for (Mount m : run.mounts()) {
            mounts.add(m.hasVariables() ? m.resolve(s.scope()::expand) : m);
        }
        return mounts;
    }

    private static List<String> environment(StageContext s) throws IOException {
        List<String> env = new ArrayList<>();
        boolean hasPath = false;
        Map<String, String> variables = s.scope().variables();
        for (Map.Entry<String, String> e : variables.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            env.add(e.getKey() + "=" + e.getValue());
            hasPath |= e.getKey().equals("PATH");
        }
        if (!hasPath) {
            env.add(StageContext.DEFAULT_PATH);
        }
        if (!variables.containsKey("HOME")) {
            // as runc does for Docker: the user's home from the image's /etc/passwd, else /
            env.add("HOME=" + RunUser.home(RootfsPath.of(s.rootfs()), s.container().user()));
        }
        return env;
    }

    private static Path stageRootfs(BuildSession session, String from) throws IOException {
        try {
            return session.stages().rootfs(from);
        } catch (BuildException e) {
            throw new IOException(e.getMessage());
        }
    }

    /**
     * {@code RUN --network=none} is always isolated; {@code default} and {@code host} get the
     * network only where the builder allows it: the egress proxy, or the host's where the policy
     * says so. Otherwise {@code default} is isolated while an explicit {@code host} is refused
     * rather than quietly run without it.
     */
    private RunSpec.Network network(boolean allowed, SandboxPolicy policy) throws BuildException {
        RunSpec.Network asked;
        try {
            asked = RunSpec.Network.of(run.network());
        } catch (IllegalArgumentException e) {
            throw new BuildException("RUN --network=" + run.network() + ": " + e.getMessage());
        }
        if (asked == RunSpec.Network.NONE) {
            return RunSpec.Network.NONE;
        }
        if (allowed) {
            return policy.allowedNetwork() == SandboxPolicy.AllowedNetwork.HOST ? RunSpec.Network.HOST : RunSpec.Network.PROXY;
        }
        if (asked == RunSpec.Network.HOST) {
            throw new BuildException("RUN --network=host: this builder gives RUN no network (kiln build --network=default, "
                    + "or kiln.builds.allow-network=true on a gateway)");
        }
        return RunSpec.Network.NONE;
    }
}
