package dev.kiln.builder.context;

import dev.kiln.registry.client.TlsTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.HttpsURLConnection;

/**
 * Fetches a context tar or a Dockerfile over HTTP(S), streamed to a file. Plain {@code http://} is
 * refused unless {@code allowPlainHttp} (kaniko's {@code --insecure}); certificate checks are skipped
 * only with {@code skipTlsVerify} ({@code --skip-tls-verify}).
 */
public record Downloads(boolean allowPlainHttp, boolean skipTlsVerify, Duration connectTimeout, Duration readTimeout) {

    public static Downloads of(boolean allowPlainHttp, boolean skipTlsVerify) {
        return new Downloads(allowPlainHttp, skipTlsVerify, Duration.ofSeconds(10), Duration.ofSeconds(60));
    }

    /** GETs {@code url} into {@code target}; returns the number of bytes written. */
    public long download(URI url, Path target, String what) throws ContextException {
        return download(url, Map.of(), target, what);
    }

    /** As {@link #download(URI, Path, String)}, with extra request headers (signatures). */
    long download(URI url, Map<String, String> headers, Path target, String what) throws ContextException {
        String shown = redacted(url);
        if ("http".equals(url.getScheme()) && !allowPlainHttp) {
            throw new ContextException(what + " " + shown + " is plain HTTP; pass --insecure to allow it, or use https://");
        }
        if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme())) {
            throw new ContextException(what + " " + shown + ": only http:// and https:// can be downloaded");
        }
        HttpURLConnection connection = null;
        try {
            connection = (HttpURLConnection) url.toURL().openConnection();
            if (connection instanceof HttpsURLConnection https && skipTlsVerify) {
                https.setSSLSocketFactory(TlsTrust.trustingEverything().getSocketFactory());
                https.setHostnameVerifier(TlsTrust.ANY_HOST);
            }
            if (url.getRawUserInfo() != null) {
                connection.setRequestProperty("Authorization", "Basic " + java.util.Base64.getEncoder().encodeToString(
                        java.net.URLDecoder.decode(url.getRawUserInfo(), java.nio.charset.StandardCharsets.UTF_8)
                                .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            }
            connection.setConnectTimeout((int) connectTimeout.toMillis());
            connection.setReadTimeout((int) readTimeout.toMillis());
            connection.setRequestProperty("User-Agent", "kiln/0.1");
            headers.forEach(connection::setRequestProperty);
            int status = connection.getResponseCode();
            if (status != 200) {
                String detail = errorDetail(connection);
                throw new ContextException(what + " " + shown + ": HTTP " + status + (detail.isEmpty() ? "" : " " + detail));
            }
            try (InputStream in = connection.getInputStream();
                 OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW)) {
                return in.transferTo(out);
            }
        } catch (ContextException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new ContextException("cannot set up TLS for " + shown + ": " + e.getMessage(), e);
        } catch (IOException e) {
            String reason = TlsTrust.untrustedCertificate(e) ? "the TLS certificate is not trusted (" + e.getMessage()
                    + "); pass --skip-tls-verify to skip the check" : e.toString();
            throw new ContextException("cannot download " + what + " " + shown + ": " + reason, e);
        } finally {
            if (connection != null) {
                connection.disconnect();
            }
        }
    }

    /** S3 and friends explain refusals in a small XML body: keep its Code and Message. */
    private static String errorDetail(HttpURLConnection connection) {
        try (InputStream err = connection.getErrorStream()) {
            if (err == null) {
                return "";
            }
            String body = new String(err.readNBytes(8192), java.nio.charset.StandardCharsets.UTF_8);
            String code = xmlElement(body, "Code");
            String message = xmlElement(body, "Message");
            return (code + (message.isEmpty() ? "" : ": " + message)).trim();
        } catch (IOException e) {
            return "";
        }
    }

    private static String xmlElement(String body, String name) {
        int start = body.indexOf("<" + name + ">");
        int end = body.indexOf("</" + name + ">");
        return start < 0 || end < start ? "" : body.substring(start + name.length() + 2, end).trim();
    }

    /** Query strings may carry signatures or tokens: messages show only scheme, host and path. */
    static String redacted(URI url) {
        String port = url.getPort() < 0 ? "" : ":" + url.getPort();
        return url.getScheme() + "://" + url.getHost() + port + (url.getRawPath() == null ? "" : url.getRawPath());
    }
}
