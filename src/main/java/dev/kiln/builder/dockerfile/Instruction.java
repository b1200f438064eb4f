package dev.kiln.builder.dockerfile;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated Dockerfile instruction. Values are as written (unexpanded): variables are
 * substituted by the builder with the stage's {@link ArgScope}, because their values depend on
 * build arguments and the base image's environment.
 */
public sealed interface Instruction {

    /**
     * @param image     base image reference or earlier stage name
     * @param platform  {@code --platform} value, or null
     * @param stageName lower-cased {@code AS} name, or null
     */
    record From(String image, String platform, String stageName) implements Instruction {
    }

    /**
     * @param network  {@code default}, {@code none} or {@code host}
     * @param security {@code sandbox} or {@code insecure}
     * @param heredocs bodies for {@code <<EOF} markers in the command
     */
    record Run(Command command, List<Mount> mounts, String network, String security, List<Heredoc> heredocs)
            implements Instruction {
        public Run {
            mounts = List.copyOf(mounts);
            heredocs = List.copyOf(heredocs);
        }
    }

    record Cmd(Command command) implements Instruction {
    }

    /** An empty exec form clears the entrypoint inherited from the base image. */
    record Entrypoint(Command command) implements Instruction {
    }

    record Label(List<KeyValue> labels) implements Instruction {
        public Label {
            labels = List.copyOf(labels);
        }
    }

    record Maintainer(String name) implements Instruction {
    }

    /** Ports as written, e.g. {@code 80/tcp} or {@code $PORTS}; expand with {@link ShellWordExpander#expandWords}. */
    record Expose(List<String> ports) implements Instruction {
        public Expose {
            ports = List.copyOf(ports);
        }
    }

    record Env(List<KeyValue> variables) implements Instruction {
        public Env {
            variables = List.copyOf(variables);
        }
    }

    /**
     * @param sources       context paths, URLs or git references
     * @param inlineSources heredoc sources ({@code ADD <<EOF /dest}); read them with {@link Heredoc#text()}
     * @param unpack        {@code --unpack}; null leaves the default (unpack local archives only)
     */
    record Add(List<String> sources, List<Heredoc> inlineSources, String destination, String chown, String chmod,
               String checksum, boolean link, boolean keepGitDir, Boolean unpack, List<String> excludes)
            implements Instruction {
        public Add {
            sources = List.copyOf(sources);
            inlineSources = List.copyOf(inlineSources);
            excludes = List.copyOf(excludes);
        }
    }

    /**
     * @param from          {@code --from}: stage name, stage index or image reference; null for the context
     * @param inlineSources heredoc sources ({@code COPY <<EOF /dest}); read them with {@link Heredoc#text()}
     */
    record Copy(List<String> sources, List<Heredoc> inlineSources, String destination, String from, String chown,
                String chmod, boolean link, boolean parents, List<String> excludes) implements Instruction {
        public Copy {
            sources = List.copyOf(sources);
            inlineSources = List.copyOf(inlineSources);
            excludes = List.copyOf(excludes);
        }
    }

    record Volume(List<String> paths) implements Instruction {
        public Volume {
            paths = List.copyOf(paths);
        }
    }

    record User(String user) implements Instruction {
    }

    record Workdir(String path) implements Instruction {
    }

    record Arg(List<ArgDeclaration> declarations) implements Instruction {
        public Arg {
            declarations = List.copyOf(declarations);
        }
    }

    /**
     * @param trigger    the wrapped instruction, validated now so errors surface in this build
     * @param expression the trigger's source text (heredoc bodies appended) for the image config
     */
    record Onbuild(Instruction trigger, String expression) implements Instruction {
    }

    record StopSignal(String signal) implements Instruction {
    }

    /**
     * @param command null for {@code HEALTHCHECK NONE}
     * @param retries 0 when not set (the runtime default applies)
     */
    record Healthcheck(Command command, Duration interval, Duration timeout, Duration startPeriod,
                       Duration startInterval, int retries) implements Instruction {

        public boolean disabled() {
            return command == null;
        }

        /** The image-config {@code Test} array: {@code [NONE]}, {@code [CMD, ...]} or {@code [CMD-SHELL, script]}. */
        public List<String> test() {
            List<String> test = new ArrayList<>();
            if (command == null) {
                test.add("NONE");
            } else if (command instanceof Command.ExecForm exec) {
                test.add("CMD");
                test.addAll(exec.args());
            } else {
                test.add("CMD-SHELL");
                test.add(((Command.ShellForm) command).script());
            }
            return test;
        }
    }

    /** Always exec form, e.g. {@code ["/bin/bash", "-c"]}. */
    record Shell(List<String> shell) implements Instruction {
        public Shell {
            shell = List.copyOf(shell);
        }
    }
}
