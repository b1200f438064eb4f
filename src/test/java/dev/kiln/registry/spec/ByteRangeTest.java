package dev.kiln.registry.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ByteRangeTest {
    @Test
    void readRanges() {
        assertEquals(new ByteRange(0, 9), ByteRange.forRead("bytes=0-9", 100));
        assertEquals(new ByteRange(90, 99), ByteRange.forRead("bytes=90-", 100));
        assertEquals(new ByteRange(95, 99), ByteRange.forRead("bytes=-5", 100));
        assertEquals(new ByteRange(0, 99), ByteRange.forRead("bytes=-500", 100));
        assertEquals(new ByteRange(50, 99), ByteRange.forRead("bytes=50-1000", 100));
        assertNull(ByteRange.forRead(null, 100));
        assertNull(ByteRange.forRead("bytes=0-1,5-6", 100));
        assertNull(ByteRange.forRead("items=0-1", 100)); // RFC 9110 14.2: a range unit the server does not know is ignored
        assertEquals(new ByteRange(0, 9), ByteRange.forRead("Bytes=0-9", 100));
    }

    @Test
    void unsatisfiableReadRangesSayTheSize() {
        RegistryException e = assertThrows(RegistryException.class, () -> ByteRange.forRead("bytes=100-", 100));
        assertEquals(416, e.status());
        assertEquals("bytes */100", e.headers().get("Content-Range"));
        assertThrows(RegistryException.class, () -> ByteRange.forRead("bytes=5-2", 100));
        assertThrows(RegistryException.class, () -> ByteRange.forRead("bytes=-0", 100));
    }

    @Test
    void chunkRanges() {
        assertEquals(new ByteRange(0, 1023), ByteRange.forChunk("0-1023"));
        assertEquals(new ByteRange(10, 19), ByteRange.forChunk("bytes 10-19/*"));
        assertNull(ByteRange.forChunk(""));
        assertEquals(416, assertThrows(RegistryException.class, () -> ByteRange.forChunk("9-1")).status());
        assertEquals(416, assertThrows(RegistryException.class, () -> ByteRange.forChunk("abc")).status());
    }
}
