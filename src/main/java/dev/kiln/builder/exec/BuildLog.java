package dev.kiln.builder.exec;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.builder.sandbox.LineSink;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The build's progress and problems on one stream, filtered by level as kaniko's
 * {@code --verbosity} does and written as kaniko's {@code --log-format}: {@code text} (a plain line;
 * warnings and errors prefixed, {@code --log-timestamp} puts the time first) or {@code json} (one
 * object per line: {@code level}, {@code msg}, {@code time}). Registered secret values are
 * replaced by {@code ****} in every message, whoever printed them.
 */
public final class BuildLog {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter RFC3339 = DateTimeFormatter.ISO_OFFSET_DATE_TIME.withZone(ZoneOffset.UTC);

    /** kaniko's (logrus's) levels, most severe first. */
    public enum Level {
        PANIC, FATAL, ERROR, WARN, INFO, DEBUG, TRACE;

        public static Level parse(String name) {
            String n = name.toLowerCase(Locale.ROOT);
            if (n.equals("warning")) {
                return WARN;
            }
            for (Level level : values()) {
                if (level.name().toLowerCase(Locale.ROOT).equals(n)) {
                    return level;
                }
            }
            throw new IllegalArgumentException("unknown --verbosity " + name
                    + " (panic, fatal, error, warn, info, debug, trace)");
        }

        /** logrus's names, which kaniko's JSON lines carry: {@code warning}, not {@code warn}. */
        String label() {
            return this == WARN ? "warning" : name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Format {
        TEXT, JSON;

        /** kaniko's {@code color} is text here: Kiln does not colour. */
        public static Format parse(String name) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "text", "color" -> TEXT;
                case "json" -> JSON;
                default -> throw new IllegalArgumentException("unknown --log-format " + name + " (text, color, json)");
            };
        }
    }

    private final PrintStream out;
    private final Format format;
    private final Level threshold;
    private final boolean timestamps;
    private final Clock clock;
    private final List<String> secrets = new ArrayList<>();

    public BuildLog(PrintStream out, Format format, Level threshold, boolean timestamps, Clock clock) {
        this.out = out;
        this.format = format;
        this.threshold = threshold;
        this.timestamps = timestamps;
        this.clock = clock;
    }

    /** Plain text at info, no timestamps: what {@code kiln build} prints by default. */
    public static BuildLog text(PrintStream out) {
        return new BuildLog(out, Format.TEXT, Level.INFO, false, Clock.systemUTC());
    }

    public boolean enabled(Level level) {
        return level.compareTo(threshold) <= 0;
    }

    /**
     * From now on {@code value} (and each of its lines) never appears in a message. Values shorter
     * than four characters are not hidden: masking them would shred ordinary output.
     */
    public synchronized void redact(String value) {
        for (String candidate : (value + "\n" + value.strip()).split("\n")) {
            String v = candidate.strip();
            if (v.length() >= 4 && !secrets.contains(v)) {
                secrets.add(v);
            }
        }
        secrets.sort(Comparator.comparingInt(String::length).reversed());
    }

    public void log(Level level, String message) {
        if (!enabled(level)) {
            return;
        }
        synchronized (this) {
            String msg = message;
            for (String secret : secrets) {
                msg = msg.replace(secret, "****");
            }
            Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
            if (format == Format.JSON) {
                ObjectNode line = JSON.createObjectNode();
                line.put("level", level.label());
                line.put("msg", msg);
                line.put("time", RFC3339.format(now));
                out.println(line.toString());
            } else {
                String prefix = switch (level) {
                    case PANIC, FATAL, ERROR -> "error: ";
                    case WARN -> "warning: ";
                    case INFO -> "";
                    case DEBUG -> "debug: ";
                    case TRACE -> "trace: ";
                };
                out.println((timestamps ? RFC3339.format(now) + " " : "") + prefix + msg);
            }
            out.flush();
        }
    }

    public void error(String message) {
        log(Level.ERROR, message);
    }

    public void warn(String message) {
        log(Level.WARN, message);
    }

    public void info(String message) {
        log(Level.INFO, message);
    }

    public void debug(String message) {
        log(Level.DEBUG, message);
    }

    /** A stream whose every line becomes one message at {@code level} (for code that prints). */
    public PrintStream stream(Level level) {
        return new PrintStream(new LineSink(line -> log(level, line)), true, StandardCharsets.UTF_8);
    }
}
