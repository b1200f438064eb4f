package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class InstructionParserTest {

    /** Parses a file and returns the typed form of its last instruction. */
    private static Instruction last(String text) {
        Dockerfile df = DockerfileParser.parse(text);
        return InstructionParser.parse(df.nodes().get(df.nodes().size() - 1), df.source());
    }

    private static DockerfileParseException failure(String text) {
        return assertThrows(DockerfileParseException.class, () -> last(text));
    }

    @Nested
    class FlagValidation {

        @Test
        void unknownFlagIsNamedWithItsLine() {
            DockerfileParseException e = failure("FROM x\n\nRUN --bogus=1 make\n");
            assertEquals("Dockerfile:3:1: unknown flag: --bogus", e.getMessage());
        }

        @Test
        void flagOfAnotherInstructionSaysWhereItBelongs() {
            DockerfileParseException e = failure("FROM x\nADD --from=build a /b\n");
            assertEquals(2, e.line());
            assertEquals("flag --from is not valid for ADD (valid for COPY)", e.reason());
        }

        @Test
        void instructionsWithoutFlagsRejectThem() {
            assertEquals("flag --link is not valid for WORKDIR (valid for ADD, COPY)",
                    failure("WORKDIR --link /a").reason());
        }

        @Test
        void duplicateSingleValueFlagIsAnError() {
            assertEquals("duplicate flag specified: --from", failure("COPY --from=a --from=b x /y").reason());
        }

        @Test
        void stringFlagNeedsAValue() {
            assertEquals("missing a value on flag: --chown", failure("COPY --chown a /b").reason());
        }

        @Test
        void boolFlagAcceptsBareTrueAndFalse() {
            assertTrue(((Instruction.Copy) last("COPY --link a /b")).link());
            assertTrue(((Instruction.Copy) last("COPY --link=TRUE a /b")).link());
            assertFalse(((Instruction.Copy) last("COPY --link=false a /b")).link());
            assertEquals("expecting boolean value for flag --link, not: yes", failure("COPY --link=yes a /b").reason());
            assertEquals("missing a value on flag: --link", failure("COPY --link= a /b").reason());
        }

        @Test
        void repeatableFlagsCollectValues() {
            Instruction.Copy copy = (Instruction.Copy) last("COPY --exclude=*.md --exclude=docs . /app");
            assertEquals(List.of("*.md", "docs"), copy.excludes());
        }
    }

    @Nested
    class From {

        @Test
        void imageOnly() {
            assertEquals(new Instruction.From("alpine:3", null, null), last("FROM alpine:3"));
        }

        @Test
        void platformAndLowerCasedStageName() {
            assertEquals(new Instruction.From("golang", "$BUILDPLATFORM", "builder"),
                    last("FROM --platform=$BUILDPLATFORM golang AS Builder"));
        }

        @Test
        void wrongArgumentCount() {
            assertEquals("FROM requires either one or three arguments", failure("FROM a b").reason());
            assertEquals("FROM requires either one or three arguments", failure("FROM a for b").reason());
        }

        @Test
        void invalidStageName() {
            assertTrue(failure("FROM a AS 1st").reason().startsWith("invalid name for build stage: \"1st\""));
        }
    }

    @Nested
    class Run {

        @Test
        void shellFormWithDefaults() {
            Instruction.Run run = (Instruction.Run) last("RUN echo hi");
            assertEquals(new Command.ShellForm("echo hi"), run.command());
            assertEquals("default", run.network());
            assertEquals("sandbox", run.security());
            assertTrue(run.mounts().isEmpty());
        }

        @Test
        void execFormAndOptions() {
            Instruction.Run run = (Instruction.Run) last(
                    "RUN --network=none --security=insecure --mount=type=cache,target=/root/.m2 [\"mvn\", \"package\"]");
            assertEquals(new Command.ExecForm(List.of("mvn", "package")), run.command());
            assertEquals("none", run.network());
            assertEquals("insecure", run.security());
            assertEquals(Mount.Type.CACHE, run.mounts().get(0).type());
        }

        @Test
        void invalidNetworkAndSecurity() {
            assertEquals("unsupported network mode \"bridge\"", failure("RUN --network=bridge x").reason());
            assertEquals("unsupported security mode \"root\"", failure("RUN --security=root x").reason());
        }

        @Test
        void invalidMountIsReportedAtTheRunLine() {
            DockerfileParseException e = failure("FROM x\nRUN --mount=type=nfs,target=/a make\n");
            assertEquals(2, e.line());
            assertEquals("unsupported mount type \"nfs\"", e.reason());
        }

        @Test
        void heredocsAreCarried() {
            Instruction.Run run = (Instruction.Run) last("RUN <<EOF\nset -e\nEOF\n");
            assertEquals(new Command.ShellForm("<<EOF"), run.command());
            assertEquals("set -e\n", run.heredocs().get(0).text());
        }
    }

    @Nested
    class CopyAndAdd {

        @Test
        void copyFields() {
            Instruction.Copy copy = (Instruction.Copy) last(
                    "COPY --from=build --chown=1000:1000 --chmod=755 --parents a b /dst/");
            assertEquals(new Instruction.Copy(List.of("a", "b"), List.of(), "/dst/", "build", "1000:1000", "755",
                    false, true, List.of()), copy);
        }

        @Test
        void addFields() {
            Instruction.Add add = (Instruction.Add) last(
                    "ADD --checksum=sha256:abc --keep-git-dir --unpack=false https://x/y.tgz /opt/");
            assertEquals(List.of("https://x/y.tgz"), add.sources());
            assertEquals("sha256:abc", add.checksum());
            assertTrue(add.keepGitDir());
            assertEquals(Boolean.FALSE, add.unpack());
            assertNull(((Instruction.Add) last("ADD a /b")).unpack());
        }

        @Test
        void checksumIsAnAddOnlyFlag() {
            assertEquals("flag --checksum is not valid for COPY (valid for ADD)",
                    failure("COPY --checksum=sha256:abc a /b").reason());
        }

        @Test
        void heredocSourcesBecomeInlineFiles() {
            Instruction.Copy copy = (Instruction.Copy) last("COPY <<-A b <<B /dst/\n\thello\n\tA\nworld\nB\n");
            assertEquals(List.of("b"), copy.sources());
            assertEquals(List.of("A", "B"), copy.inlineSources().stream().map(Heredoc::name).toList());
            assertEquals(List.of("hello\n", "world\n"), copy.inlineSources().stream().map(Heredoc::text).toList());
        }

        @Test
        void jsonForm() {
            Instruction.Copy copy = (Instruction.Copy) last("COPY [\"a b\", \"/c d/\"]");
            assertEquals(List.of("a b"), copy.sources());
            assertEquals("/c d/", copy.destination());
        }

        @Test
        void needsADestination() {
            assertTrue(failure("COPY onlyone").reason().startsWith("COPY requires at least two arguments"));
        }

        @Test
        void heredocCannotBeTheDestination() {
            assertEquals("ADD cannot accept a heredoc as a destination", failure("ADD a <<EOF\nx\nEOF\n").reason());
        }
    }

    @Nested
    class KeyValues {

        @Test
        void envBothForms() {
            assertEquals(new Instruction.Env(List.of(new KeyValue("A", "b c"))), last("ENV A b c"));
            assertEquals(new Instruction.Env(List.of(new KeyValue("A", "1"), new KeyValue("B", "\"x y\""))),
                    last("ENV A=1 B=\"x y\""));
        }

        @Test
        void labels() {
            assertEquals(new Instruction.Label(List.of(new KeyValue("org.opencontainers.image.title", "\"kiln\""))),
                    last("LABEL org.opencontainers.image.title=\"kiln\""));
        }

        @Test
        void blankNamesAreRejected() {
            assertEquals("ENV names can not be blank", failure("ENV =x").reason());
        }

        @Test
        void argDeclarations() {
            assertEquals(new Instruction.Arg(List.of(new ArgDeclaration("A", null), new ArgDeclaration("B", "\"1 2\""),
                    new ArgDeclaration("C", ""))), last("ARG A B=\"1 2\" C="));
        }
    }

    @Nested
    class Healthcheck {

        @Test
        void none() {
            Instruction.Healthcheck hc = (Instruction.Healthcheck) last("HEALTHCHECK NONE");
            assertTrue(hc.disabled());
            assertEquals(List.of("NONE"), hc.test());
        }

        @Test
        void cmdWithOptions() {
            Instruction.Healthcheck hc = (Instruction.Healthcheck) last(
                    "HEALTHCHECK --interval=1m30s --timeout=5s --start-period=1.5s --start-interval=250ms --retries=4 CMD curl -f http://x/");
            assertEquals(List.of("CMD-SHELL", "curl -f http://x/"), hc.test());
            assertEquals(Duration.ofSeconds(90), hc.interval());
            assertEquals(Duration.ofSeconds(5), hc.timeout());
            assertEquals(Duration.ofMillis(1500), hc.startPeriod());
            assertEquals(Duration.ofMillis(250), hc.startInterval());
            assertEquals(4, hc.retries());
        }

        @Test
        void execFormTest() {
            assertEquals(List.of("CMD", "/bin/check"),
                    ((Instruction.Healthcheck) last("HEALTHCHECK CMD [\"/bin/check\"]")).test());
        }

        @Test
        void invalidUses() {
            assertEquals("Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)", failure("HEALTHCHECK CONNECT x").reason());
            assertEquals("HEALTHCHECK NONE takes no arguments", failure("HEALTHCHECK NONE x").reason());
            assertEquals("Missing command after HEALTHCHECK CMD", failure("HEALTHCHECK CMD").reason());
            assertEquals("Interval \"interval\" cannot be less than 1ms", failure("HEALTHCHECK --interval=10us CMD x").reason());
            assertEquals("time: invalid duration \"soon\"", failure("HEALTHCHECK --timeout=soon CMD x").reason());
            assertEquals("--retries cannot be negative (-1)", failure("HEALTHCHECK --retries=-1 CMD x").reason());
            assertEquals("flag --interval is not valid for RUN (valid for HEALTHCHECK)", failure("RUN --interval=1s x").reason());
        }
    }

    @Nested
    class Others {

        @Test
        void shellMustBeJson() {
            assertEquals(new Instruction.Shell(List.of("/bin/bash", "-c")), last("SHELL [\"/bin/bash\", \"-c\"]"));
            assertEquals("SHELL requires the arguments to be in JSON form", failure("SHELL /bin/bash -c").reason());
        }

        @Test
        void singleArgumentInstructions() {
            assertEquals(new Instruction.User("app:app"), last("USER app:app"));
            assertEquals(new Instruction.Workdir("/src dir"), last("WORKDIR /src dir"));
            assertEquals(new Instruction.StopSignal("SIGTERM"), last("STOPSIGNAL SIGTERM"));
            assertEquals(new Instruction.Maintainer("Me <me@x>"), last("MAINTAINER Me <me@x>"));
            assertEquals("USER requires exactly one argument", failure("USER").reason());
        }

        @Test
        void exposeIsSortedLikeBuildKit() {
            assertEquals(new Instruction.Expose(List.of("$PORTS", "443/tcp", "80")), last("EXPOSE 80 443/tcp $PORTS"));
        }

        @Test
        void volumeForms() {
            assertEquals(new Instruction.Volume(List.of("/a", "/b")), last("VOLUME /a /b"));
            assertEquals(new Instruction.Volume(List.of("/data")), last("VOLUME [\"/data\"]"));
            assertEquals("VOLUME specified can not be an empty string", failure("VOLUME [\" \"]").reason());
        }

        @Test
        void cmdAndEntrypoint() {
            assertEquals(new Instruction.Cmd(new Command.ExecForm(List.of())), last("CMD []"));
            assertEquals(new Instruction.Entrypoint(new Command.ShellForm("exec app")), last("ENTRYPOINT exec app"));
            assertEquals(new Instruction.Entrypoint(new Command.ExecForm(List.of())), last("ENTRYPOINT"));
        }

        @Test
        void onbuildParsesItsTrigger() {
            Instruction.Onbuild ob = (Instruction.Onbuild) last("ONBUILD COPY --from=x a /b");
            assertInstanceOf(Instruction.Copy.class, ob.trigger());
            assertEquals("COPY --from=x a /b", ob.expression());
        }

        @Test
        void onbuildTriggerWithHeredocKeepsTheBodyInItsExpression() {
            Instruction.Onbuild ob = (Instruction.Onbuild) last("ONBUILD RUN <<EOF\necho hi\nEOF\n");
            assertEquals("RUN <<EOF\necho hi\nEOF", ob.expression());
            assertEquals("echo hi\n", ((Instruction.Run) ob.trigger()).heredocs().get(0).content());
        }

        @Test
        void forbiddenOnbuildTriggers() {
            assertEquals("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", failure("ONBUILD ONBUILD RUN x").reason());
            assertEquals("FROM isn't allowed as an ONBUILD trigger", failure("ONBUILD FROM x").reason());
            assertEquals("ONBUILD requires at least one argument", failure("ONBUILD").reason());
        }
    }
}
