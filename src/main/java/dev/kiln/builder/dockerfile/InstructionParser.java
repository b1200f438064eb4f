package dev.kiln.builder.dockerfile;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Gives a parsed {@link Node} its meaning as an {@link Instruction}, validating flags and argument counts. */
public final class InstructionParser {

    private static final Pattern STAGE_NAME = Pattern.compile("[a-z][a-z0-9-_.]*");
    private static final Pattern ONBUILD_PREFIX = Pattern.compile("(?i)^[\\t\\n\\x0B\\f\\r ]*ONBUILD[\\t\\n\\x0B\\f\\r ]*");
    private static final Set<String> NETWORKS = Set.of("default", "none", "host");
    private static final Set<String> SECURITY_MODES = Set.of("sandbox", "insecure");
    private static final Duration MINIMUM_INTERVAL = Duration.ofMillis(1);

    private InstructionParser() {
    }

    /**
     * @param source file name for error messages
     * @throws DockerfileParseException at the node's line for any invalid flag or argument
     */
    public static Instruction parse(Node node, String source) {
        try {
            return parse(node);
        } catch (InvalidSyntax e) {
            throw new DockerfileParseException(source, node.startLine(), 1, e.getMessage());
        }
    }

    /**
     * An ONBUILD trigger a base image or an earlier stage carries: parsed, and refused for the same
     * reasons as the Dockerfile's own instructions ({@link Stages#of}), since it runs as one of them.
     */
    public static Instruction parseTrigger(Node node, String source) {
        Instruction instruction = parse(node, source);
        Optional<String> refused = Unsupported.reason(instruction);
        if (refused.isPresent()) {
            throw new DockerfileException(refused.get());
        }
        return instruction;
    }

    private static Instruction parse(Node node) {
        FlagSet flags = FlagSet.parse(node.keyword(), node.flags());
        return switch (node.keyword()) {
            case FROM -> from(node, flags);
            case RUN -> run(node, flags);
            case CMD -> new Instruction.Cmd(command(node, node.args()));
            case ENTRYPOINT -> new Instruction.Entrypoint(node.args().isEmpty()
                    ? new Command.ExecForm(List.of())
                    : command(node, node.args()));
            case LABEL -> new Instruction.Label(pairs(node));
            case MAINTAINER -> new Instruction.Maintainer(exactlyOne(node));
            case EXPOSE -> new Instruction.Expose(atLeastOne(node).stream().sorted().toList());
            case ENV -> new Instruction.Env(pairs(node));
            case ADD -> add(node, flags);
            case COPY -> copy(node, flags);
            case VOLUME -> volume(node);
            case USER -> new Instruction.User(exactlyOne(node));
            case WORKDIR -> new Instruction.Workdir(exactlyOne(node));
            case ARG -> arg(node);
            case ONBUILD -> onbuild(node);
            case STOPSIGNAL -> new Instruction.StopSignal(exactlyOne(node));
            case HEALTHCHECK -> healthcheck(node, flags);
            case SHELL -> shell(node);
        };
    }

    private static Instruction from(Node node, FlagSet flags) {
        List<String> args = node.args();
        String stageName = null;
        if (args.size() == 3 && args.get(1).equalsIgnoreCase("as")) {
            stageName = args.get(2).toLowerCase(Locale.ROOT);
            if (!STAGE_NAME.matcher(stageName).matches()) {
                throw new InvalidSyntax("invalid name for build stage: " + GoText.quote(args.get(2))
                        + ", name can't start with a number or contain symbols");
            }
        } else if (args.size() != 1) {
            throw new InvalidSyntax("FROM requires either one or three arguments");
        }
        String platform = flags.string("platform");
        return new Instruction.From(args.get(0), platform == null || platform.isEmpty() ? null : platform, stageName);
    }

