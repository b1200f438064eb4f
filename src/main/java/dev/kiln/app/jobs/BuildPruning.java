package dev.kiln.app.jobs;

import dev.kiln.app.config.ConfigurationProblem;
import dev.kiln.app.config.Durations;
import dev.kiln.app.config.KilnConfig;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.RetentionPolicy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The retention of finished builds ({@code kiln.builds.retention.*}): applied at start-up, where it
 * prunes what the store already holds beyond it; the service prunes again after each build ends, and
 * this job every ten minutes, so builds also age out on a gateway nobody builds on. One log line and
 * the counter {@code kiln_builds_pruned_total} per prune that let builds go.
 */
@ApplicationScoped
public class BuildPruning {
    private static final Logger LOG = Logger.getLogger(BuildPruning.class);
    private static final String MAX_AGE = "kiln.builds.retention.max-age";
    private static final String MAX_FINISHED = "kiln.builds.retention.max-finished";

    @Inject
    BuildService builds;

    @Inject
    KilnConfig config;

    @Inject
    MeterRegistry registry;

    void onStart(@Observes StartupEvent event) {
        KilnConfig.Retention settings = config.builds().retention();
        RetentionPolicy policy = policy(settings.maxAge(), settings.maxFinished());
        Counter pruned = Counter.builder("kiln.builds.pruned")
                .description("Finished builds let go by the retention policy (kiln.builds.retention.*): record, log and directory")
                .register(registry);
        String rule = MAX_AGE + "=" + settings.maxAge() + ", " + MAX_FINISHED + "=" + settings.maxFinished();
        LOG.infof("builds: %s", policy.keepsAll() ? "every finished build is kept (" + rule + ")" : "finished builds are pruned by " + rule);
        builds.retention().apply(policy, ids -> {
            pruned.increment(ids.size());
            LOG.infof("builds: pruned %d finished builds by %s, oldest first: %s%s", ids.size(), rule,
                    String.join(" ", ids.subList(0, Math.min(ids.size(), 5))), ids.size() > 5 ? " …" : "");
        });
    }

    @Scheduled(every = "10m", delay = 10, delayUnit = TimeUnit.MINUTES, concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void prune() {
        builds.retention().prune();
    }

    /** The policy the two settings describe, or one line naming the setting a person must fix. */
    public static RetentionPolicy policy(String maxAge, String maxFinished) {
        Duration age = null;
        if (!off(maxAge)) {
            try {
                age = Durations.parse(maxAge);
            } catch (IllegalArgumentException e) {
                throw problem(MAX_AGE, maxAge, "not a duration (use e.g. 12h, 7d, 30d; 0 or none keeps builds of any age)", e);
            }
            if (age.isNegative()) {
                throw problem(MAX_AGE, maxAge, "must not be negative (0 or none keeps builds of any age)", null);
            }
            age = age.isZero() ? null : age;
        }
        int count = 0;
        if (!off(maxFinished)) {
            try {
                count = Integer.parseInt(maxFinished.strip());
            } catch (NumberFormatException e) {
                count = -1;
            }
            if (count < 0) {
                throw problem(MAX_FINISHED, maxFinished, "must be a whole number, 1 or more (0 or none keeps any number)", null);
            }
        }
        return new RetentionPolicy(age, count);
    }

    private static boolean off(String setting) {
        String s = setting.strip();
        return s.equals("none") || s.matches("0+");
    }

    private static ConfigurationProblem problem(String key, String value, String why, Throwable cause) {
        return new ConfigurationProblem(key + "=" + value + ": " + why, cause);
    }
}
