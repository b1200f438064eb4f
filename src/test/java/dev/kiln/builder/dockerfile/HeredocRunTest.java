package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RUN and COPY heredocs as BuildKit's Dockerfile frontend treats them (its heredoc tests'
 * shapes); the RUN scripts are run by a real busybox sh, as the RUN's shell would run them.
 */
class HeredocRunTest {
    @TempDir
    Path dir;

    private static Instruction parse(String dockerfile) {
        List<Node> nodes = DockerfileParser.parse("FROM busybox\n" + dockerfile).nodes();
        return InstructionParser.parse(nodes.get(nodes.size() - 1), "Dockerfile");
    }

    private String run(String dockerfile, Map<String, String> env) throws Exception {
        Command command = HeredocRun.command((Instruction.Run) parse(dockerfile.replace("/out", dir.resolve("out").toString())));
        ProcessBuilder pb = new ProcessBuilder("busybox", "sh", "-c", ((Command.ShellForm) command).script()).directory(dir.toFile());
        pb.environment().putAll(env);
        Process p = pb.redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), output);
        return Files.readString(dir.resolve("out"));
    }

    @Test
    void aHeredocIsTheStandardInputOfTheCommandNamedOnTheLine() throws Exception {
        assertEquals("0 world\n1 world\n", run("""
                RUN <<EOF sh
                i=0
                while [ \\$i -lt 2 ]; do echo "\\$i $WHO" >> /out; i=\\$((i+1)); done
                EOF
                """, Map.of("WHO", "world")));
        assertEquals("\"HELLO\" 'WORLD'\n", run("""
                RUN awk '{ print toupper($0) }' <<EOF > /out
                "$GREETING" '$WHO'
                EOF
                """, Map.of("WHO", "world", "GREETING", "hello")));
    }

    @Test
    void aLoneHeredocWithAShebangRunsAsAScriptOfThatInterpreter() throws Exception {
        assertEquals("shebang \"awk\" KILN_SCRIPT\n", run("""
                RUN <<EOF
                #!/bin/awk -f
                BEGIN { print "shebang \\"awk\\" KILN_SCRIPT" > "/out" }
                EOF
                """.replace("/bin/awk", awk()), Map.of()));
    }

    @Test
    void aLoneHeredocWithoutShebangIsTheShellScript() throws Exception {
        assertEquals("i am\n", run("""
                RUN <<EOF
                echo "i am" > /out
                EOF
                """, Map.of()));
    }

    @Test
    void copyHeredocsExpandVariablesOnlyAndKeepQuotesAsBuildKitDoes() {
        Stages stages = Stages.of(DockerfileParser.parse("ARG name=world\nFROM busybox\n"));
        ArgScope scope = ArgScope.global(stages.metaArgs(), Map.of(),
                new BuildPlatforms(Platform.parse("linux/amd64"), Platform.parse("linux/amd64")), stages.expander());
        assertEquals("Hello \"world\" 'world'!\n", inline("COPY <<EOF /q\nHello \"${name}\" '$name'!\nEOF\n").fileContent(scope));
        assertEquals("Hello \"${name}\"!\n", inline("COPY <<'EOF' /q\nHello \"${name}\"!\nEOF\n").fileContent(scope));
        assertEquals("Hello \"${name}\"!\n", inline("COPY <<\"EOF\" /q\nHello \"${name}\"!\nEOF\n").fileContent(scope));
        // BuildKit's testCopyHeredocSpecialSymbols
        assertEquals("$\n", inline("COPY <<EOF /q\n\\$\nEOF\n").fileContent(scope));
        assertEquals("\\\n", inline("COPY <<EOF /q\n\\\\\nEOF\n").fileContent(scope));
        assertEquals("\\$\n", inline("COPY <<\"EOF\" /q\n\\$\nEOF\n").fileContent(scope));
        assertEquals("#!/bin/sh\necho \"quoted $1\"\n", inline("COPY --chmod=0755 <<EOF /s\n#!/bin/sh\necho \"quoted \\$1\"\nEOF\n")
                .fileContent(scope), "the script keeps its double quotes");
    }

    private static Heredoc inline(String copy) {
        return ((Instruction.Copy) parse(copy)).inlineSources().get(0);
    }

    private static String awk() {
        for (String candidate : List.of("/usr/bin/awk", "/bin/awk", "/usr/bin/mawk", "/usr/bin/gawk")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no awk on this machine");
    }
}
