package dev.kiln.builder.gateway;

import java.time.Duration;

/**
 * What one gateway build may take ({@code kiln.builds.limits.*}).
 *
 * @param timeout         wall-clock time from start to end; the build is cancelled and fails after it
 * @param maxLogBytes     the build log's size; the rest is dropped after one marker line
 * @param maxQueuedPerUser builds one submitter may have queued or running at once (anonymous ones share one count)
 * @param maxUnpackedBytes what an uploaded context may unpack to, tar headers included
 */
public record BuildLimits(Duration timeout, long maxLogBytes, int maxQueuedPerUser, long maxUnpackedBytes) {
    public static final BuildLimits DEFAULT = new BuildLimits(Duration.ofHours(1), 16L << 20, 8, 8L << 30);

    public BuildLimits {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the build timeout must be positive, not " + timeout);
        }
        if (maxLogBytes < 1024) {
            throw new IllegalArgumentException("the build log limit must be at least 1K, not " + maxLogBytes);
        }
        if (maxQueuedPerUser < 1) {
            throw new IllegalArgumentException("each user must be allowed at least one build, not " + maxQueuedPerUser);
        }
    }
}
