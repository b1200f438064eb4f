package dev.kiln.app.wiring;

import dev.kiln.oci.Digest;
import dev.kiln.registry.client.NetworkFailures;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.client.RegistryEndpoint;
import dev.kiln.registry.client.TlsTrust;
import dev.kiln.registry.client.UpstreamException;
import dev.kiln.registry.mirror.BlobDownloads;
import dev.kiln.registry.mirror.MirrorRoute;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.ProxyOptions;
import io.vertx.core.net.ProxyType;
import io.vertx.core.net.TrustOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The mirror's blob downloads on Vert.x' HTTP client: the upstream's buffers go from the event loop to
 * the fetching thread, which writes them to the store's temp file that waiting clients follow. While
 * more than {@link #HIGH_WATER} bytes wait for the file, the upstream connection is paused, so a slow
 * disk never grows the heap. Auth negotiation stays with {@link RegistryClient} (tokens per scope,
 * Basic credentials); redirects to another host (object storage) are followed without them; TLS trust
 * is the endpoint's; an HTTP(S) proxy set with the JVM's {@code https.proxyHost}/{@code http.proxyHost}
 * properties is used as {@link java.net.HttpURLConnection} would.
 */
final class VertxBlobDownloads implements BlobDownloads {
    static final int HIGH_WATER = 1 << 20;
    static final int LOW_WATER = 256 * 1024;
    private static final int MAX_REDIRECTS = 5;
    private static final String USER_AGENT = "kiln/0.1 (+container-image gateway)";
    private static final Object END = new Object();

    private final Vertx vertx;
    private final Map<String, HttpClient> clients = new ConcurrentHashMap<>();

    VertxBlobDownloads(Vertx vertx) {
        this.vertx = vertx;
    }

    @Override
    public Download open(MirrorRoute route, Digest digest) throws IOException {
        RegistryClient registry = route.upstream();
        RegistryEndpoint endpoint = registry.endpoint();
        HttpClient client = clients.computeIfAbsent(endpoint.name(), name -> newClient(endpoint));
        URI uri = URI.create(endpoint.url() + "/v2/" + route.remoteName() + "/blobs/" + digest);
        for (int attempt = 0; ; attempt++) {
            Answer answer = follow(client, endpoint, uri, registry.authorization(route.remoteName(), "pull"));
            if (answer.status == 200) {
                return answer;
            }
            String challenge = answer.response.getHeader("WWW-Authenticate");
            String retryAfter = answer.response.getHeader("Retry-After");
            byte[] body = answer.readSome(RegistryClient.ERROR_BODY_BYTES);
            answer.close();
            if (answer.status == 401 && attempt == 0 && registry.challenged(challenge, route.remoteName(), "pull")) {
                continue;
            }
            throw registry.failure(answer.status, body, retryAfter, "blob " + digest);
        }
    }

    private Answer follow(HttpClient client, RegistryEndpoint endpoint, URI uri, String authorization) throws IOException {
        URI current = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            boolean sameOrigin = Objects.equals(current.getHost(), uri.getHost()) && current.getPort() == uri.getPort();
            Answer answer = send(client, endpoint, current, sameOrigin ? authorization : null);
            int status = answer.status;
            if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                String location = answer.response.getHeader("Location");
                answer.close();
                if (location == null) {
                    throw new UpstreamException(502, "UNKNOWN", endpoint.name() + " redirected without a Location");
                }
                current = current.resolve(location);
                continue;
            }
            return answer;
        }
        throw new UpstreamException(502, "UNKNOWN", endpoint.name() + " redirected more than " + MAX_REDIRECTS + " times");
    }

    /** Sends one GET and waits for its status and headers; the body is queued from then on, paused when it backs up. */
    private Answer send(HttpClient client, RegistryEndpoint endpoint, URI uri, String authorization) throws IOException {
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(uri.toString())
                .setFollowRedirects(false)
                .setIdleTimeout(endpoint.readTimeout().toMillis())
                .putHeader("User-Agent", USER_AGENT);
        if (authorization != null) {
            options.putHeader("Authorization", authorization);
        }
        Context context = vertx.getOrCreateContext();
        java.util.concurrent.CompletableFuture<Answer> answered = new java.util.concurrent.CompletableFuture<>();
        context.runOnContext(v -> client.request(options).onComplete(created -> {
            if (created.failed()) {
                answered.completeExceptionally(created.cause());
                return;
            }
            HttpClientRequest request = created.result();
            request.send().onComplete(sent -> {
                if (sent.failed()) {
                    answered.completeExceptionally(sent.cause());
                } else {
                    // Handlers are set here, on the event loop, before any body byte can be missed.
                    answered.complete(new Answer(context, request, sent.result(), endpoint.readTimeout().toMillis()));
                }
            });
        }));
        try {
            return answered.get(endpoint.connectTimeout().plus(endpoint.readTimeout()).toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw unreachable(endpoint, uri, e.getCause());
        } catch (TimeoutException e) {
            throw unreachable(endpoint, uri, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for " + endpoint.name(), e);
        }
    }

    private static UpstreamException unreachable(RegistryEndpoint endpoint, URI uri, Throwable e) {
        String hostPort = uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
        if (TlsTrust.untrustedCertificate(e)) {
            return new UpstreamException(endpoint.name() + ": the TLS certificate of " + uri.getHost()
                    + " is not trusted (" + e.getMessage() + ")", e);
        }
        if (NetworkFailures.speaksPlainHttp(e)) {
            return new UpstreamException(endpoint.name() + " answers in plain HTTP, not TLS: to use it over HTTP,"
                    + " pass --insecure-registry " + hostPort, e);
        }
        return new UpstreamException(endpoint.name() + " is unreachable (" + hostPort + "): " + NetworkFailures.reason(e), e);
    }

    private HttpClient newClient(RegistryEndpoint endpoint) {
        HttpClientOptions options = new HttpClientOptions()
                .setConnectTimeout((int) endpoint.connectTimeout().toMillis())
                .setKeepAlive(true)
                .setMaxPoolSize(64)
                .setDecompressionSupported(false)
                .setTryUseCompression(false);
        try {
            if (endpoint.skipTlsVerify()) {
                options.setTrustAll(true).setVerifyHost(false);
            } else if (endpoint.caFile().isPresent()) {
                options.setTrustOptions(TrustOptions.wrap(TlsTrust.trustManagers(endpoint.caFile().get())));
            }
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot set up TLS for " + endpoint.name() + ": " + e.getMessage(), e);
        }
        String scheme = endpoint.url().getScheme();
        String proxyHost = System.getProperty(scheme + ".proxyHost");
        if (proxyHost != null && !proxyHost.isBlank()) {
            int port = Integer.parseInt(System.getProperty(scheme + ".proxyPort", "https".equals(scheme) ? "443" : "80"));
            options.setProxyOptions(new ProxyOptions().setType(ProxyType.HTTP).setHost(proxyHost).setPort(port));
            String nonProxy = System.getProperty("http.nonProxyHosts");
            if (nonProxy != null && !nonProxy.isBlank()) {
                options.setNonProxyHosts(List.of(nonProxy.split("\\|")));
            }
        }
        return vertx.createHttpClient(options);
    }

    void close() {
        clients.values().forEach(HttpClient::close);
    }

    /** An upstream answer whose body is queued for the fetching thread, the connection paused while it backs up. */
    private static final class Answer implements Download {
        private final Context context;
        private final HttpClientRequest request;
        private final HttpClientResponse response;
        private final int status;
        private final LinkedBlockingQueue<Object> chunks = new LinkedBlockingQueue<>();
        private final java.util.concurrent.atomic.AtomicLong queued = new java.util.concurrent.atomic.AtomicLong();
        private final long idleMillis;
        private volatile boolean paused;
        private boolean ended;

        Answer(Context context, HttpClientRequest request, HttpClientResponse response, long idleTimeout) {
            this.context = context;
            this.request = request;
            this.response = response;
            this.status = response.statusCode();
            this.idleMillis = Math.max(1000, idleTimeout);
            response.handler(buffer -> {
                chunks.add(buffer);
                if (queued.addAndGet(buffer.length()) > HIGH_WATER && !paused) {
                    paused = true;
                    response.pause();
                    // The fetching thread may have drained the queue before it could see the pause, and would
                    // then wait for bytes that never come: whichever of us looks last resumes.
                    if (queued.get() < LOW_WATER) {
                        paused = false;
                        response.resume();
                    }
                }
            });
            response.exceptionHandler(chunks::add);
            response.endHandler(v -> chunks.add(END));
        }

        @Override
        public long contentLength() {
            String length = response.getHeader("Content-Length");
            try {
                return length == null ? -1 : Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        @Override
        public ByteBuffer next() throws IOException {
            if (ended) {
                return null;
            }
            Object next;
            try {
                next = chunks.poll(idleMillis, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while downloading", e);
            }
            if (next == null) {
                throw new UpstreamException("the upstream stopped sending for " + idleMillis + " ms", null);
            }
            if (next == END) {
                ended = true;
                return null;
            }
            if (next instanceof Throwable failure) {
                throw new UpstreamException("the upstream broke off: " + NetworkFailures.reason(failure), failure);
            }
            Buffer buffer = (Buffer) next;
            if (queued.addAndGet(-buffer.length()) < LOW_WATER && paused) {
                context.runOnContext(v -> {
                    if (paused) {
                        paused = false;
                        response.resume();
                    }
                });
            }
            return buffer.getByteBuf().nioBuffer();
        }

        @Override
        public boolean ready() {
            return !chunks.isEmpty();
        }

        byte[] readSome(int limit) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try {
                for (ByteBuffer chunk; bytes.size() < limit && (chunk = next()) != null; ) {
                    byte[] part = new byte[Math.min(chunk.remaining(), limit - bytes.size())];
                    chunk.get(part);
                    bytes.writeBytes(part);
                }
            } catch (IOException e) {
                // the status is the answer; its body only adds detail
            }
            return bytes.toByteArray();
        }

        @Override
        public void close() {
            if (!ended) {
                // An unread body is dropped with its connection rather than downloaded for nothing.
                context.runOnContext(v -> request.reset());
            }
            chunks.clear();
        }
    }
}
