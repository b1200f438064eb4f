package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StagesTest {

    private static final BuildPlatforms AMD64 =
            new BuildPlatforms(Platform.parse("linux/amd64"), Platform.parse("linux/amd64"));

    private static Stages stages(String text) {
        return Stages.of(DockerfileParser.parse(text));
    }

    private static ArgScope global(Stages stages, Map<String, String> buildArgs) {
        return ArgScope.global(stages.metaArgs(), buildArgs, AMD64, stages.expander());
    }

    private static List<String> needed(Stages stages, String target) {
        return stages.dependencies(target, global(stages, Map.of())).stream().map(Stage::displayName).toList();
    }

    @Test
    void splitsIntoStagesWithMetaArgs() {
        Stages s = stages("ARG V=1\nFROM alpine:$V AS Base\nRUN a\nFROM base\nCOPY x /y\n");
        assertEquals(1, s.metaArgs().size());
        assertEquals(2, s.stages().size());
        Stage first = s.stages().get(0);
        assertEquals(0, first.index());
        assertEquals("base", first.name());
        assertInstanceOf(Instruction.Run.class, first.steps().get(0).instruction());
        assertEquals("1", s.stages().get(1).displayName());
        assertEquals(3, first.steps().get(0).node().startLine());
    }

    @Test
    void onlyArgMayPrecedeTheFirstFrom() {
        DockerfileParseException e = assertThrows(DockerfileParseException.class, () -> stages("ENV A=1\nFROM x\n"));
        assertEquals("Dockerfile:1:1: no build stage in current context", e.getMessage());
    }

    @Test
    void stageNamesMustBeUnique() {
        DockerfileParseException e = assertThrows(DockerfileParseException.class,
                () -> stages("FROM a AS x\nFROM b AS X\n"));
        assertEquals(2, e.line());
        assertEquals("duplicate stage name \"x\"", e.reason());
    }

    @Test
    void flagsKilnCannotCarryOutAreRefusedWithTheirLine() {
        assertEquals("Dockerfile:2:1: checksum can't be specified for multiple sources", assertThrows(DockerfileParseException.class,
                () -> stages("FROM a\nADD --checksum=sha256:0123 http://127.0.0.1/a http://127.0.0.1/b /a/\n")).getMessage());
        assertEquals("Dockerfile:2:1: RUN --security=insecure needs the security.insecure entitlement, which Kiln never grants",
                assertThrows(DockerfileParseException.class, () -> stages("FROM a\nRUN --security=insecure true\n")).getMessage());
        stages("FROM a\nCOPY --link --parents --exclude=*.tmp a /b\nADD --checksum=sha256:0123 --keep-git-dir https://h/r.git /r\nRUN --security=sandbox --network=none true\n");
    }

    @Test
    void invalidInstructionsSurfaceWithTheirLine() {
        DockerfileParseException e = assertThrows(DockerfileParseException.class,
                () -> stages("FROM a\nCOPY --form=b x /y\n"));
        assertEquals("Dockerfile:2:1: unknown flag: --form", e.getMessage());
    }

    @Test
    void targetDefaultsToTheLastStageAndUnknownTargetIsNamed() {
        Stages s = stages("FROM a AS one\nFROM b AS two\n");
        assertEquals("two", s.target(null).name());
        assertEquals("one", s.target("ONE").name());
        DockerfileException e = assertThrows(DockerfileException.class, () -> s.target("three"));
        assertEquals("target stage \"three\" could not be found", e.getMessage());
    }

    @Test
    void dependenciesFollowFromCopyAndMounts() {
        Stages s = stages("""
                FROM alpine AS base
                FROM base AS deps
                FROM golang AS tools
                FROM alpine AS unused
                FROM busybox AS assets
                FROM deps AS app
                COPY --from=tools /go/bin/x /x
                RUN --mount=type=bind,from=4,target=/assets true
                COPY --from=nginx:latest /etc/nginx /etc/nginx
                """);
        assertEquals(List.of("base", "deps", "tools", "assets", "app"), needed(s, "app"));
        assertEquals(List.of("base", "deps"), needed(s, "deps"));
        assertEquals(List.of("unused"), needed(s, "unused"));
    }

    @Test
    void fromExpandsMetaArgsToFindTheBaseStage() {
        Stages s = stages("ARG BASE=builder\nFROM alpine AS builder\nFROM alpine AS other\nFROM ${BASE}\n");
        assertEquals(List.of("builder", "2"), needed(s, null));
        ArgScope other = ArgScope.global(s.metaArgs(), Map.of("BASE", "other"), AMD64, s.expander());
        assertEquals(List.of("other", "2"),
                s.dependencies(null, other).stream().map(Stage::displayName).toList());
    }

    @Test
    void fromOnlyReferencesEarlierStages() {
        Stages s = stages("FROM later AS first\nFROM alpine AS later\n");
        assertEquals(List.of("first"), needed(s, "first"));
        assertTrue(s.baseStage(s.stages().get(0), global(s, Map.of())).isEmpty());
    }

    @Test
    void circularCopyIsAnError() {
        Stages s = stages("FROM a AS x\nCOPY --from=y / /\nFROM b AS y\nCOPY --from=x / /\n");
        DockerfileParseException e = assertThrows(DockerfileParseException.class, () -> needed(s, "y"));
        assertEquals("circular dependency detected on stage: y", e.reason());
    }

    @Test
    void stageIndexOutOfRangeIsAnError() {
        Stages s = stages("FROM a\nCOPY --from=3 / /\n");
        DockerfileParseException e = assertThrows(DockerfileParseException.class, () -> needed(s, null));
        assertEquals(2, e.line());
    }

    @Test
    void aFileWithoutFromHasNoStages() {
        assertThrows(DockerfileException.class, () -> stages("ARG A=1\n"));
    }
}
