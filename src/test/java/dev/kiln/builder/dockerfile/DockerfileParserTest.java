package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class DockerfileParserTest {

    private static Dockerfile parse(String text) {
        return DockerfileParser.parse(text);
    }

    private static List<String> dump(String text) {
        return parse(text).nodes().stream().map(Node::toBuildKitString).toList();
    }

    private static DockerfileParseException failure(String text) {
        return assertThrows(DockerfileParseException.class, () -> parse(text));
    }

    @Nested
    class Directives {

        @Test
        void readsAllKnownDirectivesCaseInsensitively() {
            Dockerfile df = parse("# syntax=docker/dockerfile:1\n#ESCAPE = `\n# Check=skip=all\nFROM x\n");
            assertEquals("docker/dockerfile:1", df.directives().syntax());
            assertEquals('`', df.directives().escapeChar());
            assertEquals("skip=all", df.directives().check());
        }

        @Test
        void defaultsWhenAbsent() {
            assertEquals(dev.kiln.builder.dockerfile.Directives.DEFAULT, parse("FROM x\n").directives());
        }

        @Test
        void directiveAfterACommentIsJustAComment() {
            Dockerfile df = parse("# hello\n# escape=`\nFROM x\n");
            assertEquals('\\', df.directives().escapeChar());
        }

        @Test
        void directiveAfterABlankLineIsJustAComment() {
            assertEquals('\\', parse("\n# escape=`\nFROM x\n").directives().escapeChar());
        }

        @Test
        void directiveAfterAnInstructionIsJustAComment() {
            assertNull(parse("FROM x\n# syntax=foo\n").directives().syntax());
        }

        @Test
        void unknownDirectiveEndsTheHeader() {
            assertEquals('\\', parse("# foo=bar\n# escape=`\nFROM x\n").directives().escapeChar());
        }

        @Test
        void repeatedDirectiveIsAnError() {
            DockerfileParseException e = failure("# escape=`\n# escape=\\\nFROM x\n");
            assertEquals(2, e.line());
            assertEquals("only one escape parser directive can be used", e.reason());
        }

        @Test
        void invalidEscapeTokenIsAnError() {
            DockerfileParseException e = failure("# escape=x\nFROM x\n");
            assertTrue(e.reason().contains("invalid escape token 'x'"), e.getMessage());
        }
    }

    @Nested
    class EscapeAndContinuation {

        @Test
        void backtickEscapeContinuesLinesAndMakesBackslashLiteral() {
            List<String> nodes = dump("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo done\n");
            assertEquals(List.of("(from \"x\")", "(run \"dir c:\\\\   && echo done\")"), nodes);
        }

        @Test
        void backslashDoesNotContinueWhenEscapeIsBacktick() {
            List<String> nodes = dump("# escape=`\nFROM x\nWORKDIR c:\\\nUSER me\n");
            assertEquals(List.of("(from \"x\")", "(workdir \"c:\\\\\")", "(user \"me\")"), nodes);
        }

        @Test
        void commentsAndBlankLinesInsideAContinuationAreSkipped() {
            assertEquals(List.of("(run \"a   b  c\")"), dump("RUN a \\\n# comment\n\n   \n  b \\\n    # indented\n c\n"));
        }

        @Test
        void escapedEscapeAtEndOfLineDoesNotContinue() {
            assertEquals(List.of("(env \"A\" \"x\\\\\\\\\" \"\")", "(user \"me\")"), dump("ENV A x\\\\\nUSER me\n"));
        }

        @Test
        void whitespaceAfterTheContinuationCharacterIsIgnored() {
            assertEquals(List.of("(run \"a b\")"), dump("RUN a \\ \t\nb\n"));
        }

        @Test
        void continuationAtEndOfFileEndsTheInstruction() {
            assertEquals(List.of("(run \"a\")"), dump("RUN a\\"));
        }

        @Test
        void crlfLineEndingsAndByteOrderMarkAreAccepted() {
            assertEquals(List.of("(from \"x\")", "(run \"a b\")"), dump("\uFEFFFROM x\r\nRUN a \\\r\nb\r\n"));
        }
    }

    @Nested
    class Forms {

        @Test
        void jsonArrayIsExecForm() {
            Node node = parse("CMD [\"a\", \"b c\"]").nodes().get(0);
            assertTrue(node.json());
            assertEquals(List.of("a", "b c"), node.args());
        }

        @Test
        void anythingElseIsShellForm() {
            Node node = parse("CMD echo \"hi\"").nodes().get(0);
            assertFalse(node.json());
            assertEquals(List.of("echo \"hi\""), node.args());
        }

        @Test
        void invalidJsonFallsBackToShellForm() {
            Node node = parse("CMD [\"a\", 'b']").nodes().get(0);
            assertFalse(node.json());
            assertEquals(List.of("[\"a\", 'b']"), node.args());
        }

        @Test
        void jsonWithNonStringElementIsAnError() {
            DockerfileParseException e = failure("FROM x\nCMD [\"a\", 1]\n");
            assertEquals(2, e.line());
        }

        @Test
        void textAfterAJsonArrayIsIgnoredLikeBuildKit() {
            Node node = parse("CMD [\"a\"] trailing").nodes().get(0);
            assertTrue(node.json());
            assertEquals(List.of("a"), node.args());
        }

        @Test
        void copyWithoutJsonSplitsOnWhitespace() {
            assertEquals(List.of("a", "b", "/dst"), parse("COPY a  b\t/dst").nodes().get(0).args());
        }

        @Test
        void jsonEscapesAreDecoded() {
            assertEquals(List.of("a\"b", "\u2603", "\uD83D\uDE00"),
                    parse("CMD [\"a\\\"b\", \"\\u2603\", \"\\ud83d\\ude00\"]").nodes().get(0).args());
        }
    }

    @Nested
    class Flags {

        @Test
        void flagsBeforeArgumentsAreSeparated() {
            Node node = parse("COPY --from=build --link a /b").nodes().get(0);
            assertEquals(List.of("--from=build", "--link"), node.flags());
            assertEquals(List.of("a", "/b"), node.args());
        }

        @Test
        void doubleDashEndsFlags() {
            Node node = parse("COPY --link -- --weird-name /b").nodes().get(0);
            assertEquals(List.of("--link"), node.flags());
            assertEquals(List.of("--weird-name", "/b"), node.args());
        }

        @Test
        void flagValuesMayBeQuoted() {
            assertEquals(List.of("--mount=type=cache,target=/a b"),
                    parse("RUN --mount=\"type=cache,target=/a b\" make").nodes().get(0).flags());
        }

        @Test
        void flagsAfterTheFirstArgumentAreArguments() {
            Node node = parse("RUN echo --not-a-flag").nodes().get(0);
            assertTrue(node.flags().isEmpty());
            assertEquals(List.of("echo --not-a-flag"), node.args());
        }
    }

    @Nested
    class EnvForms {

        @Test
        void legacyFormTakesTheRestOfTheLine() {
            assertEquals(List.of("(env \"A\" \"b c  d\" \"\")"), dump("ENV A b c  d"));
        }

        @Test
        void keyValueFormKeepsQuotesForLaterExpansion() {
            assertEquals(List.of("(env \"A\" \"1\" \"=\" \"B\" \"\\\"x y\\\"\" \"=\")"), dump("ENV A=1 B=\"x y\""));
        }

        @Test
        void keyWithoutValueIsAnError() {
            DockerfileParseException e = failure("FROM x\nENV PATH\n");
            assertEquals("Dockerfile:2:1: ENV must have two arguments", e.getMessage());
        }

        @Test
        void mixingFormsIsAnError() {
            DockerfileParseException e = failure("LABEL a=b c\n");
            assertTrue(e.reason().startsWith("Syntax error - can't find = in \"c\""), e.reason());
        }

        @Test
        void argKeepsWordsAsWritten() {
            assertEquals(List.of("(arg \"A\" \"B=\\\"x y\\\"\")"), dump("ARG A B=\"x y\""));
        }
    }

    @Nested
    class Heredocs {

        @Test
        void runHeredocBodyIsAttachedAndLinesAreCounted() {
            Node node = parse("FROM x\nRUN <<EOF\necho $HOME\nEOF\nUSER me\n").nodes().get(1);
            assertEquals(List.of("<<EOF"), node.args());
            assertEquals(List.of(new Heredoc("EOF", "echo $HOME\n", true, false, 0)), node.heredocs());
            assertEquals(2, node.startLine());
            assertEquals(4, node.endLine());
        }

        @Test
        void dashFormStripsLeadingTabs() {
            Heredoc doc = parse("RUN <<-EOT\n\t\techo a\n\techo b\n\tEOT\n").nodes().get(0).heredocs().get(0);
            assertTrue(doc.chomp());
            assertEquals("\t\techo a\n\techo b\n", doc.content());
            assertEquals("echo a\necho b\n", doc.text());
        }

        @Test
        void quotedDelimiterDisablesExpansion() {
            Node node = parse("RUN <<\"EOF\" <<'EOT' <<E\"O\"F2 <<PLAIN\na\nEOF\nb\nEOT\nc\nEOF2\nd\nPLAIN\n").nodes().get(0);
            assertEquals(List.of("EOF", "EOT", "EOF2", "PLAIN"), node.heredocs().stream().map(Heredoc::name).toList());
            assertEquals(List.of(false, false, false, true), node.heredocs().stream().map(Heredoc::expand).toList());
            assertEquals(List.of("a\n", "b\n", "c\n", "d\n"), node.heredocs().stream().map(Heredoc::content).toList());
        }

        @Test
        void copyHeredocWithDestination() {
            Node node = parse("COPY <<EOF /etc/motd\nhello\nEOF\n").nodes().get(0);
            assertEquals(List.of("<<EOF", "/etc/motd"), node.args());
            assertEquals("hello\n", node.heredocs().get(0).content());
        }

        @Test
        void fileDescriptorPrefixIsRecorded() {
            assertEquals(3, parse("RUN cat 3<<EOF\nx\nEOF\n").nodes().get(0).heredocs().get(0).fileDescriptor());
        }

        @Test
        void execFormAndOtherInstructionsHaveNoHeredocs() {
            Dockerfile df = parse("RUN [\"cat\", \"<<EOF\"]\nCMD cat <<EOF\n");
            assertTrue(df.nodes().get(0).heredocs().isEmpty());
            assertTrue(df.nodes().get(1).heredocs().isEmpty());
        }

        @Test
        void onbuildTriggerMayUseHeredocs() {
            Node node = parse("ONBUILD RUN <<EOF\necho hi\nEOF\n").nodes().get(0);
            assertEquals("echo hi\n", node.heredocs().get(0).content());
        }

        @Test
        void unterminatedHeredocIsAnError() {
            DockerfileParseException e = failure("FROM x\nRUN <<EOF\necho\n");
            assertEquals(2, e.line());
            assertEquals("unterminated heredoc", e.reason());
        }
    }

    @Nested
    class Errors {

        @Test
        void unknownInstructionNamesItWithLineAndColumn() {
            DockerfileParseException e = failure("FROM x\n\n# c\nFOOO bar\n");
            assertEquals("Dockerfile:4:1: unknown instruction: FOOO", e.getMessage());
            assertEquals(4, e.line());
            assertEquals(1, e.column());
        }

        @Test
        void sourceNameIsUsedInMessages() {
            assertTrue(assertThrows(DockerfileParseException.class,
                    () -> DockerfileParser.parse("NOPE", "build/Containerfile")).getMessage()
                    .startsWith("build/Containerfile:1:1:"));
        }

        @Test
        void fileWithoutInstructionsIsAnError() {
            assertEquals("file with no instructions", failure("# only\n\n").reason());
        }
    }

    @Test
    void instructionsAreCaseInsensitiveAndKeepTheirSpelling() {
        Node node = parse("from alpine AS Build").nodes().get(0);
        assertEquals(Keyword.FROM, node.keyword());
        assertEquals("from", node.instruction());
        assertEquals(List.of("alpine", "AS", "Build"), node.args());
    }

    @Test
    void onbuildWrapsAnotherInstruction() {
        assertEquals(List.of("(onbuild (copy [\"--from=a\"] \"x\" \"/y\"))"), dump("ONBUILD COPY --from=a x /y"));
    }

    @Test
    void healthcheckSplitsTypeAndCommand() {
        assertEquals(List.of("(healthcheck [\"--retries=3\"] \"CMD\" \"curl -f x\")"),
                dump("HEALTHCHECK --retries=3 CMD curl -f x"));
    }

    @Test
    void wholeFileDumpEndsWithNewline() {
        assertEquals("(from \"a\")\n(user \"b\")\n", parse("FROM a\nUSER b").toBuildKitString());
    }
}
