package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ArgScopeTest {

    private static final BuildPlatforms PLATFORMS =
            new BuildPlatforms(Platform.parse("linux/amd64"), Platform.parse("linux/arm64/v8"));

    /** Replays a Dockerfile: the global scope, then every ARG/ENV of the last stage. */
    private static ArgScope lastStage(String text, Map<String, String> buildArgs, Map<String, String> imageEnv) {
        Stages stages = Stages.of(DockerfileParser.parse(text));
        ArgScope scope = ArgScope.global(stages.metaArgs(), buildArgs, PLATFORMS, stages.expander()).stage(imageEnv);
        for (Step step : stages.target(null).steps()) {
            if (step.instruction() instanceof Instruction.Arg arg) {
                scope.declare(arg);
            } else if (step.instruction() instanceof Instruction.Env env) {
                scope.setEnv(env);
            }
        }
        return scope;
    }

    private static ArgScope global(String text, Map<String, String> buildArgs) {
        Stages stages = Stages.of(DockerfileParser.parse(text));
        return ArgScope.global(stages.metaArgs(), buildArgs, PLATFORMS, stages.expander());
    }

    @Test
    void metaArgsAndPlatformArgsExpandFromLines() {
        ArgScope g = global("ARG REG=docker.io\nARG IMG=${REG}/alpine\nFROM $IMG\n", Map.of());
        assertEquals("docker.io/alpine:arm64", g.expand("${IMG}:$TARGETARCH"));
        assertEquals("linux/amd64", g.expand("$BUILDPLATFORM"));
        assertEquals("v8", g.expand("$TARGETVARIANT"));
    }

    @Test
    void buildArgOverridesMetaDefaultOnlyWhenDeclared() {
        ArgScope g = global("ARG IMG=alpine\nFROM $IMG\n", Map.of("IMG", "debian", "OTHER", "x"));
        assertEquals("debian", g.expand("$IMG"));
        assertEquals("", g.expand("$OTHER"));
    }

    @Test
    void metaArgsAreInvisibleInAStageUntilRedeclared() {
        String file = "ARG VERSION=1.2\nFROM alpine\nENV BEFORE=$VERSION\nARG VERSION\nENV AFTER=$VERSION\n";
        ArgScope s = lastStage(file, Map.of(), Map.of());
        assertEquals("", s.variables().get("BEFORE"));
        assertEquals("1.2", s.variables().get("AFTER"));
    }

    @Test
    void stageDefaultBeatsMetaValueAndBuildArgBeatsBoth() {
        String file = "ARG V=meta\nFROM alpine\nARG V=stage\n";
        assertEquals("stage", lastStage(file, Map.of(), Map.of()).expand("$V"));
        assertEquals("cli", lastStage(file, Map.of("V", "cli"), Map.of()).expand("$V"));
    }

    @Test
    void automaticPlatformArgsMustBeDeclaredInAStage() {
        assertFalse(lastStage("FROM alpine\n", Map.of(), Map.of()).variables().containsKey("TARGETOS"));
        assertEquals("linux", lastStage("FROM alpine\nARG TARGETOS\n", Map.of(), Map.of()).expand("$TARGETOS"));
    }

    @Test
    void envWinsOverArgOfTheSameName() {
        assertEquals("env", lastStage("FROM a\nARG X=arg\nENV X=env\n", Map.of(), Map.of()).expand("$X"));
        assertEquals("env", lastStage("FROM a\nENV X=env\nARG X=arg\n", Map.of("X", "cli"), Map.of()).expand("$X"));
    }

    @Test
    void argDefaultsSeeEarlierArgsAndEnv() {
        ArgScope s = lastStage("FROM a\nENV ROOT=/opt\nARG A=1 B=${A}2 DIR=$ROOT/app\n", Map.of(), Map.of());
        assertEquals("12", s.expand("$B"));
        assertEquals("/opt/app", s.expand("$DIR"));
    }

    @Test
    void envPairsSeeTheEnvironmentBeforeTheInstruction() {
        ArgScope s = lastStage("FROM a\nENV abc=hello\nENV abc=bye def=$abc\n", Map.of(), Map.of());
        assertEquals("bye", s.env().get("abc"));
        assertEquals("hello", s.env().get("def"));
    }

    @Test
    void imageEnvIsVisibleAndExtended() {
        ArgScope s = lastStage("FROM a\nENV PATH=/app/bin:$PATH\n", Map.of(), Map.of("PATH", "/usr/bin"));
        assertEquals("/app/bin:/usr/bin", s.env().get("PATH"));
    }

    @Test
    void argsAreNotImageEnv() {
        ArgScope s = lastStage("FROM a\nARG TOKEN=secret\n", Map.of(), Map.of());
        assertEquals("secret", s.variables().get("TOKEN"));
        assertFalse(s.env().containsKey("TOKEN"));
    }

    @Test
    void backtickEscapeDirectiveAppliesToExpansion() {
        ArgScope s = lastStage("# escape=`\nFROM a\nARG P=C:\\dir\nENV Q=`$P\n", Map.of(), Map.of());
        assertEquals("C:\\dir", s.expand("$P"));
        assertEquals("$P", s.env().get("Q"));
    }
}
