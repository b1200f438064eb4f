package dev.kiln.app.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.app.config.ConfigurationProblem;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code kiln.builds.max-parallel-stages} as the gateway reads it, before any build runs. */
class MaxParallelStagesSettingTest {
    @Test
    void aWholeNumberIsTaken() {
        assertEquals(Optional.of(1), BuildsProducer.maxParallelStages(Optional.of("1")));
        assertEquals(Optional.of(6), BuildsProducer.maxParallelStages(Optional.of(" 6 ")));
    }

    @Test
    void unsetLeavesTheDefaultToTheRunner() {
        assertEquals(Optional.empty(), BuildsProducer.maxParallelStages(Optional.empty()));
    }

    @Test
    void aBadValueIsOneLineNamingTheSetting() {
        for (String bad : new String[] {"0", "-2", "lots", "2.5"}) {
            ConfigurationProblem problem = assertThrows(ConfigurationProblem.class,
                    () -> BuildsProducer.maxParallelStages(Optional.of(bad)));
            assertEquals("kiln.builds.max-parallel-stages=" + bad + ": must be a whole number, 1 or more (1 builds stages in file order)",
                    problem.getMessage());
        }
    }
}
