package dev.kiln.app.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.app.config.ConfigurationProblem;
import dev.kiln.builder.gateway.RetentionPolicy;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code kiln.builds.retention.*} as {@code kiln serve} reads them, before anything is pruned. */
class RetentionSettingsTest {
    @Test
    void theDefaultsAreAWeekAndAThousand() {
        assertEquals(new RetentionPolicy(Duration.ofDays(7), 1000), BuildPruning.policy("7d", "1000"));
        assertEquals(new RetentionPolicy(Duration.ofHours(36), 5), BuildPruning.policy("PT36H", " 5 "));
    }

    @Test
    void zeroOrNoneTurnsABoundOff() {
        assertEquals(new RetentionPolicy(null, 1000), BuildPruning.policy("none", "1000"));
        assertEquals(new RetentionPolicy(null, 1000), BuildPruning.policy("0", "1000"));
        assertEquals(new RetentionPolicy(null, 1000), BuildPruning.policy("0d", "1000"));
        assertEquals(new RetentionPolicy(Duration.ofDays(7), 0), BuildPruning.policy("7d", "none"));
        assertEquals(RetentionPolicy.KEEP_ALL, BuildPruning.policy("none", "0"));
    }

    @Test
    void aBadValueIsOneLineNamingTheSetting() {
        assertEquals("kiln.builds.retention.max-age=a week: not a duration (use e.g. 12h, 7d, 30d; 0 or none keeps builds of any age)",
                assertThrows(ConfigurationProblem.class, () -> BuildPruning.policy("a week", "1000")).getMessage());
        assertEquals("kiln.builds.retention.max-age=-PT1H: must not be negative (0 or none keeps builds of any age)",
                assertThrows(ConfigurationProblem.class, () -> BuildPruning.policy("-PT1H", "1000")).getMessage());
        for (String bad : new String[] {"-1", "lots", "2.5"}) {
            assertEquals("kiln.builds.retention.max-finished=" + bad + ": must be a whole number, 1 or more (0 or none keeps any number)",
                    assertThrows(ConfigurationProblem.class, () -> BuildPruning.policy("7d", bad)).getMessage());
        }
    }
}
