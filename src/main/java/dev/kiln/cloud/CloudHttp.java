package dev.kiln.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/** The few JSON calls the token clients make, with timeouts and errors that say who answered what. */
final class CloudHttp {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NEVER).build();

    private CloudHttp() {
    }

    static JsonNode call(String what, String method, URI url, Map<String, String> headers, byte[] body, Duration timeout)
            throws IOException {
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        headers.forEach(request::header);
        HttpResponse<byte[]> response;
        try {
            response = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(what + ": interrupted", e);
        } catch (IOException e) {
            throw new IOException(what + " at " + shown(url) + ": " + e, e);
        }
        String text = new String(response.body(), java.nio.charset.StandardCharsets.UTF_8);
        if (response.statusCode() / 100 != 2) {
            throw new IOException(what + " at " + shown(url) + " answered HTTP " + response.statusCode()
                    + (text.isBlank() ? "" : ": " + text.strip().replaceAll("\\s+", " ").substring(0, Math.min(300, text.strip().length()))));
        }
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new IOException(what + " at " + shown(url) + " answered something that is not JSON", e);
        }
    }

    /** Scheme, host and path: query strings may carry tokens. */
    static String shown(URI url) {
        return url.getScheme() + "://" + url.getHost() + (url.getPort() < 0 ? "" : ":" + url.getPort()) + url.getRawPath();
    }
}
