package dev.kiln.cloud;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * AWS Signature Version 4 for a request without a query string (S3 GETs, JSON-protocol POSTs such as
 * ECR's): canonical request, string to sign, the derived signing key, and the {@code Authorization}
 * header. A body is covered by passing its {@link #sha256Hex} as {@code x-amz-content-sha256}.
 */
public final class SigV4 {
    public static final String EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    /** Static credentials; {@code sessionToken} may be null. */
    public record Credentials(String accessKeyId, String secretAccessKey, String sessionToken) {
        @Override
        public String toString() {
            return "Credentials[" + accessKeyId + "]";
        }
    }

    private SigV4() {
    }

    public static String amzDate(Instant time) {
        return AMZ_DATE.format(time);
    }

    /**
     * The headers to send with a request to {@code url}: {@code x-amz-date}, {@code x-amz-content-sha256},
     * {@code x-amz-security-token} when there is one, and {@code Authorization} signing them, {@code host}
     * and every header in {@code extra}.
     */
    public static Map<String, String> sign(String method, URI url, Map<String, String> extra, Instant time,
                                           String region, String service, Credentials credentials) {
        Map<String, String> headers = new TreeMap<>();
        extra.forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v));
        headers.put("host", hostHeader(url));
        headers.put("x-amz-date", amzDate(time));
        headers.putIfAbsent("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256);
        if (credentials.sessionToken() != null && !credentials.sessionToken().isEmpty()) {
            headers.put("x-amz-security-token", credentials.sessionToken());
        }
        headers.put("authorization", authorization(method, url, headers, region, service, credentials));
        headers.remove("host");
        return headers;
    }

    /** The {@code Authorization} value for the request whose headers (lower-case names, with host and x-amz-date) are given. */
    public static String authorization(String method, URI url, Map<String, String> headers, String region, String service,
                                       Credentials credentials) {
        TreeMap<String, String> sorted = new TreeMap<>(headers);
        sorted.remove("authorization");
        String amzDate = sorted.get("x-amz-date");
        String date = amzDate.substring(0, 8);
        StringBuilder canonicalHeaders = new StringBuilder();
        sorted.forEach((k, v) -> canonicalHeaders.append(k).append(':').append(v.trim().replaceAll(" +", " ")).append('\n'));
        String signedHeaders = String.join(";", sorted.keySet());
        String payloadHash = sorted.getOrDefault("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256);
        String canonicalRequest = method + '\n' + canonicalUri(url) + '\n' + "" + '\n' + canonicalHeaders + '\n'
                + signedHeaders + '\n' + payloadHash;
        String scope = date + "/" + region + "/" + service + "/aws4_request";
        String stringToSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex(sha256(canonicalRequest));
        byte[] key = hmac(("AWS4" + credentials.secretAccessKey()).getBytes(StandardCharsets.UTF_8), date);
        key = hmac(key, region);
        key = hmac(key, service);
        key = hmac(key, "aws4_request");
        String signature = hex(hmac(key, stringToSign));
        return "AWS4-HMAC-SHA256 Credential=" + credentials.accessKeyId() + "/" + scope + ", SignedHeaders="
                + signedHeaders + ", Signature=" + signature;
    }

    /** As {@code HttpURLConnection} sends it: the port only when it is not the scheme's default. */
    static String hostHeader(URI url) {
        int port = url.getPort();
        boolean standard = port < 0 || (port == 443 && "https".equals(url.getScheme()))
                || (port == 80 && "http".equals(url.getScheme()));
        return standard ? url.getHost() : url.getHost() + ":" + port;
    }

    /** S3 encodes the object key once: every byte but unreserved characters and '/'. */
    static String canonicalUri(URI url) {
        String path = url.getPath() == null || url.getPath().isEmpty() ? "/" : url.getPath();
        return encode(path, false);
    }

    /** RFC 3986 percent-encoding of everything but unreserved characters (and '/' unless {@code slash}). */
    public static String encode(String text, boolean slash) {
        StringBuilder out = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !slash)) {
                out.append(c);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    public static String sha256Hex(byte[] body) {
        try {
            return hex(MessageDigest.getInstance("SHA-256").digest(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
