package dev.kiln.registry.mirror;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.oci.Digest;
import dev.kiln.oci.RepositoryName;
import dev.kiln.registry.client.RegistryClient;
import dev.kiln.registry.client.RegistryEndpoint;
import dev.kiln.registry.server.BlobLocation;
import dev.kiln.store.BlobStore;
import dev.kiln.store.BlobWriter;
import dev.kiln.store.Store;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cold blob against a stand-in upstream (the JDK's HTTP server) and a store whose commit (fsync,
 * rename) is held back: verified bytes reach the client before the store has kept them, bad ones never.
 */
class BlobMirrorTest {
    private static final byte[] BLOB = new byte[3 << 20];

    static {
        new Random(13).nextBytes(BLOB);
    }

    private static final Digest DIGEST = Digest.sha256(BLOB);

    @TempDir
    Path tmp;
    private HttpServer upstream;
    private volatile byte[] served = BLOB;
    private final CountDownLatch commitMayGo = new CountDownLatch(1);
    private final CountDownLatch commitReached = new CountDownLatch(1);
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private Store store;
    private MirrorService mirror;
    private MirrorRoute route;

    @BeforeEach
    void start() throws IOException {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", exchange -> {
            byte[] body = served;
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        upstream.start();
        route = new MirrorRoute(new RegistryClient(RegistryEndpoint.of("up", "http://127.0.0.1:" + upstream.getAddress().getPort())),
                "team/app", new RepositoryName("up/team/app"));
        Store real = Store.openFilesystem(tmp.resolve("store"));
        store = new Store(real.root(), slowCommits(real.blobs()), real.uploads(), real.metadata(), real.locks(), real.builds());
        mirror = new MirrorService(store, new MirrorStats(), threads, Duration.ofMinutes(5), Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        commitMayGo.countDown();
        upstream.stop(0);
        threads.shutdownNow();
    }

    @Test
    void theLastByteReachesTheClientOnceVerifiedWithoutWaitingForTheStore() throws Exception {
        StreamingBlob blob = assertInstanceOf(StreamingBlob.class, mirror.blob(route, DIGEST));
        Future<byte[]> read = threads.submit(() -> {
            try (InputStream in = blob.body()) {
                return in.readAllBytes();
            }
        });
        assertTrue(commitReached.await(30, TimeUnit.SECONDS), "the fetch never reached the store's commit");
        assertArrayEquals(BLOB, read.get(30, TimeUnit.SECONDS), "the client waited for the store's commit");
        assertFalse(store.blobs().exists(DIGEST), "the store kept the blob before its commit");
        commitMayGo.countDown();
        awaitStored();
        assertInstanceOf(BlobLocation.class, mirror.blob(route, DIGEST), "a later pull is served from the store");
    }

    @Test
    void aCorruptBlobEndsTheClientWithAnErrorAndIsNotKept() throws Exception {
        byte[] corrupt = BLOB.clone();
        corrupt[corrupt.length - 1] ^= 1;
        served = corrupt;
        StreamingBlob blob = assertInstanceOf(StreamingBlob.class, mirror.blob(route, DIGEST));
        try (InputStream in = blob.body()) {
            IOException broken = assertThrows(IOException.class, in::readAllBytes);
            assertTrue(broken.getMessage().contains(DIGEST.toString()), broken.getMessage());
        }
        assertEquals(1, commitReached.getCount(), "a corrupt blob reached the store's commit");
        assertFalse(store.blobs().exists(DIGEST));
    }

    @Test
    void aReaderThatNeedsTheFileWaitsUntilTheStoreHasKeptIt() throws Exception {
        Future<BlobLocation> file = threads.submit(() -> mirror.blobFile(route, DIGEST));
        assertTrue(commitReached.await(30, TimeUnit.SECONDS), "the fetch never reached the store's commit");
        Thread.sleep(200);
        assertFalse(file.isDone(), "blobFile answered before the blob was in the store");
        commitMayGo.countDown();
        assertEquals(BLOB.length, file.get(30, TimeUnit.SECONDS).size());
        assertTrue(store.blobs().exists(DIGEST));
    }

    private void awaitStored() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!store.blobs().exists(DIGEST)) {
            assertTrue(System.nanoTime() < deadline, "the blob never reached the store");
            Thread.sleep(10);
        }
    }

    /** The real store, but every writer's commit waits until the test lets it go. */
    private BlobStore slowCommits(BlobStore real) {
        InvocationHandler writers = (proxy, method, args) -> {
            Object result = invoke(real, method, args);
            if (!method.getName().equals("newWriter")) {
                return result;
            }
            BlobWriter writer = (BlobWriter) result;
            return Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BlobWriter.class}, (p, m, a) -> {
                if (m.getName().equals("commit")) {
                    commitReached.countDown();
                    assertTrue(commitMayGo.await(60, TimeUnit.SECONDS));
                }
                return invoke(writer, m, a);
            });
        };
        return (BlobStore) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BlobStore.class}, writers);
    }

    private static Object invoke(Object target, java.lang.reflect.Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
