package dev.kiln.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SigV4Test {

    /** The worked "GET Object" example of the S3 SigV4 documentation (also what botocore computes). */
    @Test
    void signsTheDocumentedGetObjectExample() {
        Map<String, String> headers = SigV4.sign("GET", URI.create("https://examplebucket.s3.amazonaws.com/test.txt"),
                Map.of("Range", "bytes=0-9"), Instant.parse("2013-05-24T00:00:00Z"), "us-east-1", "s3",
                new SigV4.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", null));
        assertEquals("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", headers.get("authorization"));
        assertEquals("20130524T000000Z", headers.get("x-amz-date"));
        assertEquals(SigV4.EMPTY_PAYLOAD_SHA256, headers.get("x-amz-content-sha256"));
    }

    @Test
    void keysAreEncodedOnceAndPortsKeptWhenNotDefault() {
        assertEquals("/b/dir/a%20b%2Bc.tar.gz", SigV4.canonicalUri(URI.create("http://h:9000/b/dir/a%20b%2Bc.tar.gz")));
        assertEquals("h:9000", SigV4.hostHeader(URI.create("http://h:9000/x")));
        assertEquals("h", SigV4.hostHeader(URI.create("https://h:443/x")));
    }
}
