package dev.kiln.builder.steps;

import dev.kiln.builder.dockerfile.Command;
import dev.kiln.builder.dockerfile.Instruction;
import dev.kiln.builder.dockerfile.KeyValue;
import dev.kiln.builder.exec.BuildException;
import dev.kiln.builder.sandbox.RunSpec;
import dev.kiln.oci.image.ImageConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * ENV, ARG, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, STOPSIGNAL, HEALTHCHECK, SHELL,
 * MAINTAINER and ONBUILD: they change the config (or the ARG scope) and never the rootfs.
 */
final class MetadataStep implements BuildStep {
    private final Instruction instruction;

    MetadataStep(Instruction instruction) {
        this.instruction = instruction;
    }

    @Override
    public Kind kind() {
        return Kind.METADATA;
    }

    @Override
    public void apply(StageContext s) throws BuildException {
        var scope = s.scope();
        ImageConfig.Container c = s.container();
        if (instruction instanceof Instruction.Env env) {
            scope.setEnv(env);
            List<String> list = new ArrayList<>();
            scope.env().forEach((k, v) -> list.add(k + "=" + v));
            s.container(c.withEnv(list));
        } else if (instruction instanceof Instruction.Arg arg) {
            scope.declare(arg);
        } else if (instruction instanceof Instruction.Label label) {
            for (KeyValue kv : label.labels()) {
                c = c.withLabel(scope.expand(kv.key()), scope.expand(kv.value()));
            }
            s.container(c);
        } else if (instruction instanceof Instruction.Cmd cmd) {
            s.container(c.withCmd(commandList(s, cmd.command())));
            s.cmdSet(true);
        } else if (instruction instanceof Instruction.Entrypoint ep) {
            c = c.withEntrypoint(commandList(s, ep.command()));
            // an ENTRYPOINT drops the base image's CMD, as Docker does, but not one this stage set
            s.container(s.cmdSet() ? c : c.withCmd(null));
        } else if (instruction instanceof Instruction.Expose expose) {
            for (String port : expose.ports()) {
                String p = scope.expand(port);
                c = c.withExposedPort(p.contains("/") ? p.toLowerCase(Locale.ROOT) : p + "/tcp");
            }
            s.container(c);
        } else if (instruction instanceof Instruction.Volume volume) {
            for (String path : volume.paths()) {
                c = c.withVolume(scope.expand(path));
            }
            s.container(c);
        } else if (instruction instanceof Instruction.User user) {
            s.container(c.withUser(scope.expand(user.user())));
        } else if (instruction instanceof Instruction.StopSignal sig) {
            s.container(c.withStopSignal(scope.expand(sig.signal())));
        } else if (instruction instanceof Instruction.Healthcheck hc) {
            s.container(c.withHealthcheck(healthcheck(hc)));
        } else if (instruction instanceof Instruction.Shell shell) {
            s.shell(shell);
            s.container(c.withShell(shell.shell()));
        } else if (instruction instanceof Instruction.Maintainer m) {
            s.config(s.config().withAuthor(m.name()));
        } else if (instruction instanceof Instruction.Onbuild ob) {
            List<String> triggers = new ArrayList<>(c.onBuild() == null ? List.of() : c.onBuild());
            triggers.add(ob.expression());
            s.container(c.withOnBuild(triggers));
        } else {
            throw new BuildException("unexpected " + instruction.getClass().getSimpleName());
        }
    }

    private static ImageConfig.Healthcheck healthcheck(Instruction.Healthcheck hc) {
        List<String> test;
        if (hc.command() == null) {
            test = List.of("NONE");
        } else if (hc.command() instanceof Command.ExecForm exec) {
            test = new ArrayList<>(List.of("CMD"));
            test.addAll(exec.args());
        } else {
            test = List.of("CMD-SHELL", ((Command.ShellForm) hc.command()).script());
        }
        return new ImageConfig.Healthcheck(test, nanos(hc.interval()), nanos(hc.timeout()), nanos(hc.startPeriod()),
                nanos(hc.startInterval()), hc.retries());
    }

    private static List<String> commandList(StageContext s, Command command) {
        if (command instanceof Command.ExecForm exec) {
            return exec.args();
        }
        return RunSpec.argv(s.shell(), command);
    }

    private static long nanos(Duration d) {
        return d == null ? 0 : d.toNanos();
    }
}
