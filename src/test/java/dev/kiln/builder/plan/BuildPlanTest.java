package dev.kiln.builder.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void eachStageKnowsTheStagesItWaitsFor() {
        BuildPlan plan = BuildPlan.of("""
                FROM busybox AS a
                FROM busybox AS b
                RUN --mount=type=bind,from=a,target=/a cat /a/x
                FROM busybox AS c
                COPY --from=0 /x /x
                FROM b AS d
                COPY --from=c /x /y
                COPY --from=busybox:1.36 /bin/busybox /bin/
                """, "Dockerfile", Map.of(), null, null);
        List<String> deps = plan.stages().stream()
                .map(s -> s.name() + "<" + String.join(",", plan.dependencies(s).stream().map(d -> d.name()).toList()))
                .toList();
        assertEquals(List.of("a<", "b<a", "c<a", "d<b,c"), deps);
        assertTrue(plan.dependsOn(plan.stages().get(3), plan.stages().get(0)), "d needs a through b and c");
        assertFalse(plan.dependsOn(plan.stages().get(1), plan.stages().get(2)), "b and c are independent");
        var triggers = dev.kiln.builder.dockerfile.Stages.of(dev.kiln.builder.dockerfile.DockerfileParser.parse(
                "FROM x\nCOPY --from=c /x /x\nRUN --mount=from=b,target=/b true\nCOPY --from=alpine /y /y\n", "t"))
                .stages().get(0).steps();
        assertEquals(List.of("c", "b"), plan.stagesNamedBy(triggers).stream().map(s -> s.name()).toList(),
                "an ONBUILD trigger's --from names stages too; an image is not one");
    }
}
