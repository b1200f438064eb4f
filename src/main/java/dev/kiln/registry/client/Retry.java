package dev.kiln.registry.client;

import java.io.IOException;
import java.time.Duration;

/**
 * Runs a registry call again after failures that may go away ({@code --image-download-retry},
 * {@code --push-retry}): unreachable, throttled or failing registries and corrupted transfers. A 4xx
 * answer is final. Waits double from {@code firstDelay}.
 */
public record Retry(int retries, Duration firstDelay) {
    public static final Retry NONE = new Retry(0, Duration.ZERO);

    public interface Call<T> {
        T run() throws IOException;
    }

    public <T> T run(Call<T> call) throws IOException {
        long delay = firstDelay.toMillis();
        for (int attempt = 0; ; attempt++) {
            try {
                return call.run();
            } catch (IOException e) {
                if (attempt >= retries || (e instanceof UpstreamException u && !u.transientFailure())) {
                    throw e;
                }
            }
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting to retry", e);
            }
            delay = Math.max(1, delay * 2);
        }
    }
}
