package dev.kiln.app.wiring;

import dev.kiln.builder.gateway.BuildRecord;
import dev.kiln.builder.gateway.BuildService;
import dev.kiln.builder.gateway.BuildState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import org.jboss.logging.Logger;

/** The build queue on /q/metrics ({@code kiln_builds_*}), and one INFO line per build state change. */
@ApplicationScoped
public class BuildMetrics {
    private static final Logger LOG = Logger.getLogger(BuildMetrics.class);
    static final java.util.regex.Pattern LAYER_STEP = java.util.regex.Pattern.compile("(?i)(RUN|COPY|ADD)\\s");

    @Inject
    MeterRegistry registry;

    @Inject
    BuildService builds;

    void register(@Observes StartupEvent event) {
        Gauge.builder("kiln.builds.queued", builds, BuildService::queued)
                .description("Builds waiting for a slot (kiln.builds.max-concurrent)").register(registry);
        Gauge.builder("kiln.builds.running", builds, BuildService::running)
                .description("Builds running now").register(registry);
        for (BuildState state : BuildState.values()) {
            if (state.ended()) {
                finished(state); // every outcome exists from the start, so rate() and absent() behave
                duration(state);
            }
        }
        for (String cache : new String[] {"hit", "miss"}) {
            steps(cache);
        }
        notUploaded().increment(0);
        builds.listen(this::changed);
    }

    private void changed(BuildRecord before, BuildRecord after) {
        if (before == null || before.state() != after.state()) {
            LOG.infof("build %s %s%s", after.id(), after.state().wireName(),
                    after.state() == BuildState.SUCCEEDED ? ": " + after.digest()
                            : after.error() != null ? ": " + after.error() : "");
        }
        if (after.steps().size() > (before == null ? 0 : before.steps().size()) && after.spec().cache()) {
            BuildRecord.Step step = after.steps().get(after.steps().size() - 1);
            if (LAYER_STEP.matcher(step.instruction()).lookingAt()) { // FROM and metadata steps have no layer to cache
                steps(step.cached() ? "hit" : "miss").increment();
            }
        }
        if (before != null && !before.state().ended() && after.state().ended()) {
            finished(after.state()).increment();
            if (after.startedAt() != null && after.finishedAt() != null) {
                duration(after.state()).record(Duration.between(after.startedAt(), after.finishedAt()));
            }
            if (after.report() != null) {
                notUploaded().increment(after.report().bytesNotUploaded());
            }
        }
    }

    private Timer duration(BuildState state) {
        return Timer.builder("kiln.builds.duration")
                .description("Time from a build's start to its end (waiting in the queue not included), by outcome")
                .tag("outcome", state.wireName())
                .publishPercentileHistogram()
                .register(registry);
    }

    private Counter finished(BuildState state) {
        return Counter.builder("kiln.builds.finished").description("Builds that ended, by outcome")
                .tag("outcome", state.wireName()).register(registry);
    }

    private Counter steps(String cache) {
        return Counter.builder("kiln.builds.cached.steps")
                .description("Steps of builds with the layer cache on, by whether their layer came from the cache (cache=hit|miss)")
                .tag("cache", cache).register(registry);
    }

    private Counter notUploaded() {
        return Counter.builder("kiln.builds.not.uploaded").baseUnit("bytes")
                .description("Bytes of blobs a build did not have to upload: the destination had them, or they were linked or mounted")
                .register(registry);
    }
}
