package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One-time context tokens: kept hashed, one download at a time, used up only by a complete one. */
class ContextTokensTest {
    private static final String ID = "00000000000000000042";

    @TempDir
    Path store;

    @Test
    void aTokenOpensItsBuildsContextOnceAndOnlyItsHashIsKept() throws Exception {
        BuildFiles files = new BuildFiles(store);
        Files.createDirectories(files.dir(ID));
        Files.writeString(files.context(ID), "context bytes");
        ContextTokens tokens = new ContextTokens(files);
        String token = tokens.issue(ID);
        assertTrue(token.length() >= 40, token);
        assertFalse(Files.readString(files.contextToken(ID)).contains(token), "the token itself is not on disk");

        assertEquals(401, assertThrows(BuildRequestException.class, () -> tokens.open(ID, null)).status());
        assertEquals(403, assertThrows(BuildRequestException.class, () -> tokens.open(ID, token + "x")).status());
        assertEquals(403, assertThrows(BuildRequestException.class, () -> tokens.open("00000000000000000043", token)).status());
        assertEquals(403, assertThrows(BuildRequestException.class, () -> tokens.open("../../etc", token)).status());

        ContextTokens.Download first = tokens.open(ID, token);
        assertEquals(13, first.size());
        assertEquals(403, assertThrows(BuildRequestException.class, () -> tokens.open(ID, token)).status(),
                "one download at a time");
        first.release();
        ContextTokens.Download again = tokens.open(ID, token);
        again.consumed();
        assertFalse(tokens.issued(ID));
        assertFalse(Files.exists(files.context(ID)), "the context goes with the token");
        assertEquals(403, assertThrows(BuildRequestException.class, () -> tokens.open(ID, token)).status());
    }

    @Test
    void issuingAgainReplacesTheEarlierToken() throws Exception {
        BuildFiles files = new BuildFiles(store);
        Files.createDirectories(files.dir(ID));
        Files.writeString(files.context(ID), "x");
        ContextTokens tokens = new ContextTokens(files);
        String old = tokens.issue(ID);
        String fresh = tokens.issue(ID);
        assertNotEquals(old, fresh);
        assertEquals(403, assertThrows(BuildRequestException.class, () -> tokens.open(ID, old)).status());
        tokens.open(ID, fresh).consumed();
    }
}
