package dev.kiln.builder.exec;

import java.time.Duration;
import java.util.Locale;

/**
 * What a build tells the world while it runs, through one listener: the CLI turns events into
 * {@link BuildLog} lines (and the dry run's plan onto stdout), the gateway into its build log and
 * the record's step list. New kinds of progress become new records here, not new callbacks.
 */
public sealed interface BuildEvent {

    /** A line of the build's log at {@code level}: progress, a RUN's output, a warning. */
    record Message(BuildLog.Level level, String text) implements BuildEvent {
        public static Message info(String text) {
            return new Message(BuildLog.Level.INFO, text);
        }

        public static Message debug(String text) {
            return new Message(BuildLog.Level.DEBUG, text);
        }

        public static Message warn(String text) {
            return new Message(BuildLog.Level.WARN, text);
        }
    }

    /**
     * A step that has run: its stage, its number of {@code total} (FROM is 1), the instruction, how
     * long it took and whether its layer came from the cache instead of running it.
     */
    record StepFinished(String stage, int number, int total, String instruction, Duration duration, boolean cached)
            implements BuildEvent {
        /** The log line kaniko users know: {@code [stage] STEP n/total: INSTRUCTION (cached, 0.12s)}. */
        public String line() {
            return String.format(Locale.ROOT, "[%s] STEP %d/%d: %s (%s%.2fs)", stage, number, total, instruction,
                    cached ? "cached, " : "", duration.toNanos() / 1e9);
        }
    }

    /**
     * {@code --dry-run}: a filesystem step with its cache key (null while an earlier step that
     * missed leaves it unknown) and whether the cache holds it; nothing ran.
     */
    record StepPlanned(String stage, int number, int total, String instruction, boolean hit, String key,
                       boolean cacheable) implements BuildEvent {
        public String line() {
            return String.format(Locale.ROOT, "[%s] STEP %d/%d: %s  %s %s", stage, number, total, instruction,
                    hit ? "HIT " : "MISS", key == null ? "(key known once earlier steps run)"
                            : cacheable ? key : key + " (not cached by policy)");
        }
    }

    /**
     * Bytes moved so far for one blob of a pull or push ({@code total} -1 when unknown). Nothing
     * emits it yet; it is where the registry client's byte progress will arrive.
     */
    record Progress(String subject, long done, long total) implements BuildEvent {
    }
}
