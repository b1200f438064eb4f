package dev.kiln.builder.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The plan knows, before anything runs, which stages the target needs and which images they pull. */
class BuildPlanTest {
    private static final String DOCKERFILE = """
            ARG BASE=alpine:3.20
            FROM $BASE AS deps
            RUN echo deps
            FROM golang:1.22 AS unused
            RUN echo never
            FROM deps AS app
            COPY --from=busybox:1.36 /bin/busybox /bin/
            COPY --from=deps /etc/os-release /
            FROM scratch AS final
            COPY --from=app /bin/busybox /
            """;

    @Test
    void onlyTheStagesTheTargetNeedsInOrderWithTheImagesTheyPull() {
        BuildPlan plan = BuildPlan.of(DOCKERFILE, "Dockerfile", Map.of("BASE", "debian:12"), "final", "linux/arm64");
        assertEquals(List.of("deps", "app", "final"), plan.stages().stream().map(s -> s.name()).toList());
        assertEquals(List.of("debian:12", "busybox:1.36"), plan.images());
        assertEquals("linux/arm64", plan.targetPlatform().toString());
        assertEquals("deps", plan.baseStage(plan.stages().get(1)).orElseThrow().name());
    }

    @Test
    void anEarlierTargetLeavesTheLaterStagesOut() {
        BuildPlan plan = BuildPlan.of(DOCKERFILE, "Dockerfile", Map.of(), "deps", null);
        assertEquals(List.of("deps"), plan.stages().stream().map(s -> s.name()).toList());
        assertEquals(List.of("alpine:3.20"), plan.images());
        assertEquals(BuildPlan.hostPlatform(), plan.targetPlatform().toString());
    }
}