    private static Instruction run(Node node, FlagSet flags) {
        if (node.args().isEmpty()) {
            throw new InvalidSyntax("RUN requires at least one argument");
        }
        List<Mount> mounts = new ArrayList<>();
        for (String spec : flags.strings("mount")) {
            mounts.add(Mount.parse(spec));
        }
        String network = flags.string("network", "default");
        if (!NETWORKS.contains(network)) {
            throw new InvalidSyntax("unsupported network mode " + GoText.quote(network));
        }
        String security = flags.string("security", "sandbox");
        if (!SECURITY_MODES.contains(security)) {
            throw new InvalidSyntax("unsupported security mode " + GoText.quote(security));
        }
        return new Instruction.Run(command(node, node.args()), mounts, network, security, node.heredocs());
    }

    private record SourcesAndDestination(List<String> paths, List<Heredoc> inline, String destination) {
    }

    /** The last argument is the destination; heredoc markers among the sources become inline files. */
    private static SourcesAndDestination sourcesAndDestination(Node node) {
        List<String> args = node.args();
        String name = node.keyword().name();
        if (args.size() < 2) {
            throw new InvalidSyntax(name + " requires at least two arguments, but only one was provided."
                    + " Destination could not be determined");
        }
        String destination = args.get(args.size() - 1);
        if (heredocMarker(destination).isPresent()) {
            throw new InvalidSyntax(name + " cannot accept a heredoc as a destination");
        }
        Map<String, Heredoc> bodies = new HashMap<>();
        node.heredocs().forEach(doc -> bodies.put(doc.name(), doc));
        List<String> paths = new ArrayList<>();
        List<Heredoc> inline = new ArrayList<>();
        for (String source : args.subList(0, args.size() - 1)) {
            Optional<Heredoc> marker = node.json() ? Optional.empty() : heredocMarker(source);
            if (marker.isPresent()) {
                inline.add(bodies.getOrDefault(marker.get().name(), marker.get()));
            } else {
                paths.add(source);
            }
        }
        return new SourcesAndDestination(paths, inline, destination);
    }

    private static Optional<Heredoc> heredocMarker(String word) {
        try {
            return HeredocMarkers.marker(word);
        } catch (InvalidSyntax e) {
            return Optional.empty();
        }
    }

    private static Instruction add(Node node, FlagSet flags) {
        SourcesAndDestination sd = sourcesAndDestination(node);
        return new Instruction.Add(sd.paths(), sd.inline(), sd.destination(), flags.string("chown"),
                flags.string("chmod"), flags.string("checksum"), flags.bool("link"), flags.bool("keep-git-dir"),
                flags.optionalBool("unpack"), flags.strings("exclude"));
    }

    private static Instruction copy(Node node, FlagSet flags) {
        SourcesAndDestination sd = sourcesAndDestination(node);
        String from = flags.string("from");
        return new Instruction.Copy(sd.paths(), sd.inline(), sd.destination(),
                from == null || from.isEmpty() ? null : from, flags.string("chown"), flags.string("chmod"),
                flags.bool("link"), flags.bool("parents"), flags.strings("exclude"));
    }

    private static Instruction volume(Node node) {
        List<String> paths = new ArrayList<>();
        for (String v : atLeastOne(node)) {
            String path = GoText.trim(v);
            if (path.isEmpty()) {
                throw new InvalidSyntax("VOLUME specified can not be an empty string");
            }
            paths.add(path);
        }
        return new Instruction.Volume(paths);
    }

    private static Instruction arg(Node node) {
        List<ArgDeclaration> declarations = new ArrayList<>();
        for (String word : atLeastOne(node)) {
            int eq = word.indexOf('=');
            String name = eq < 0 ? word : word.substring(0, eq);
            if (name.isEmpty()) {
                throw new InvalidSyntax("ARG names can not be blank");
            }
            declarations.add(new ArgDeclaration(name, eq < 0 ? null : word.substring(eq + 1)));
        }
        return new Instruction.Arg(declarations);
    }

