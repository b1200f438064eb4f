package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DockerIgnoreTest {

    private static boolean excluded(String ignoreFile, String path) {
        return DockerIgnore.parse(ignoreFile).excluded(path, false);
    }

    @Test
    void commentsBlankLinesAndWhitespaceAreIgnored() {
        DockerIgnore ignore = DockerIgnore.parse("# comment\n\n   \n  *.log  \r\n #not-a-comment\n");
        assertEquals(List.of("*.log", "#not-a-comment"), ignore.patterns());
    }

    @Test
    void patternsAreCleanedAndMadeRelative() {
        assertEquals(List.of("a/b", "c", "!d/e", "/"), DockerIgnore.parse("/a/./b/\n./c\n! /d//e\n/\n").patterns());
    }

    @Test
    void loneExclamationMarkIsAnError() {
        assertThrows(DockerfileException.class, () -> DockerIgnore.parse("!\n"));
    }

    @Test
    void starStaysWithinOneSegment() {
        assertTrue(excluded("*.md", "README.md"));
        assertFalse(excluded("*.md", "docs/README.md"));
        assertTrue(excluded("*/*.md", "docs/README.md"));
    }

    @Test
    void questionMarkMatchesOneCharacter() {
        assertTrue(excluded("file?.txt", "file1.txt"));
        assertFalse(excluded("file?.txt", "file10.txt"));
        assertFalse(excluded("a?b", "a/b"));
    }

    @Test
    void characterClasses() {
        assertTrue(excluded("log[0-9]", "log7"));
        assertFalse(excluded("log[0-9]", "logx"));
        assertTrue(excluded("log[^0-9]", "logx"));
    }

    @Test
    void escapedMetacharactersAreLiteral() {
        assertTrue(excluded("a\\*b", "a*b"));
        assertFalse(excluded("a\\*b", "axb"));
    }

    @Test
    void doubleStarCrossesDirectories() {
        assertTrue(excluded("**/*.go", "main.go"));
        assertTrue(excluded("**/*.go", "a/b/c.go"));
        assertTrue(excluded("src/**/test", "src/test"));
        assertTrue(excluded("src/**/test", "src/a/b/test"));
        assertFalse(excluded("src/**/test", "lib/test"));
        assertTrue(excluded("build/**", "build/x/y"));
        assertTrue(excluded("**", "anything/at/all"));
    }

    @Test
    void leadingDoubleStarWithLiteralTextMatchesAnySuffix() {
        assertTrue(excluded("**/node_modules", "node_modules"));
        assertTrue(excluded("**/node_modules", "web/node_modules"));
    }

    @Test
    void matchingDirectoryExcludesEverythingBelow() {
        assertTrue(excluded("target", "target/classes/A.class"));
        assertTrue(excluded("docs/*", "docs/api/index.html"));
        assertFalse(excluded("target", "src/target.txt"));
    }

    @Test
    void laterPatternsOverrideEarlierOnes() {
        String file = "*.md\n!README.md\n";
        assertTrue(excluded(file, "CHANGES.md"));
        assertFalse(excluded(file, "README.md"));
        assertTrue(excluded(file + "README*\n", "README.md"));
    }

    @Test
    void exceptionReincludesBelowAnExcludedDirectory() {
        DockerIgnore ignore = DockerIgnore.parse("docs\n!docs/keep.txt\n");
        assertTrue(ignore.excluded("docs", true));
        assertTrue(ignore.excluded("docs/other.txt", false));
        assertFalse(ignore.excluded("docs/keep.txt", false));
    }

    @Test
    void inputPathsAreNormalised() {
        DockerIgnore ignore = DockerIgnore.parse("a/b\n");
        assertTrue(ignore.excluded("./a/b", false));
        assertTrue(ignore.excluded("/a//b/", true));
        assertFalse(ignore.excluded(".", true));
    }

    @Test
    void walkingIsNeededOnlyWhereAnExceptionCanReinclude() {
        DockerIgnore ignore = DockerIgnore.parse("build\n!build/dist/**\n");
        assertTrue(ignore.mustWalk("src"), "not excluded");
        assertTrue(ignore.mustWalk("build"), "exception below it");
        assertTrue(ignore.mustWalk("build/dist"), "re-included itself");
        assertFalse(ignore.mustWalk("build/tmp"), "exception cannot match below build/tmp");
    }

    @Test
    void doubleStarExceptionMayReincludeAnywhere() {
        DockerIgnore ignore = DockerIgnore.parse("logs\nnode_modules\n!**/*.keep\n");
        assertTrue(ignore.mustWalk("logs"));
        assertTrue(ignore.mustWalk("node_modules/a"));
        assertFalse(ignore.excluded("logs/x/.keep", false));
    }

    @Test
    void exceptionsBeforeTheExcludingPatternDoNotForceAWalk() {
        DockerIgnore ignore = DockerIgnore.parse("!vendor/keep\nvendor\n");
        assertFalse(ignore.mustWalk("vendor"));
        assertTrue(ignore.excluded("vendor/keep", false));
    }
}
