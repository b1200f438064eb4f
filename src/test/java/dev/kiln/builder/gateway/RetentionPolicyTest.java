package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which finished builds a retention policy lets go: by age, by count, both, never an unfinished one. */
class RetentionPolicyTest {
    private static final BuildSpec SPEC = new BuildSpec("git://git.example/app.git", "Dockerfile", Map.of(), null, Map.of(),
            List.of("local/app:1"), false, null);
    private static final Instant NOW = Instant.parse("2026-12-03T12:00:00Z");

    /** Build {@code n}, finished {@code daysAgo} days before {@link #NOW}. */
    static BuildRecord finished(int n, double daysAgo, BuildState end) {
        Instant at = NOW.minusSeconds((long) (daysAgo * 86400));
        BuildRecord running = BuildRecord.queued(String.format("%020x", n), SPEC, at.minusSeconds(60)).running(at.minusSeconds(30));
        return end == BuildState.SUCCEEDED ? running.succeeded(at, "sha256:" + "a".repeat(64), List.of(), null)
                : running.ended(end, at, "why");
    }

    private static List<String> ids(List<BuildRecord> records) {
        return records.stream().map(BuildRecord::id).toList();
    }

    private static final BuildRecord A = finished(1, 30, BuildState.SUCCEEDED);
    private static final BuildRecord B = finished(2, 8, BuildState.FAILED);
    private static final BuildRecord C = finished(3, 6.9, BuildState.CANCELLED);
    private static final BuildRecord D = finished(4, 1, BuildState.SUCCEEDED);
    private static final BuildRecord E = finished(5, 0.01, BuildState.SUCCEEDED);
    /** In no particular order, as a map's values come. */
    private static final List<BuildRecord> ALL = List.of(D, A, E, C, B);

    @Test
    void aBuildThatFinishedLongerAgoThanMaxAgeGoesOldestFirst() {
        RetentionPolicy week = new RetentionPolicy(Duration.ofDays(7), 0);
        assertEquals(ids(List.of(A, B)), ids(week.expired(ALL, NOW, id -> false)));
    }

    @Test
    void onlyTheNewestMaxFinishedStay() {
        RetentionPolicy two = new RetentionPolicy(null, 2);
        assertEquals(ids(List.of(A, B, C)), ids(two.expired(ALL, NOW, id -> false)));
        assertEquals(List.of(), new RetentionPolicy(null, 5).expired(ALL, NOW, id -> false), "five finished builds fit in five");
    }

    @Test
    void withBothBoundsABuildGoesWhenEitherLetsItGo() {
        assertEquals(ids(List.of(A, B, C)), ids(new RetentionPolicy(Duration.ofDays(7), 2).expired(ALL, NOW, id -> false)),
                "the count takes C although it is younger than a week");
        assertEquals(ids(List.of(A, B, C, D)), ids(new RetentionPolicy(Duration.ofHours(12), 4).expired(ALL, NOW, id -> false)),
                "the age takes D although four would fit");
    }

    @Test
    void withBothBoundsOffNothingGoes() {
        assertTrue(RetentionPolicy.KEEP_ALL.keepsAll());
        assertEquals(List.of(), RetentionPolicy.KEEP_ALL.expired(ALL, NOW, id -> false));
    }

    @Test
    void queuedAndRunningBuildsNeverGoAndDoNotCountAgainstMaxFinished() {
        BuildRecord queued = BuildRecord.queued(String.format("%020x", 10), SPEC, NOW.minus(Duration.ofDays(90)));
        BuildRecord running = BuildRecord.queued(String.format("%020x", 11), SPEC, NOW.minus(Duration.ofDays(90)))
                .running(NOW.minus(Duration.ofDays(89)));
        RetentionPolicy strict = new RetentionPolicy(Duration.ofSeconds(1), 1);
        assertEquals(List.of(), strict.expired(List.of(queued, running), NOW, id -> false));
        assertEquals(ids(List.of(A)), ids(new RetentionPolicy(null, 4).expired(List.of(queued, running, A, B, C, D, E), NOW, id -> false)));
    }

    @Test
    void aBusyBuildStaysThisTimeAndStillCounts() {
        Set<String> reading = Set.of(A.id());
        assertEquals(ids(List.of(B)), ids(new RetentionPolicy(null, 3).expired(ALL, NOW, reading::contains)),
                "A stays while its log is read; C is not taken in its place");
    }

    @Test
    void boundsThatMeanNothingAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(Duration.ofDays(-1), 0));
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(Duration.ZERO, 0));
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(null, -1));
    }
}