    private static Instruction onbuild(Node node) {
        Node trigger = node.trigger();
        if (trigger == null) {
            throw new InvalidSyntax("ONBUILD requires at least one argument");
        }
        switch (trigger.keyword()) {
            case ONBUILD -> throw new InvalidSyntax("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
            case FROM, MAINTAINER -> throw new InvalidSyntax(trigger.keyword() + " isn't allowed as an ONBUILD trigger");
            default -> {
            }
        }
        StringBuilder expression = new StringBuilder(ONBUILD_PREFIX.matcher(node.original()).replaceFirst(""));
        for (Heredoc doc : node.heredocs()) {
            expression.append('\n').append(doc.content()).append(doc.name());
        }
        Instruction inner = parse(trigger.withHeredocs(node.heredocs(), node.endLine()));
        return new Instruction.Onbuild(inner, expression.toString());
    }

    private static Instruction healthcheck(Node node, FlagSet flags) {
        List<String> args = atLeastOne(node);
        String type = args.get(0).toUpperCase(Locale.ROOT);
        List<String> commandArgs = args.subList(1, args.size());
        if (type.equals("NONE")) {
            if (!commandArgs.isEmpty()) {
                throw new InvalidSyntax("HEALTHCHECK NONE takes no arguments");
            }
            return new Instruction.Healthcheck(null, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO, 0);
        }
        if (!type.equals("CMD")) {
            throw new InvalidSyntax("Unknown type " + GoText.quote(type) + " in HEALTHCHECK (try CMD)");
        }
        if (commandArgs.isEmpty()) {
            throw new InvalidSyntax("Missing command after HEALTHCHECK CMD");
        }
        return new Instruction.Healthcheck(command(node, commandArgs),
                interval(flags, "interval"), interval(flags, "timeout"),
                interval(flags, "start-period"), interval(flags, "start-interval"), retries(flags));
    }

    private static Duration interval(FlagSet flags, String name) {
        String value = flags.string(name);
        if (value == null || value.isEmpty()) {
            return Duration.ZERO;
        }
        Duration d = GoDuration.parse(value);
        if (!d.isZero() && d.compareTo(MINIMUM_INTERVAL) < 0) {
            throw new InvalidSyntax("Interval " + GoText.quote(name) + " cannot be less than 1ms");
        }
        return d;
    }

    private static int retries(FlagSet flags) {
        String value = flags.string("retries");
        if (value == null || value.isEmpty()) {
            return 0;
        }
        int retries;
        try {
            retries = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new InvalidSyntax("invalid value for --retries: " + value);
        }
        if (retries < 0) {
            throw new InvalidSyntax("--retries cannot be negative (" + retries + ")");
        }
        return retries;
    }

    private static Instruction shell(Node node) {
        List<String> args = atLeastOne(node);
        if (!node.json()) {
            throw new InvalidSyntax("SHELL requires the arguments to be in JSON form");
        }
        return new Instruction.Shell(args);
    }

    /** Exec form as is; the shell form arrives as one string, or none for a bare {@code CMD}. */
    private static Command command(Node node, List<String> args) {
        return node.json() ? new Command.ExecForm(args) : new Command.ShellForm(String.join(" ", args));
    }

    /** ENV and LABEL arguments arrive as (key, value, separator) triples from the parser. */
    private static List<KeyValue> pairs(Node node) {
        List<String> args = atLeastOne(node);
        List<KeyValue> pairs = new ArrayList<>();
        for (int i = 0; i + 2 < args.size(); i += 3) {
            if (args.get(i).isEmpty()) {
                throw new InvalidSyntax(node.keyword() + " names can not be blank");
            }
            pairs.add(new KeyValue(args.get(i), args.get(i + 1)));
        }
        return pairs;
    }

    private static List<String> atLeastOne(Node node) {
        if (node.args().isEmpty()) {
            throw new InvalidSyntax(node.keyword() + " requires at least one argument");
        }
        return node.args();
    }

    private static String exactlyOne(Node node) {
        if (node.args().size() != 1) {
            throw new InvalidSyntax(node.keyword() + " requires exactly one argument");
        }
        return node.args().get(0);
    }
}
