package dev.kiln.builder.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class BuildLogTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2025-03-04T05:06:07.890Z"), ZoneOffset.UTC);

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private BuildLog log(BuildLog.Format format, String level, boolean timestamps) {
        return new BuildLog(new PrintStream(out, true, StandardCharsets.UTF_8), format, BuildLog.Level.parse(level),
                timestamps, CLOCK);
    }

    private String written() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void jsonIsOneObjectPerLineWithLevelMessageAndTime() {
        BuildLog log = log(BuildLog.Format.JSON, "info", false);
        log.info("STEP 1/2: FROM \"scratch\"");
        log.warn("careful");
        log.debug("hidden at info");
        assertEquals("""
                {"level":"info","msg":"STEP 1/2: FROM \\"scratch\\"","time":"2025-03-04T05:06:07Z"}
                {"level":"warning","msg":"careful","time":"2025-03-04T05:06:07Z"}
                """, written());
    }

    @Test
    void verbosityKeepsOnlyWhatIsAsSevereAsAsked() {
        BuildLog log = log(BuildLog.Format.TEXT, "warn", false);
        log.info("progress");
        log.warn("w");
        log.error("e");
        log.log(BuildLog.Level.TRACE, "t");
        assertEquals("warning: w\nerror: e\n", written());
        BuildLog trace = log(BuildLog.Format.TEXT, "trace", true);
        trace.log(BuildLog.Level.TRACE, "t");
        assertEquals("warning: w\nerror: e\n2025-03-04T05:06:07Z trace: t\n", written());
        assertThrows(IllegalArgumentException.class, () -> BuildLog.Level.parse("chatty"));
        assertThrows(IllegalArgumentException.class, () -> BuildLog.Format.parse("xml"));
    }

    @Test
    void printedLinesBecomeMessagesAndSecretsAreMasked() {
        BuildLog log = log(BuildLog.Format.TEXT, "info", false);
        log.redact("hunter2-password\nsecond-line-value\n");
        log.redact("abc");
        PrintStream stream = log.stream(BuildLog.Level.INFO);
        stream.print("  | the password is hunter2-password");
        stream.println(" and abc stays");
        stream.printf("  | second-line-value%n");
        assertEquals("  | the password is **** and abc stays\n  | ****\n", written());
    }
}
