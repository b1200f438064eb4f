package dev.kiln.oci.layer;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * What a layer records as each entry's modification time. Times are always truncated to whole
 * seconds: sub-second times would need a PAX record per entry and buy nothing in an image.
 *
 * <ul>
 *   <li>{@link #keep()}: the file's own time.</li>
 *   <li>{@link #clampTo(Instant)}: BuildKit's {@code SOURCE_DATE_EPOCH} semantics (its
 *       {@code rewrite-timestamp} option): times newer than the epoch become the epoch, older
 *       ones stay, so files from the base image keep their history while everything the build
 *       touched becomes reproducible. This is Kiln's reproducible mode.</li>
 *   <li>{@link #setTo(Instant)}: kaniko's {@code --reproducible}: every time becomes the epoch
 *       (kaniko uses 1970-01-01).</li>
 * </ul>
 */
public record MtimePolicy(Mode mode, Instant epoch) {
    public enum Mode { KEEP, CLAMP, SET }

    public MtimePolicy {
        Objects.requireNonNull(mode);
        epoch = epoch == null ? Instant.EPOCH : epoch.truncatedTo(ChronoUnit.SECONDS);
    }

    public static MtimePolicy keep() {
        return new MtimePolicy(Mode.KEEP, Instant.EPOCH);
    }

    public static MtimePolicy clampTo(Instant sourceDateEpoch) {
        return new MtimePolicy(Mode.CLAMP, sourceDateEpoch);
    }

    public static MtimePolicy setTo(Instant epoch) {
        return new MtimePolicy(Mode.SET, epoch);
    }

    public Instant apply(Instant mtime) {
        Instant t = mtime.truncatedTo(ChronoUnit.SECONDS);
        return switch (mode) {
            case KEEP -> t;
            case CLAMP -> t.isAfter(epoch) ? epoch : t;
            case SET -> epoch;
        };
    }

    /** The time given to directories the writer adds itself, which have no time of their own. */
    public Instant syntheticTime() {
        return mode == Mode.KEEP ? Instant.EPOCH : epoch;
    }
}
