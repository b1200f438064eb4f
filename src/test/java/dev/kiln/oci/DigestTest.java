package dev.kiln.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DigestTest {
    private static final String HELLO = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    @Test
    void sha256OfBytesMatchesTheKnownValue() {
        assertEquals(HELLO, Digest.sha256("hello".getBytes(StandardCharsets.US_ASCII)).toString());
    }

    @Test
    void parseRoundTrips() {
        Digest digest = Digest.parse(HELLO);
        assertEquals("sha256", digest.algorithm());
        assertEquals(HELLO, digest.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "sha256", "sha256:", ":abc", "sha256:ABCDEF", "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824/../x"})
    void malformedDigestsAreRejected(String text) {
        assertThrows(InvalidDigestException.class, () -> Digest.parse(text));
    }

    @Test
    void digesterStreamsAndKeepsGoingAfterADigest() {
        Digester digester = Digester.sha256().update("hel".getBytes(StandardCharsets.US_ASCII));
        digester.digest();
        digester.update("lo".getBytes(StandardCharsets.US_ASCII));
        assertEquals(HELLO, digester.digest().toString());
        assertEquals(5, digester.length());
    }

    @Test
    void sha512IsSupported() {
        Digest digest = Digester.forAlgorithm("sha512").update(new byte[0]).digest();
        assertEquals(128, digest.hex().length());
        assertEquals(digest, Digest.parse(digest.toString()));
    }
}
