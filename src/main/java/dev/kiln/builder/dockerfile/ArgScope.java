package dev.kiln.builder.dockerfile;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which variables an instruction can see, with BuildKit's scoping rules:
 * <ul>
 *   <li>The global scope (before the first FROM) holds the automatic platform ARGs and the meta
 *       ARGs; it is used to expand FROM lines.</li>
 *   <li>A stage starts with only its base image's ENV. A global value becomes visible in a stage
 *       only once the stage declares it with {@code ARG NAME}; this includes TARGETARCH and
 *       the other automatic ARGs.</li>
 *   <li>An ARG's value is the {@code --build-arg} if given, else its own default (expanded when
 *       declared), else the global value of that name.</li>
 *   <li>ENV wins over an ARG of the same name.</li>
 * </ul>
 * A stage scope is mutable: apply its ARG and ENV instructions in order while dispatching.
 */
public final class ArgScope {

    private final ShellWordExpander expander;
    private final Map<String, String> buildArgs;
    /** Seen without declaration: the automatic ARGs in the global scope, nothing in a stage. */
    private final Map<String, String> implicit;
    /** Where {@code ARG NAME} without a default takes its value from. */
    private final Map<String, String> inherited;
    private final Map<String, String> args = new LinkedHashMap<>();
    private final Map<String, String> env = new LinkedHashMap<>();

    private ArgScope(ShellWordExpander expander, Map<String, String> buildArgs, Map<String, String> implicit,
                     Map<String, String> inherited) {
        this.expander = expander;
        this.buildArgs = Map.copyOf(buildArgs);
        this.implicit = Map.copyOf(implicit);
        this.inherited = Map.copyOf(inherited);
    }

    /**
     * The scope of FROM lines.
     *
     * @param metaArgs  ARG instructions before the first FROM, in order
     * @param buildArgs {@code --build-arg} values; they only apply to declared ARGs
     */
    public static ArgScope global(List<Instruction.Arg> metaArgs, Map<String, String> buildArgs,
                                  BuildPlatforms platforms, ShellWordExpander expander) {
        Map<String, String> automatic = platforms.automaticArgs();
        ArgScope scope = new ArgScope(expander, buildArgs, automatic, automatic);
        metaArgs.forEach(scope::declare);
        return scope;
    }

    /** A fresh scope for a stage whose base image has {@code imageEnv}. */
    public ArgScope stage(Map<String, String> imageEnv) {
        ArgScope stage = new ArgScope(expander, buildArgs, Map.of(), variables());
        stage.env.putAll(imageEnv);
        return stage;
    }

    /** Applies an ARG instruction; names are processed left to right, so later defaults see earlier ones. */
    public void declare(Instruction.Arg arg) {
        for (ArgDeclaration d : arg.declarations()) {
            String value;
            if (buildArgs.containsKey(d.name())) {
                value = buildArgs.get(d.name());
            } else if (d.hasDefault()) {
                value = expander.expand(d.defaultValue(), variables());
            } else {
                value = inherited.get(d.name());
            }
            if (value != null) {
                args.put(d.name(), value);
            }
        }
    }

    /** Applies an ENV instruction; all its pairs are expanded against the environment before it. */
    public void setEnv(Instruction.Env instruction) {
        Map<String, String> before = variables();
        Map<String, String> updates = new LinkedHashMap<>();
        for (KeyValue kv : instruction.variables()) {
            updates.put(expander.expand(kv.key(), before), expander.expand(kv.value(), before));
        }
        env.putAll(updates);
    }

    /** What {@code $NAME} resolves to here; also the environment RUN commands see. */
    public Map<String, String> variables() {
        Map<String, String> all = new LinkedHashMap<>(implicit);
        all.putAll(args);
        all.putAll(env);
        return all;
    }

    /** The ENV part only (base image plus ENV instructions), as it goes into the image config. */
    public Map<String, String> env() {
        return new LinkedHashMap<>(env);
    }

    public String expand(String word) {
        return expander.expand(word, variables());
    }

    public List<String> expandWords(String line) {
        return expander.expandWords(line, variables());
    }
}
