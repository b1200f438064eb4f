package dev.kiln.app.kubernetes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.kiln.app.cli.BuildCommand;
import dev.kiln.builder.gateway.BuildSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code kiln.builds.max-parallel-stages} travels into the Build Jobs as the executor's own flag. */
class BuildJobParallelStagesTest {
    private static final BuildSpec SPEC = new BuildSpec("git://git.example/app.git#main", null, null, null, null, null, false, null);

    private static CommandLine.ParseResult parsedArgs(Integer maxParallelStages) {
        BuildJobSpec.Settings settings = new BuildJobSpec.Settings("builds", "img", List.of(), "kiln:5000", false, false,
                "cache/layers", null, null, "namespaces", Map.of(), Map.of(), Duration.ofHours(1), Duration.ofHours(1), "kiln",
                List.of(), false, List.of(), maxParallelStages);
        List<String> args = BuildJobSpec.job("0123456789abcdef0123", SPEC, SPEC.context(), settings).getSpec().getTemplate()
                .getSpec().getContainers().get(0).getArgs();
        assertEquals("build", args.get(0));
        return new CommandLine(new BuildCommand()).parseArgs(args.subList(1, args.size()).toArray(String[]::new));
    }

    @Test
    void theExecutorRunsAsManyStagesAtOnceAsTheGatewaySays() {
        assertEquals(Integer.valueOf(1), parsedArgs(1).matchedOptionValue("--max-parallel-stages", (Integer) null));
        assertEquals(Integer.valueOf(3), parsedArgs(3).matchedOptionValue("--max-parallel-stages", (Integer) null));
    }

    @Test
    void unsetTheExecutorCountsThePodsOwnProcessors() {
        assertFalse(parsedArgs(null).hasMatchedOption("--max-parallel-stages"));
    }
}
