package dev.kiln.testkit;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.jboss.logmanager.ExtLogRecord;

/**
 * Kiln's own log records while a test runs in the same JVM as the server ({@code @QuarkusTest}):
 * every record of {@code dev.kiln}, with the MDC as it was on the thread that logged.
 */
public final class LogCapture implements AutoCloseable {
    private final Logger logger = Logger.getLogger("dev.kiln");
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            if (record instanceof ExtLogRecord ext) {
                ext.copyMdc();
            }
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private LogCapture() {
        logger.addHandler(handler);
    }

    public static LogCapture start() {
        return new LogCapture();
    }

    /** Every record so far, oldest first. */
    public List<LogRecord> records() {
        return records;
    }

    /** "logger message" of each record at {@code level} or above, the message formatted. */
    public List<String> lines(Level level) {
        return records.stream()
                .filter(r -> r.getLevel().intValue() >= level.intValue())
                .map(r -> r.getLoggerName() + " " + (r instanceof ExtLogRecord ext ? ext.getFormattedMessage() : r.getMessage()))
                .toList();
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
    }
}
